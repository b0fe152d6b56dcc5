package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/pgmi-cloud/pgmi/internal/backoff"
	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// isRollout reports an upload's result that started (or found) a fleet
// rollout rather than deploying one database.
func isRollout(r *deploy.Report) bool {
	return r.Outcome == deploy.StatusStarted || r.RolloutResult != "" && r.Target.Database == ""
}

// rolloutKey is the key of the rollout result of the upload whose result
// got is, in the same bucket.
func rolloutKey(got *awaited, prefix string) string {
	b := got.report.Bundle
	version := b.Version
	if version == "" && len(b.SHA256) >= 12 {
		version = b.SHA256[:12]
	}
	return deploy.RolloutResultName(prefix, got.place.bundleKey, version)
}

// readRolloutOf reads the rollout result beside the upload's result; nil
// while there is none.
func readRolloutOf(ctx context.Context, b **blob.Bucket, got *awaited, prefix string) (*rolloutResult, error) {
	if *b == nil {
		opened, err := blob.OpenBucket(ctx, got.place.bucketURL)
		if err != nil {
			return nil, fault.Wrap(fault.Config, err, "cannot open %s to read results", redactedURL(got.place.bucketURL))
		}
		*b = opened
	}
	return readRolloutResult(ctx, *b, got.place.bucketURL, rolloutKey(got, prefix))
}

// followRollout is publish --wait for an upload that started a rollout:
// the rollout result is read until the rollout is done (or deadline),
// its progress shown on the live line, and its outcome printed. Exit code:
// 0 when every target deployed; the halted rollout's exit code (13 for a
// failed deploy.sql); 13 when it was aborted, or completed within its
// failure budget with failed targets; 17 when it is still running at the
// deadline.
func followRollout(ctx context.Context, s streams, got *awaited, rf resultFlags, deadline time.Time) error {
	r := got.report
	fmt.Fprintf(s.err, "%s: %s\n", quoteName(r.Bundle.Key), escapeLine(r.Message))
	prefix := rf.resultsPrefix(s)
	var b *blob.Bucket
	defer func() {
		if b != nil {
			b.Close()
		}
	}()
	live := newLiveLine(s)
	start := time.Now()
	var last *rolloutResult
	err := waitPolicy.Poll(ctx, deadline, func() (bool, error) {
		cur, err := readRolloutOf(ctx, &b, got, prefix)
		if errors.Is(err, errNotResult) {
			return false, nil // caught mid-write: read it again
		}
		if err != nil || cur == nil {
			return false, err
		}
		last = cur
		live.show("%s", progressLine(cur.rep, time.Since(start)))
		return cur.rep.Done(), nil
	})
	live.done()
	switch {
	case errors.Is(err, backoff.ErrDeadline) && last != nil:
		printRollout(s.err, last.rep)
		return fault.Errorf(fault.Unreported, "rollout %d is still %s at the end of --wait-timeout: %d deployed, %d failed, %d pending "+
			"(pgmi rollout status %s follows it)", last.rep.Rollout, last.rep.Status, last.rep.Deployed, last.rep.Failed, last.rep.Pending,
			quoteName(redactedURL(r.Bundle.URL)))
	case errors.Is(err, backoff.ErrDeadline):
		return fault.Errorf(fault.Unreported, "no rollout result at %s within --wait-timeout (the deployer started the rollout: pgmi rollout status follows it)",
			got.place.bucketURL+"/"+rolloutKey(got, prefix))
	case err != nil:
		return err
	}
	return rolloutOutcome(s, last, rf.json)
}

// progressLine is the live line of a rollout being followed.
func progressLine(r *deploy.RolloutReport, waited time.Duration) string {
	return fmt.Sprintf("rollout %d %s: wave %d of %d, %d deployed, %d failed, %d pending of %d (%s)",
		r.Rollout, r.Status, r.Wave, len(r.Waves), r.Deployed, r.Failed, r.Pending, r.Total, waited.Round(time.Second))
}

// rolloutOutcome prints a finished rollout and returns its exit code for
// publish --wait.
func rolloutOutcome(s streams, got *rolloutResult, asJSON bool) error {
	if asJSON {
		fmt.Fprintln(s.out, strings.TrimRight(string(got.raw), "\n"))
	}
	r := got.rep
	printRollout(s.err, r)
	fmt.Fprintf(s.err, "rollout result: %s\n", quoteName(got.where))
	code := rolloutExitCode(r)
	switch {
	case r.Status == "aborted":
		fmt.Fprintf(s.err, "pgmi: error: rollout %d was aborted (pgmi rollout abort): %d of %d target(s) deployed; pgmi rollout resume continues it\n",
			r.Rollout, r.Deployed, r.Total)
	case r.Status == "halted":
		fmt.Fprintf(s.err, "pgmi: error: rollout %d halted: %s\n", r.Rollout, escapeLine(failedNames(r)))
	case r.Failed > 0:
		fmt.Fprintf(s.err, "pgmi: error: rollout %d completed within its failure budget, but %s\n", r.Rollout, escapeLine(failedNames(r)))
		code = r.FailedTargets()[0].ExitCode
		if code == 0 {
			code = exitcode.For(fault.Execution)
		}
	}
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}

// failedNames says which targets failed, and the first one's error.
func failedNames(r *deploy.RolloutReport) string {
	failed := r.FailedTargets()
	if len(failed) == 0 {
		return r.Message
	}
	names := make([]string, 0, len(failed))
	for _, t := range failed {
		names = append(names, t.Database)
	}
	return fmt.Sprintf("%d target(s) failed (%s); %s: %s", len(failed), strings.Join(names, ", "), failed[0].Database, fault.Redact(failed[0].Error))
}

// statusOfRollout is pgmi status for an upload that started a rollout:
// the upload's result, then the rollout's state; the exit code is the
// rollout's (as pgmi rollout status).
func statusOfRollout(ctx context.Context, s streams, got *awaited, prefix string, asJSON bool) error {
	if asJSON {
		fmt.Fprintln(s.out, strings.TrimRight(string(got.raw), "\n"))
	}
	fmt.Fprintf(s.err, "%s: %s: %s\n", quoteName(got.report.Bundle.Key), got.report.Outcome, escapeLine(got.report.Message))
	fmt.Fprintf(s.err, "result: %s\n", quoteName(got.where))
	printResultDetails(s, got.report)
	var b *blob.Bucket
	roll, err := readRolloutOf(ctx, &b, got, prefix)
	if b != nil {
		b.Close()
	}
	if err != nil {
		return err
	}
	if roll == nil {
		return fault.Errorf(fault.Unreported, "no rollout result yet at %s", got.place.bucketURL+"/"+rolloutKey(got, prefix))
	}
	printRollout(s.err, roll.rep)
	fmt.Fprintf(s.err, "rollout result: %s\n", quoteName(roll.where))
	if code := rolloutExitCode(roll.rep); code != 0 {
		return exitError{code: code}
	}
	return nil
}
