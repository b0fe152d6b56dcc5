package internal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gocloud.dev/pubsub"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// Function is what an adapter holds from cold start to shutdown: the
// deployer built from the environment, and the platform's log.
type Function struct {
	Platform string
	Deployer *deploy.Deployer
	Log      *slog.Logger // NewHandler's, the platform's JSON lines
}

// Setup is the cold start shared by every adapter: read the environment
// once, build the deployer, and log one line saying what it will do. An
// invalid configuration is logged as one error line and returned; the
// adapter then exits, so the platform reports a failed start instead of
// failing every invocation. An error is worded for a function, configured
// by environment variables alone: a missing connection setting names its
// variable, not the CLI's flag (connect.ForEnvironment).
func Setup(ctx context.Context, platform string, env connect.Env, log *slog.Logger, opts *Options) (*Function, error) {
	if opts == nil {
		opts = &Options{}
	}
	o := opts.LoadOptions
	if o.Log == nil {
		o.Log = log
	}
	cfg, err := deploy.LoadConfig(ctx, env, &o)
	if err == nil {
		err = CheckMargin(cfg.TimeoutMargin, opts.Limit.Timeout, opts.Limit.Setting)
	}
	if err != nil {
		err = connect.ForEnvironment(err)
		log.Error(coldStartFailed + err.Error())
		if cfg != nil {
			_ = cfg.Target.Close()
		}
		return nil, err
	}
	f := &Function{Platform: platform, Log: log}
	f.Deployer = deploy.New(cfg, &deploy.Options{Log: log, Mux: o.Mux, Topics: opts.Topics})
	log.Info("pgmi deployer ready: " + cfg.String())
	return f, nil
}

// Options are what an adapter adds to the environment at cold start.
type Options struct {
	// LoadOptions: DefaultAuth, the platform's own auth method; Mux,
	// which then opens the bundles and result objects too. Log, when
	// nil, is set to the function's log, so configuration warnings and the
	// providers' lines (the AWS SDK's …) are its JSON lines.
	deploy.LoadOptions
	// Topics opens the fleet queue (PGMI_FLEET_TOPIC); nil means gocloud's
	// default mux (the driver the adapter blank-imported).
	Topics *pubsub.URLMux
	// Limit is the platform's time limit per event when the adapter knows
	// it now (a PGMI_TIMEOUT_MARGIN that leaves no time within it is an
	// invalid configuration), the zero Limit otherwise.
	Limit Limit
}

// Limit is a platform's time limit per event.
type Limit struct {
	Timeout time.Duration // 0: unknown at cold start, or unbounded
	Setting string        // what sets it, as messages name it: "CLOUD_RUN_TIMEOUT_SECONDS"
}

// coldStartFailed starts the one ERROR line of a refused cold start.
const coldStartFailed = "cold start failed: invalid configuration: "

// CheckMargin returns a fault.Config error when PGMI_TIMEOUT_MARGIN (margin)
// is not less than the platform's time limit, which setting names: the
// deployer stops margin before the deadline, so every event would fail at
// once. A timeout of 0 (unknown or unbounded) passes.
func CheckMargin(margin, timeout time.Duration, setting string) error {
	if timeout <= 0 || margin < timeout {
		return nil
	}
	return fault.Errorf(fault.Config,
		"PGMI_TIMEOUT_MARGIN (%s) is not less than %s (%s): the deployer stops PGMI_TIMEOUT_MARGIN before the deadline, so no event would get any time; lower PGMI_TIMEOUT_MARGIN or raise %s",
		margin, setting, timeout, setting)
}

// Run runs one request, logs its outcome line and returns the outcome.
func (f *Function) Run(ctx context.Context, req deploy.Request) *deploy.Outcome {
	if req.Trigger.Platform == "" {
		req.Trigger.Platform = f.Platform
	}
	o := f.Deployer.Run(ctx, req)
	LogOutcome(f.Log, o)
	return o
}

// Ignore logs an event that is not for the deployer (a test event, a
// deletion) and returns its outcome. No result object is written.
func (f *Function) Ignore(req deploy.Request, reason string) *deploy.Outcome {
	o := &deploy.Outcome{Status: deploy.StatusIgnored, Err: errors.New(reason),
		Report: &deploy.Report{Outcome: deploy.StatusIgnored, Message: reason, Action: req.Action, Platform: f.Platform,
			Source: req.Trigger.Source, EventID: req.Trigger.EventID, InvocationID: req.Trigger.InvocationID,
			Bundle: deploy.BundleInfo{URL: req.Bundle, Version: req.Version}, StartedAt: time.Now().UTC(), FinishedAt: time.Now().UTC()}}
	LogOutcome(f.Log, o)
	return o
}

// Reject logs an event that cannot be understood. It is acknowledged: the
// same bytes will never parse. The line names the event when err carries
// its id (WithEventID).
func (f *Function) Reject(invocationID string, err error) *deploy.Outcome {
	o := &deploy.Outcome{Status: deploy.StatusFailed, Err: fmt.Errorf("invalid event: %w", err),
		Report: &deploy.Report{Outcome: deploy.StatusFailed, Message: "invalid event: " + err.Error(), Platform: f.Platform,
			InvocationID: invocationID, EventID: EventIDOf(err), ExitCode: exitcode.For(fault.Config), StartedAt: time.Now().UTC(), FinishedAt: time.Now().UTC()}}
	LogOutcome(f.Log, o)
	return o
}

// EventError is an event that cannot be understood, with the id it came
// with (an Event Grid or CloudEvent id, an SQS message id …).
type EventError struct {
	EventID string
	Err     error
}

func (e *EventError) Error() string { return e.Err.Error() }
func (e *EventError) Unwrap() error { return e.Err }

// WithEventID attaches the id of the event err is about; with no id, or no
// error, it returns err unchanged.
func WithEventID(id string, err error) error {
	if id == "" || err == nil {
		return err
	}
	return &EventError{EventID: id, Err: err}
}

// EventIDOf is the event id err carries, "" when none.
func EventIDOf(err error) string {
	var ee *EventError
	if errors.As(err, &ee) {
		return ee.EventID
	}
	return ""
}

// Close releases the deployer's connection provider.
func (f *Function) Close() error { return f.Deployer.Close() }

// RetryError is the error an adapter returns to its platform for a
// retryable outcome (so the event is delivered again), nil otherwise.
func RetryError(o *deploy.Outcome) error {
	if o == nil || !o.Retryable {
		return nil
	}
	return &Retry{Outcome: o}
}

// Retry is a failure worth delivering again.
type Retry struct{ Outcome *deploy.Outcome }

func (r *Retry) Error() string {
	return "retryable: " + r.Outcome.Report.Summary()
}

func (r *Retry) Unwrap() error { return r.Outcome.Err }
