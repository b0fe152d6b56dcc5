package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"gocloud.dev/pubsub"

	"github.com/pgmi-cloud/pgmi/internal/backoff"
	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/pgserver"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// localFlags are pgmi local's flags.
type localFlags struct {
	conn           connect.Flags
	bucket         string
	trustedSigners string
	allowUnsigned  bool
	resetAllow     string
	interval       time.Duration
	once           bool
	verbose        bool
}

func newLocalCommand(s streams) *cobra.Command {
	var f localFlags
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run the function pipeline on this machine: watch a folder and deploy every bundle dropped into it",
		Long: `pgmi local is the upload-triggered deployer on one machine. A folder stands in for
the bucket: every bundle (.tar.gz, .tgz, .zip) written into it, at any depth, goes
through the same pipeline as the cloud functions (verify the signature, lock,
ledger, deploy, result object under pgmi-results/ in the folder). A retryable
failure (a lost session, a busy lock, a timeout) is delivered again up to 3
times, after 1 s, 2 s and 4 s, as the platforms would.

A file is picked up once it is complete: unchanged between two looks and an
archive that ends (a gzip stream with its trailer, a zip with its central
directory), so a writer may pause. Write bundles under a hidden name (.app.tgz,
or a name without a bundle extension) and rename them into place: hidden files
and folders are skipped. Bundles found in the same look are deployed in the
order they arrived (modification time, then name), so 1.9 then 1.10 leaves
1.10.

Without connection settings (flags, PGMI_CONNECTION_STRING, DATABASE_URL or
PGHOST) it starts a throwaway PostgreSQL from the installed binaries and stops
it on exit; otherwise it deploys to that server. The target database is -d or
PGDATABASE (default "app"), created when missing; PGMI_ROUTES and the other
PGMI_* variables of the functions apply.

A route that names a fleet ({"prefix":"tenants/","fleet":{…}}) starts a rollout
per upload; pgmi local serves its fleet queue in-process (PGMI_FLEET_TOPIC,
default mem://pgmi-fleet) with as many workers as the largest fleet
concurrency, prints each target's outcome, and with --once waits until every
rollout it started is done (exit code: the first halted rollout's, 13 for a
failed deploy.sql). The in-process queue ends with pgmi local: see pgmi
rollout resume.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.verbose = verboseFlag(cmd) // the global -v/--verbose
			l := &localRun{s: s, f: f}
			return l.run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.Bool("help", false, "help for local") // frees -h for --host
	fl.StringVar(&f.conn.ConnString, "connection", "", "connection string of an existing server; default: start a throwaway one")
	fl.StringVarP(&f.conn.Host, "host", "h", "", "database host of an existing server (PGHOST)")
	fl.IntVarP(&f.conn.Port, "port", "p", 0, "database port (PGPORT)")
	fl.StringVarP(&f.conn.User, "username", "U", "", "database user (PGUSER)")
	fl.StringVarP(&f.conn.Database, "database", "d", "", "target database (PGDATABASE, default app)")
	fl.StringVar(&f.bucket, "bucket", "pgmi-bucket", "the folder that stands in for the bucket (created when missing)")
	fl.StringVar(&f.trustedSigners, "trusted-signers", "", "allowed_signers file (or PGMI_TRUSTED_SIGNERS); bundles must be signed by one of these keys")
	fl.BoolVar(&f.allowUnsigned, "allow-unsigned", false, "deploy bundles without checking their signature (PGMI_ALLOW_UNSIGNED)")
	fl.StringVar(&f.resetAllow, "reset-allow", "", "databases a reset may drop and recreate (PGMI_RESET_ALLOW)")
	fl.DurationVar(&f.interval, "interval", 500*time.Millisecond, "how often to look at the folder")
	fl.BoolVar(&f.once, "once", false, "deploy what is in the folder now, then exit (exit code of the first failure); a file still incomplete after 20 polls without change fails")
	return cmd
}

type localRun struct {
	s     streams
	f     localFlags
	root  string
	seen  map[string]fileStamp
	fleet *fleetServer // nil without fleet routes
	outMu sync.Mutex   // fleet workers print too
}

type fileStamp struct {
	size       int64
	modTime    time.Time
	since      time.Time // when this size and time were first seen
	stable     bool      // unchanged on two looks and a complete archive: the writer is done
	incomplete bool      // unchanged on two looks, but the archive does not end yet
	told       bool      // "still being written" was printed for this file
	done       bool
}

// onceWaitPolls is how many polls --once waits for an incomplete file to
// change before it reports the file and gives up on it.
const onceWaitPolls = 20

// printf prints one line; whatever would break it (a newline or escape
// sequence in a file name, a message or a setting) is escaped.
func (l *localRun) printf(format string, args ...any) {
	line := escapeLine(fmt.Sprintf(format, args...))
	l.outMu.Lock()
	defer l.outMu.Unlock()
	fmt.Fprintln(l.s.out, line)
}

func (l *localRun) run(ctx context.Context) error {
	if l.f.interval <= 0 {
		return usageError{errorf("--interval %s: how often to look at the folder must be more than 0", l.f.interval)}
	}
	root, err := filepath.Abs(l.f.bucket)
	if err != nil {
		return fault.Wrap(fault.Config, err, "--bucket")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fault.Wrap(fault.Config, err, "creating the bucket folder")
	}
	l.root, l.seen = root, map[string]fileStamp{}
	env, stop, err := l.environment(ctx)
	if err != nil {
		return err
	}
	defer stop()
	// Configuration warnings print as "warning: …"; with --verbose the
	// pipeline's lines print indented, its warnings as "  warning: …".
	warnings := newLineLogger(slog.LevelWarn, "", func(text string) { l.printf("%s", text) })
	cfg, err := deploy.LoadConfig(ctx, env, &deploy.LoadOptions{Flags: l.f.conn, Log: warnings})
	if err != nil {
		return err
	}
	var progress *slog.Logger
	if l.f.verbose {
		progress = newLineLogger(slog.LevelDebug, "", func(text string) {
			for _, line := range strings.Split(text, "\n") {
				l.printf("  %s", line)
			}
		})
	}
	topics := fleetTopics(cfg.FleetTopic)
	d := deploy.New(cfg, &deploy.Options{Log: progress, Topics: topics})
	defer d.Close()
	l.printf("pgmi local: watching %s for bundles (.tar.gz, .tgz, .zip); results go to %s", root, filepath.Join(root, cfg.ResultsPrefix))
	l.printf("pgmi local: deploying to %s", cfg)
	if d.FleetConcurrency() == 0 {
		return l.watch(ctx, d)
	}
	stopFleet, err := l.serveFleet(ctx, d, topics)
	if err != nil {
		return err
	}
	defer stopFleet()
	return l.watch(ctx, d)
}

// serveFleet runs the fleet queue's worker beside the folder watcher; stop
// ends it and waits for the targets in flight.
func (l *localRun) serveFleet(ctx context.Context, d *deploy.Deployer, topics *pubsub.URLMux) (stop func(), err error) {
	cfg := d.Config()
	q, err := openFleetQueue(ctx, topics, cfg.FleetTopic, cfg.Timeout+time.Minute)
	if err != nil {
		return nil, err
	}
	l.fleet = newFleetServer(d, l.f.once, l.printf)
	l.printf("pgmi local: serving the fleet queue %s with %d worker(s)", cfg.FleetTopic, d.FleetConcurrency())
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := l.fleet.serve(wctx, q); err != nil {
			l.printf("failed: %v", err)
		}
	}()
	return func() { cancel(); <-done; q.close() }, nil
}

// environment is the process environment with pgmi local's flags on top,
// and a throwaway cluster when nothing names a server.
func (l *localRun) environment(ctx context.Context) (connect.Env, func(), error) {
	over := map[string]string{}
	if l.f.trustedSigners != "" {
		data, err := os.ReadFile(l.f.trustedSigners)
		if err != nil {
			return nil, nil, fault.Wrap(fault.Config, err, "cannot read --trusted-signers")
		}
		over["PGMI_TRUSTED_SIGNERS"] = string(data)
	}
	if l.f.allowUnsigned {
		over["PGMI_ALLOW_UNSIGNED"] = "true"
	}
	if l.f.resetAllow != "" {
		over["PGMI_RESET_ALLOW"] = l.f.resetAllow
	}
	if _, ok := l.s.env("PGMI_BUCKET_URL_PARAMS"); !ok {
		over["PGMI_BUCKET_URL_PARAMS"] = "metadata=skip" // no .attrs files beside the results
	}
	if l.f.conn.Database == "" && l.s.getenv("PGDATABASE") == "" {
		over["PGDATABASE"] = "app"
	}
	if l.s.getenv("PGMI_FLEET_TOPIC") == "" {
		over["PGMI_FLEET_TOPIC"] = localFleetTopic // served in-process (fleet routes only)
	}
	env := func(k string) (string, bool) {
		if v, ok := over[k]; ok {
			return v, true
		}
		return l.s.env(k)
	}
	if l.namesServer() {
		return env, func() {}, nil
	}
	l.printf("pgmi local: no server named (--connection, PGMI_CONNECTION_STRING, DATABASE_URL, PGHOST); starting a throwaway PostgreSQL")
	cluster, err := pgserver.Start(ctx)
	if err != nil {
		return nil, nil, fault.Wrap(fault.Connection, err, "starting a local PostgreSQL (install the server binaries, e.g. make deps, or name a server with --connection)")
	}
	db := l.f.conn.Database
	if db == "" {
		db, _ = env("PGDATABASE")
	}
	l.f.conn.ConnString = cluster.ConnString(db)
	l.printf("pgmi local: PostgreSQL %s:%d is up (data in %s, removed on exit)", cluster.Host(), cluster.Port(), cluster.DataDir())
	l.printf("pgmi local:   psql %q", cluster.ConnString(db))
	stop := func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(l.s.err, err)
		}
	}
	return env, stop, nil
}

func (l *localRun) namesServer() bool {
	if l.f.conn.ConnString != "" || l.f.conn.Host != "" {
		return true
	}
	for _, k := range []string{"PGMI_CONNECTION_STRING", "DATABASE_URL", "PGHOST"} {
		if l.s.getenv(k) != "" {
			return true
		}
	}
	return false
}

// watch polls the folder until ctx ends (or once, with --once).
func (l *localRun) watch(ctx context.Context, d *deploy.Deployer) error {
	firstCode := 0
	fail := func(err error) {
		if firstCode == 0 {
			firstCode = exitcode.Of(err)
		}
	}
	for {
		ready, err := l.scan(d.Config().ResultsPrefix)
		if err != nil {
			return err
		}
		for _, key := range ready {
			if o := l.deployFile(ctx, d, key); o.Status == deploy.StatusFailed {
				fail(o.Err)
			}
		}
		if l.f.once {
			for _, err := range l.giveUp() {
				fail(err)
			}
		}
		if l.f.once && len(ready) == 0 && l.settled() {
			if done, code := l.fleetSettled(); done {
				if firstCode == 0 {
					firstCode = code
				}
				if firstCode != 0 {
					return exitError{code: firstCode}
				}
				return nil
			}
		}
		if backoff.Sleep(ctx, l.f.interval) != nil {
			l.printf("pgmi local: stopped")
			if firstCode == exitcode.For(fault.Canceled) {
				return exitError{code: firstCode} // a deploy was interrupted (130)
			}
			return nil
		}
	}
}

// fleetSettled reports whether the rollouts this run started are done, and
// the exit code of the first that did not complete.
func (l *localRun) fleetSettled() (bool, int) {
	if l.fleet == nil {
		return true, 0
	}
	return l.fleet.settled()
}

// settled reports that every file seen has been handled.
func (l *localRun) settled() bool {
	for _, st := range l.seen {
		if !st.done {
			return false
		}
	}
	return true
}

// giveUp ends --once's wait for files that stayed incomplete, unchanged,
// for onceWaitPolls polls: each is reported as failed and not deployed.
func (l *localRun) giveUp() []error {
	var errs []error
	for _, key := range l.sortedKeys() {
		st := l.seen[key]
		if st.done || !st.incomplete || time.Since(st.since) < onceWaitPolls*l.f.interval {
			continue
		}
		err := fault.Errorf(fault.Config, "%s is incomplete and has not changed for %s; not deployed", quoteName(key), time.Since(st.since).Round(100*time.Millisecond))
		l.printf("failed: %v", err)
		st.done = true
		l.seen[key] = st
		errs = append(errs, err)
	}
	return errs
}

// scan returns the keys of bundles that are new or changed and complete (see
// look), in arrival order: by modification time, then by name.
func (l *localRun) scan(resultsPrefix string) ([]string, error) {
	var ready []string
	present := map[string]bool{}
	err := filepath.WalkDir(l.root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(l.root, path)
		key := filepath.ToSlash(rel)
		if e.IsDir() {
			if path != l.root && (strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(key+"/", resultsPrefix)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !isBundleFile(e.Name()) || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(key, resultsPrefix) {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		present[key] = true
		if l.look(key, path, info) {
			ready = append(ready, key)
		}
		return nil
	})
	for key := range l.seen {
		if !present[key] {
			delete(l.seen, key) // removed: --once does not wait for it
		}
	}
	sort.Slice(ready, func(i, j int) bool {
		a, b := l.seen[ready[i]].modTime, l.seen[ready[j]].modTime
		if !a.Equal(b) {
			return a.Before(b)
		}
		return ready[i] < ready[j]
	})
	return ready, err
}

// look records one sighting of a bundle file and reports whether it is
// ready: unchanged since the last look (size and modification time) and a
// complete archive. A file that stopped changing half-written (its writer
// paused) is said to be waiting, once, and looked at again when it changes.
func (l *localRun) look(key, path string, info fs.FileInfo) bool {
	st, ok := l.seen[key]
	if !ok || st.size != info.Size() || !st.modTime.Equal(info.ModTime()) {
		l.seen[key] = fileStamp{size: info.Size(), modTime: info.ModTime(), since: time.Now(), told: st.told && !st.done}
		return false
	}
	if st.stable || st.incomplete {
		return false
	}
	missing, complete := archiveComplete(path)
	if !complete {
		st.incomplete = true
		if !st.told {
			l.printf("waiting: %s is still being written (%s); it is deployed once complete. "+
				"Write bundles under a hidden name (.name) and rename them into place", quoteName(key), missing)
			st.told = true
		}
		l.seen[key] = st
		return false
	}
	st.stable = true
	l.seen[key] = st
	return true
}

func (l *localRun) sortedKeys() []string {
	keys := make([]string, 0, len(l.seen))
	for k := range l.seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// localRetries is how often pgmi local delivers a bundle again after a
// retryable failure (a lost session, a busy lock, a timeout), as the
// platforms' retries would: after 1 s, 2 s and 4 s.
const localRetries = 3

// localRetryPolicy spaces redeliveries of a failed file: 1 s, 2 s, 4 s.
var localRetryPolicy = backoff.Policy{Base: time.Second, Factor: 2}

func (l *localRun) deployFile(ctx context.Context, d *deploy.Deployer, key string) *deploy.Outcome {
	st := l.seen[key]
	bucket := "file://" + filepath.ToSlash(l.root)
	req := deploy.Request{Action: deploy.ActionDeploy, Bucket: bucket, Bundle: bucket + "/" + key,
		Sequencer: deploy.DecimalSequencer(fmt.Sprint(st.modTime.UnixNano())),
		Trigger:   deploy.Trigger{Platform: "local", Source: "folder", Time: st.modTime}}
	l.printf("picked up %s (%d bytes)", quoteName(key), st.size)
	var o *deploy.Outcome
	for attempt := 1; ; attempt++ {
		o = d.Run(ctx, req)
		l.printOutcome(o)
		if o.Status == deploy.StatusStarted && l.fleet != nil {
			l.fleet.follow(o.Rollout, o.Report.RolloutResult)
		}
		if o.Status != deploy.StatusFailed || !o.Retryable || attempt > localRetries || ctx.Err() != nil {
			break
		}
		wait := localRetryPolicy.Delay(attempt - 1)
		l.printf("  delivering it again in %s (retry %d of %d)", wait, attempt, localRetries)
		_ = backoff.Sleep(ctx, wait) // a stop ends the loop after the next Run reports it
	}
	st.done = true
	l.seen[key] = st
	return o
}

func (l *localRun) printOutcome(o *deploy.Outcome) {
	line := o.Report.Summary()
	if key := o.Report.Bundle.Key; key != "" && quoteName(key) != key {
		line = strings.ReplaceAll(line, key, quoteName(key))
	}
	if o.Report.DurationMS > 0 && o.Status == deploy.StatusDeployed {
		line += fmt.Sprintf(" in %.1fs", float64(o.Report.DurationMS)/1000)
	}
	l.printf("%s", line)
	if o.ResultURL != "" {
		l.printf("  result: %s", quoteName(strings.TrimPrefix(o.ResultURL, "file://")))
	}
	if o.Report.RolloutResult != "" {
		l.printf("  rollout result: %s", quoteName(strings.TrimPrefix(o.Report.RolloutResult, "file://")))
	}
	if o.ResultErr != nil {
		l.printf("  warning: the result object was not written: %v", o.ResultErr)
	}
}
