package internal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// Function is what an adapter holds from cold start to shutdown: the
// deployer built from the environment, and the platform's log.
type Function struct {
	Platform string
	Deployer *deploy.Deployer
	Log      *Logger
}

// Setup is the cold start shared by every adapter: read the environment
// once, build the deployer, and log one line saying what it will do. An
// invalid configuration is logged as one error line and returned; the
// adapter then exits, so the platform reports a failed start instead of
// failing every invocation.
func Setup(ctx context.Context, platform string, auth connect.AuthMethod, env connect.Env, log *Logger) (*Function, error) {
	return SetupWith(ctx, platform, env, log, &deploy.LoadOptions{DefaultAuth: auth})
}

// SetupWith is Setup with load options: a test build's provider overrides
// (the Cloud SQL connector pointed at fakes). opts.Warn is set to the log.
func SetupWith(ctx context.Context, platform string, env connect.Env, log *Logger, opts *deploy.LoadOptions) (*Function, error) {
	o := *opts
	o.Warn = log.Warn
	cfg, err := deploy.LoadConfig(ctx, env, &o)
	if err != nil {
		log.Error("cold start failed: invalid configuration: " + err.Error())
		return nil, err
	}
	f := &Function{Platform: platform, Log: log}
	f.Deployer = deploy.New(cfg, &deploy.Options{Progress: func(msg string) { log.Debug(msg) }})
	log.Info("pgmi deployer ready: " + cfg.String())
	return f, nil
}

// Run runs one request, logs its outcome line and returns the outcome.
func (f *Function) Run(ctx context.Context, req deploy.Request) *deploy.Outcome {
	if req.Trigger.Platform == "" {
		req.Trigger.Platform = f.Platform
	}
	o := f.Deployer.Run(ctx, req)
	f.Log.Outcome(o)
	return o
}

// Ignore logs an event that is not for the deployer (a test event, a
// deletion) and returns its outcome. No result object is written.
func (f *Function) Ignore(req deploy.Request, reason string) *deploy.Outcome {
	o := &deploy.Outcome{Status: deploy.StatusIgnored, Err: errors.New(reason),
		Report: &deploy.Report{Outcome: deploy.StatusIgnored, Message: reason, Action: req.Action, Platform: f.Platform,
			Source: req.Trigger.Source, EventID: req.Trigger.EventID, InvocationID: req.Trigger.InvocationID,
			Bundle: deploy.BundleInfo{URL: req.Bundle, Version: req.Version}, StartedAt: time.Now().UTC(), FinishedAt: time.Now().UTC()}}
	f.Log.Outcome(o)
	return o
}

// Reject logs an event that cannot be understood. It is acknowledged: the
// same bytes will never parse.
func (f *Function) Reject(invocationID string, err error) *deploy.Outcome {
	o := &deploy.Outcome{Status: deploy.StatusFailed, Err: fmt.Errorf("invalid event: %w", err),
		Report: &deploy.Report{Outcome: deploy.StatusFailed, Message: "invalid event: " + err.Error(), Platform: f.Platform,
			InvocationID: invocationID, ExitCode: 10, StartedAt: time.Now().UTC(), FinishedAt: time.Now().UTC()}}
	f.Log.Outcome(o)
	return o
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
