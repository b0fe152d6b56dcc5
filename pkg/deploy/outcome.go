package deploy

import (
	"context"
	"errors"
	"strconv"
	"time"

	"gocloud.dev/gcerrors"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// finish completes the report, writes the result object and builds the
// Outcome. ctx is the platform's context, not the shortened one: the result
// is written inside the margin.
func (r *run) finish(ctx context.Context, status Status, err error) *Outcome {
	o := &Outcome{Status: status, Err: err, Report: r.rep}
	now := time.Now()
	r.rep.Outcome, r.rep.FinishedAt, r.rep.DurationMS = status, now.UTC(), now.Sub(r.start).Milliseconds()
	if err != nil {
		o.Retryable = status == StatusFailed && retryable(err)
		r.rep.Retryable = o.Retryable
		r.rep.Message = engine.Redact(err.Error())
		if status == StatusFailed {
			r.rep.ExitCode = engine.ExitCode(err)
		}
	}
	if status == StatusDuplicate && r.rep.Previous != nil {
		r.rep.Message = "already " + r.rep.Previous.Status + " (ledger row " + strconv.FormatInt(r.rep.Previous.ID, 10) + ")"
	}
	if status == StatusStale && r.rep.Previous != nil {
		r.rep.Message = "a newer upload of this key (sequencer " + r.rep.Previous.Sequencer + ") was already " + r.rep.Previous.Status
	}
	if !r.resultOK {
		return o
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.d.resultTimeout(ctx))
	defer cancel()
	o.ResultURL, o.ResultErr = r.d.writeResult(wctx, r.bucket, r.bucketURL, r.rep)
	return o
}

// resultTimeout leaves the result write what remains before the
// platform's deadline, at most 10 s.
func (d *Deployer) resultTimeout(ctx context.Context) time.Duration {
	t := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < t {
			t = max(left, time.Second)
		}
	}
	return t
}

func codeOf(err error) gcerrors.ErrorCode {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return gcerrors.DeadlineExceeded
	}
	c := gcerrors.Code(err)
	if c == gcerrors.OK || c == gcerrors.Unknown {
		return gcerrors.InvalidArgument
	}
	return c
}
