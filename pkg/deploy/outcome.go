package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// finish completes the report, writes the result object and builds the
// Outcome. ctx is the platform's context, not the shortened one: the result
// is written inside the margin.
func (r *run) finish(ctx context.Context, status Status, err error) *Outcome {
	err = withPrivilegeHint(err)
	o := &Outcome{Status: status, Err: err, Report: r.rep}
	now := time.Now()
	r.rep.Outcome, r.rep.FinishedAt, r.rep.DurationMS = status, now.UTC(), now.Sub(r.start).Milliseconds()
	if err != nil {
		o.Retryable = status == StatusFailed && retryable(err)
		r.rep.Retryable = o.Retryable
		r.rep.Message = fault.Redact(err.Error())
		if status == StatusFailed {
			r.rep.ExitCode = exitcode.Of(err)
		}
	}
	if r.redeliver != nil {
		o.Retryable, r.rep.Retryable = true, true
		r.rep.Message = strings.TrimPrefix(r.rep.Message+"; "+r.redeliver.Error(), "; ")
		o.Err = errors.Join(o.Err, r.redeliver)
	}
	if r.rollout != nil && r.resultOK {
		o.Rollout = r.rollout
		r.rep.RolloutResult = r.bucketURL + "/" + RolloutResultName(r.d.cfg.ResultsPrefix, r.key, rolloutVersion(r.rollout))
	}
	r.rep.fromPrevious()
	if r.recorded != "" {
		o.ResultURL, o.ResultKept = r.recorded, true
		return o
	}
	if !r.resultOK {
		if r.req.Bundle == "" {
			o.ResultErr = errNoBucket
		}
		return o
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.d.resultTimeout(ctx))
	defer cancel()
	o.ResultURL, o.ResultKept, o.ResultErr = r.d.writeResult(wctx, r.bucket, r.bucketURL, r.rep)
	return o
}

// privilegeHint follows a server's "permission denied" (SQLSTATE 42501):
// the deployer's role lacks a privilege deploy.sql needs, which is a
// question of its grants, not of the bundle.
const privilegeHint = "the deploying role lacks this privilege: grant it, or run infra/sql with the grant profile " +
	"that does (profile objects: CREATE on the database and in schema public; profile roles: CREATEROLE; see infra/sql/README.md)"

func withPrivilegeHint(err error) error {
	var pgErr *pgconn.PgError
	if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		return err
	}
	return fmt.Errorf("%w (%s)", err, privilegeHint)
}

// fromPrevious completes a duplicate's or a stale report from the ledger
// row that made it one. A duplicate reads as that row's outcome, so the
// duplicate of a failure never reads as a success.
func (rep *Report) fromPrevious() {
	p := rep.Previous
	if p == nil {
		return
	}
	switch rep.Outcome {
	case StatusDuplicate:
		rep.Message = "already " + p.Status + " (ledger row " + strconv.FormatInt(p.ID, 10) + ")"
		if p.Status == ledgerFailed {
			rep.ExitCode, rep.Retryable = p.ExitCode, p.Retryable
			if rep.ExitCode == 0 {
				// A row an older version wrote without its exit code:
				// pgmi's code for an unclassified failure stands in.
				rep.ExitCode = exitcode.For(fault.Internal)
			}
			rep.Message += ": " + fault.Redact(p.Error)
		}
	case StatusStale:
		rep.Message = "a newer upload of this key (sequencer " + p.Sequencer + ") was already " + p.Status
	}
}

// errNoBucket: a request that names no bundle has nowhere to put its
// result, unless it is a reset that found one in the database's ledger.
var errNoBucket = errors.New("no result object: the request names no bundle (nor, for a reset, does the database's ledger), so there is no bucket to write it to")

// writeResult stores the report under ResultName in the bundle's bucket:
// b, already open, or the bucket opened anew when b is nil. A run that
// executed (a ledger attempt, the first or a takeover) replaces what is
// there, and so does an outcome whose bundle was never identified (its
// version is "unknown"); any other outcome (duplicate, stale, ignored, a
// failure before the ledger row) is written only where no result is yet,
// and otherwise leaves the standing one in place (kept).
func (d *Deployer) writeResult(ctx context.Context, b *blob.Bucket, bucketURL string, r *Report) (url string, kept bool, err error) {
	if bucketURL == "" || r.Bundle.Key == "" {
		return "", false, errNoBucket
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", false, err
	}
	if b == nil {
		if b, err = d.openBucket(ctx, bucketURL); err != nil {
			return "", false, err
		}
		defer b.Close()
	}
	key := ResultName(d.cfg.ResultsPrefix, r)
	onlyNew := r.Attempt == 0 && resultVersion(r) != unknownVersion
	err = upload(ctx, b, key, append(data, '\n'), onlyNew)
	if onlyNew && gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return bucketURL + "/" + key, true, nil
	}
	if err != nil {
		return "", false, err
	}
	return bucketURL + "/" + key, false, nil
}

// upload writes data to key, when onlyNew only if nothing is there
// (IfNotExist: a conditional write on every service, so two deliveries
// cannot race past a check). It goes through Bucket.Upload, never WriteAll
// or a Writer's Write: after a failed upload (a reader-only role, a rotated
// key, a deleted container) gocloud v0.47's azureblob writer dereferences a
// nil pipe in Close. A panic of any driver becomes an error all the same:
// the outcome it would hide has already happened.
func upload(ctx context.Context, b *blob.Bucket, key string, data []byte, onlyNew bool) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the storage driver failed writing %s: %v", key, p)
		}
	}()
	return b.Upload(ctx, key, bytes.NewReader(data), &blob.WriterOptions{ContentType: "application/json", IfNotExist: onlyNew})
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
