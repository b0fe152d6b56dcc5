package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"gocloud.dev/blob"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

func newStatusCommand(s streams) *cobra.Command {
	var f resultFlags
	var version string
	cmd := &cobra.Command{
		Use:   "status <bundle URL>",
		Short: "Show what the deployer did with an uploaded bundle: its result object",
		Long: "Read the result object a deployer (a cloud function, or pgmi local) wrote next to the bundle at\n" +
			"s3://, gs://, azblob:// or file:// URL: the outcome, target, signer, attempts, durations and the error.\n" +
			"Without --bundle-version the newest result of any version is shown. The exit code is the deploy's\n" +
			"(0 deployed, 13 deploy.sql failed, 10 refused or not routed), 17 when there is no result yet.\n" +
			"For an upload that started a fleet rollout it also shows the rollout, and exits as pgmi rollout status.",
		Args: exactArgs(1, "<bundle URL>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return reportPlain(s, status(cmd.Context(), s, args[0], version, f))
		},
	}
	cmd.Flags().StringVar(&version, "bundle-version", "", "the object version whose result to show (S3 versionId, GCS generation, Azure ETag)")
	f.addPrefixFlag(cmd.Flags())
	cmd.Flags().BoolVar(&f.json, "json", false, "print the result object on stdout")
	return cmd
}

// readPlaces are where pgmi status and pgmi rollout status look for the
// results of objectURL (at version, "" for any), under the results prefix
// they return; a URL that is no blob URL is a usage error.
func readPlaces(s streams, objectURL, version string, f resultFlags) ([]resultPlace, string, error) {
	if !isBundleURL(objectURL) {
		return nil, "", usageError{errorf("%q is not a blob URL (s3://, gs://, azblob://, file://)", objectURL)}
	}
	prefix := f.resultsPrefix(s)
	places, err := resultPlaces(objectURL, prefix, version, "")
	if err != nil {
		return nil, "", usageError{err}
	}
	return places, prefix, nil
}

func status(ctx context.Context, s streams, objectURL, version string, f resultFlags) error {
	places, prefix, err := readPlaces(s, objectURL, version, f)
	if err != nil {
		return err
	}
	var got *awaited
	if version != "" {
		got, err = firstResult(ctx, places)
	} else {
		got, err = newestResult(ctx, places, prefix)
	}
	if err != nil {
		return err
	}
	if got == nil {
		what := redactedURL(objectURL) + versionFlag(version)
		return fault.Errorf(fault.Unreported, "no result for %s under %q yet: no deployer has reported on it (or its results go elsewhere: --results-prefix)", what, prefix)
	}
	if isRollout(got.report) {
		return statusOfRollout(ctx, s, got, prefix, f.json)
	}
	printResult(s, got, f.json)
	printResultDetails(s, got.report)
	if code := resultExitCode(got.report); code != 0 {
		return exitError{code: code}
	}
	return nil
}

// firstResult reads the exact result name at each place, nearest first.
func firstResult(ctx context.Context, places []resultPlace) (*awaited, error) {
	for _, p := range places {
		var b *blob.Bucket
		got, err := readResult(ctx, &b, p)
		if b != nil {
			b.Close()
		}
		if got != nil || err != nil {
			return got, err
		}
	}
	return nil, nil
}

// newestResult lists the deploy results of the bundle's key, every version,
// at each place and returns the one that finished last. Resets
// (….reset.json) are not deploys of the bundle and are left out.
func newestResult(ctx context.Context, places []resultPlace, prefix string) (*awaited, error) {
	var newest *awaited
	for _, p := range places {
		// The key the result names are built on: the exact name minus its
		// version tag and ".json" (resultPlaces built it with version "").
		base := strings.TrimSuffix(p.key, ".unknown.json") + "."
		got, err := scanResults(ctx, p, base)
		if err != nil {
			return nil, err
		}
		if got != nil && (newest == nil || got.report.FinishedAt.After(newest.report.FinishedAt)) {
			newest = got
		}
	}
	return newest, nil
}

func scanResults(ctx context.Context, p resultPlace, base string) (*awaited, error) {
	b, err := blob.OpenBucket(ctx, p.bucketURL)
	if err != nil {
		return nil, fault.Wrap(fault.Config, err, "cannot open %s to read results", redactedURL(p.bucketURL))
	}
	defer b.Close()
	var newest *awaited
	it := b.List(&blob.ListOptions{Prefix: base, Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return newest, nil
		}
		if err != nil {
			return nil, fault.Wrap(fault.Connection, err, "cannot list results in %s", redactedURL(p.bucketURL))
		}
		if obj.IsDir || !strings.HasSuffix(obj.Key, ".json") || strings.HasSuffix(obj.Key, ".reset.json") {
			continue
		}
		got, err := readResult(ctx, &b, resultPlace{bucketURL: p.bucketURL, key: obj.Key, bundleKey: p.bundleKey})
		if errors.Is(err, errNotResult) {
			continue // not a result object: somebody else's file
		}
		if err != nil {
			return nil, err
		}
		r := got.report
		if r.Rollout != 0 && r.Target.Database != "" {
			continue // a fleet target's result, not the upload's
		}
		// base also lists the results of longer keys (app/1.tgz.old).
		if r.Action == deploy.ActionDeploy && r.Bundle.Key == p.bundleKey && (newest == nil || r.FinishedAt.After(newest.report.FinishedAt)) {
			newest = got
		}
	}
}

// printResultDetails adds what status shows beyond the summary.
func printResultDetails(s streams, r *deploy.Report) {
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(s.err, "  %-9s %s\n", k+":", escapeLine(v))
		}
	}
	b := r.Bundle
	line("bundle", strings.TrimSpace(b.URL+" "+versionFlag(b.Version)))
	if b.Name != "" {
		line("release", strings.TrimSpace(b.Name+" "+b.Release))
	}
	line("sha256", b.SHA256)
	if b.Signer != nil {
		line("signer", b.Signer.Principals+" ("+b.Signer.Fingerprint+")")
	}
	t := r.Target
	if t.Database != "" {
		where := t.Database
		if t.Host != "" {
			where = fmt.Sprintf("%s:%d/%s", t.Host, t.Port, t.Database)
		}
		if t.User != "" {
			where += " as " + t.User
		}
		if t.Auth != "" {
			where += " (" + t.Auth + ")"
		}
		line("target", where)
	}
	if r.Attempt > 0 {
		att := fmt.Sprintf("%d", r.Attempt)
		if r.ResumedAfterUnits > 0 {
			att += fmt.Sprintf(" (resumed after %d committed unit(s))", r.ResumedAfterUnits)
		}
		line("attempt", att)
	}
	if !r.StartedAt.IsZero() {
		line("ran", fmt.Sprintf("%s, %.2fs", r.StartedAt.UTC().Format("2006-01-02 15:04:05 MST"), float64(r.DurationMS)/1000))
	}
	line("trigger", strings.TrimSpace(strings.Join([]string{r.Platform, r.Source, r.InvocationID}, " ")))
	line("outcome", string(r.Outcome)+retryNote(r))
	if r.Outcome != deploy.StatusFailed {
		line("message", r.Message)
	}
}

func retryNote(r *deploy.Report) string {
	if r.Retryable {
		return " (retryable: the platform delivers it again)"
	}
	return ""
}
