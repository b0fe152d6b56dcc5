package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/pgmi-cloud/pgmi/internal/backoff"
	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// defaultWaitTimeout bounds publish --wait.
const defaultWaitTimeout = 15 * time.Minute

// waitPolicy spaces the reads of a result object: 0.5 s growing to 5 s.
var waitPolicy = backoff.Policy{Base: 500 * time.Millisecond, Factor: 1.5, Max: 5 * time.Second, Jitter: 0.1}

// resultFlags say where a deployer writes its result objects.
type resultFlags struct {
	prefix string // --results-prefix; "" means PGMI_RESULTS_PREFIX, else deploy.DefaultResultsPrefix
	json   bool
}

// addPrefixFlag defines --results-prefix, which pgmi publish, status and
// rollout status read results under.
func (f *resultFlags) addPrefixFlag(fs *pflag.FlagSet) {
	fs.StringVar(&f.prefix, "results-prefix", "", "where the deployer writes results in the bucket (PGMI_RESULTS_PREFIX; default "+deploy.DefaultResultsPrefix+")")
}

func (f resultFlags) resultsPrefix(s streams) string {
	if f.prefix != "" {
		return f.prefix
	}
	if p := s.getenv("PGMI_RESULTS_PREFIX"); p != "" {
		return p
	}
	return deploy.DefaultResultsPrefix
}

// resultPlace is one object a deployer may have written the result of an
// upload to: a bucket, and the result's key in it.
type resultPlace struct {
	bucketURL string // with the object URL's query parameters
	key       string
	bundleKey string // the bundle's key in that bucket
}

// resultPlaces lists where the result of the bundle at objectURL (version,
// or for a store without versions its SHA-256) is written: in the bundle's
// bucket under prefix. A file:// URL does not say which folder a deployer
// (pgmi local --bucket D) watches, so every enclosing folder is a
// candidate, nearest first.
func resultPlaces(objectURL, prefix, version, sha string) ([]resultPlace, error) {
	u, err := url.Parse(objectURL)
	if err != nil {
		return nil, err
	}
	name := func(key string) string {
		return deploy.ResultName(prefix, &deploy.Report{Action: deploy.ActionDeploy,
			Bundle: deploy.BundleInfo{Key: key, Version: version, SHA256: sha}})
	}
	bucketURL := func(host, dir string) string {
		b := url.URL{Scheme: u.Scheme, Host: host, Path: dir, RawQuery: u.RawQuery}
		return b.String()
	}
	if u.Scheme != "file" {
		key := strings.TrimPrefix(u.Path, "/")
		if u.Host == "" || key == "" {
			return nil, fmt.Errorf("%s names no bucket and key", redactedURL(objectURL))
		}
		return []resultPlace{{bucketURL(u.Host, ""), name(key), key}}, nil
	}
	var out []resultPlace
	dir, key := path.Split(u.Path)
	for dir = path.Clean(dir); ; dir = path.Dir(dir) {
		out = append(out, resultPlace{bucketURL("", dir), name(key), key})
		if dir == "/" || dir == "." {
			return out, nil
		}
		key = path.Base(dir) + "/" + key
	}
}

// errNotResult: an object where a result should be holds something else.
var errNotResult = errors.New("not a pgmi result object")

// redactedURL is an object URL without its query (which may carry
// credentials or endpoints), for messages.
func redactedURL(objectURL string) string {
	u, err := url.Parse(objectURL)
	if err != nil {
		return "the URL"
	}
	u.RawQuery, u.User = "", nil
	return u.String()
}

// awaited is what waiting for a result came to.
type awaited struct {
	report *deploy.Report
	raw    []byte // the result object as stored
	where  string // its URL, for messages
	place  resultPlace
}

// awaitResult polls the places until one holds a final result or timeout
// passes. A retryable failure is not final: the platform delivers the event
// again, and the run that then executes replaces the result, so the wait
// goes on (and ends on that failure if nothing replaces it in time).
func awaitResult(ctx context.Context, s streams, places []resultPlace, what string, timeout time.Duration) (*awaited, error) {
	buckets := make([]*blob.Bucket, len(places))
	defer func() {
		for _, b := range buckets {
			if b != nil {
				b.Close()
			}
		}
	}()
	start := time.Now()
	live := newLiveLine(s)
	defer live.done()
	var last *awaited
	err := waitPolicy.Poll(ctx, start.Add(timeout), func() (bool, error) {
		live.show("waiting %s for the deployer's result for %s", time.Since(start).Round(time.Second), what)
		for i, p := range places {
			got, err := readResult(ctx, &buckets[i], p)
			if errors.Is(err, errNotResult) {
				continue // caught mid-write by a store without atomic writes: read it again
			}
			if err != nil {
				return false, err
			}
			if got == nil {
				continue
			}
			last = got
			return !got.report.Retryable, nil
		}
		return false, nil
	})
	switch {
	case err == nil:
		return last, nil
	case errors.Is(err, backoff.ErrDeadline) && last != nil:
		return last, nil // a retryable failure nothing replaced in time
	case errors.Is(err, backoff.ErrDeadline):
		return nil, fault.Errorf(fault.Unreported, "no result for %s within %s: no deployer reported on this upload "+
			"(is the function subscribed to the bucket, and its route matching the key? did it fail to start? see its logs; "+
			"pgmi status shows a result that comes later)", what, timeout)
	}
	return nil, err
}

// readResult reads p's result object, opening its bucket on first use; nil
// when there is none yet.
func readResult(ctx context.Context, b **blob.Bucket, p resultPlace) (*awaited, error) {
	if *b == nil {
		opened, err := blob.OpenBucket(ctx, p.bucketURL)
		if err != nil {
			return nil, fault.Wrap(fault.Config, err, "cannot open %s to read results", redactedURL(p.bucketURL))
		}
		*b = opened
	}
	data, err := (*b).ReadAll(ctx, p.key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, nil
	}
	where := strings.TrimSuffix(redactedURL(p.bucketURL), "/") + "/" + p.key
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fault.Wrap(fault.Connection, err, "cannot read the result %s", where)
	}
	var rep deploy.Report
	if err := json.Unmarshal(data, &rep); err != nil || rep.Outcome == "" {
		return nil, fault.Wrap(fault.Config, errNotResult, "%s", where)
	}
	return &awaited{report: &rep, raw: data, where: where, place: p}, nil
}

// resultExitCode is the exit code that stands for a result: the deploy's
// own (0 for a success or the duplicate of one), and the configuration
// code for an upload the deployer did not deploy (no route, stale).
func resultExitCode(r *deploy.Report) int {
	switch r.Outcome {
	case deploy.StatusIgnored, deploy.StatusStale:
		return exitcode.For(fault.Config)
	case deploy.StatusFailed:
		if r.ExitCode == 0 {
			return exitcode.For(fault.Internal)
		}
	}
	return r.ExitCode
}

// printResult prints a result the way pgmi deploy prints a deployment: the
// summary line, then for a failure the error with its server fields and
// position; --json prints the object itself on stdout.
func printResult(s streams, a *awaited, asJSON bool) {
	if asJSON {
		fmt.Fprintln(s.out, strings.TrimRight(string(a.raw), "\n"))
	}
	r := a.report
	ok, failed := "✓", "✗"
	if _, set := s.env("NO_COLOR"); set {
		ok, failed = "ok", "FAILED"
	}
	db, secs := r.Target.Database, float64(r.DurationMS)/1000
	if d, isNum := r.Deploy["durationMs"].(float64); isNum {
		secs = d / 1000
	}
	what := quoteName(r.Bundle.Key)
	if r.Bundle.Version != "" {
		what += " (" + r.Bundle.Version + ")"
	}
	switch code := resultExitCode(r); {
	case r.Outcome == deploy.StatusDeployed:
		line := fmt.Sprintf("%s %s: deployed %s", ok, db, what)
		if n, isNum := r.Deploy["filesLoaded"].(float64); isNum {
			line += fmt.Sprintf(", %d files loaded", int(n))
		}
		fmt.Fprintf(s.err, "%s in %.2fs\n", line, secs)
	case code == 0:
		fmt.Fprintf(s.err, "%s %s: %s %s: %s\n", ok, db, what, r.Outcome, escapeLine(r.Message))
	case r.Outcome == deploy.StatusFailed:
		line := fmt.Sprintf("%s %s: %s failed after %.2fs", failed, db, what, secs)
		if r.Retryable {
			line += " (retryable: the platform delivers it again)"
		}
		fmt.Fprintln(s.err, line)
		resultErrorLines(s, r)
	default:
		fmt.Fprintf(s.err, "%s %s: %s %s: %s\n", failed, db, what, r.Outcome, escapeLine(r.Message))
	}
	fmt.Fprintf(s.err, "result: %s\n", quoteName(a.where))
}

// resultErrorLines prints a failed result's error: the deploy envelope's
// server fields and position when the deploy ran, else the message.
func resultErrorLines(s streams, r *deploy.Report) {
	env := r.Deploy
	str := func(k string) string { v, _ := env[k].(string); return v }
	msg := str("error")
	if msg == "" {
		msg = r.Message
	}
	fmt.Fprintf(s.err, "pgmi: error: %s\n", escapeLine(fault.Redact(msg)))
	for _, f := range [][2]string{{"DETAIL", "detail"}, {"HINT", "hint"}, {"WHERE", "where"}} {
		if v := str(f[1]); v != "" {
			fmt.Fprintf(s.err, "%s: %s\n", f[0], escapeLine(v))
		}
	}
	if file := str("failedFile"); file != "" {
		fmt.Fprintf(s.err, "FILE: %s\n", quoteName(file))
	}
	line, hasLine := env["line"].(float64)
	col, _ := env["column"].(float64)
	if !hasLine {
		return
	}
	loc := fmt.Sprintf("LOCATION: deploy.sql line %d, column %d", int(line), int(col))
	if expanded, _ := env["scriptExpanded"].(bool); expanded {
		loc += " (of the expanded script: pgmi_test() macros shift line numbers relative to the file on disk)"
	}
	fmt.Fprintln(s.err, loc)
	prefix := fmt.Sprintf("LINE %d: ", int(line))
	fmt.Fprintf(s.err, "%s%s\n", prefix, escapeLine(str("sourceLine")))
	fmt.Fprintf(s.err, "%s^\n", strings.Repeat(" ", max(len(prefix)+int(col)-1, 0)))
}

// liveLine rewrites one status line on a terminal; elsewhere it prints
// nothing, so logs of CI jobs stay clean.
type liveLine struct {
	s     streams
	shown bool
}

func newLiveLine(s streams) *liveLine { return &liveLine{s: s} }

func (l *liveLine) show(format string, args ...any) {
	if !l.s.interactive {
		return
	}
	fmt.Fprintf(l.s.err, "\r\033[K"+format, args...)
	l.shown = true
}

func (l *liveLine) done() {
	if l.shown {
		fmt.Fprint(l.s.err, "\r\033[K")
	}
}
