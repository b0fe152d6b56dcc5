package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
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

Without connection settings (flags, PGMI_CONNECTION_STRING, DATABASE_URL or
PGHOST) it starts a throwaway PostgreSQL from the installed binaries and stops
it on exit; otherwise it deploys to that server. The target database is -d or
PGDATABASE (default "app"), created when missing; PGMI_ROUTES and the other
PGMI_* variables of the functions apply.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
	fl.BoolVar(&f.once, "once", false, "deploy what is in the folder now, then exit (exit code of the first failure)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print the engine's progress and server notices")
	return cmd
}

type localRun struct {
	s    streams
	f    localFlags
	root string
	seen map[string]fileStamp
}

type fileStamp struct {
	size    int64
	modTime time.Time
	stable  bool // seen unchanged on two looks: the writer is done
	done    bool
}

func (l *localRun) printf(format string, args ...any) {
	fmt.Fprintf(l.s.out, format+"\n", args...)
}

func (l *localRun) run(ctx context.Context) error {
	root, err := filepath.Abs(l.f.bucket)
	if err != nil {
		return engine.Wrap(engine.KindConfig, err, "--bucket")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return engine.Wrap(engine.KindConfig, err, "creating the bucket folder")
	}
	l.root, l.seen = root, map[string]fileStamp{}
	env, stop, err := l.environment()
	if err != nil {
		return err
	}
	defer stop()
	cfg, err := deploy.LoadConfig(ctx, env, &deploy.LoadOptions{Flags: l.f.conn, Warn: func(m string) { l.printf("warning: %s", m) }})
	if err != nil {
		return err
	}
	progress := func(string) {}
	if l.f.verbose {
		progress = func(msg string) { l.printf("  %s", msg) }
	}
	d := deploy.New(cfg, &deploy.Options{Progress: progress})
	defer d.Close()
	l.printf("pgmi local: watching %s for bundles (.tar.gz, .tgz, .zip); results go to %s", root, filepath.Join(root, cfg.ResultsPrefix))
	l.printf("pgmi local: deploying to %s", cfg)
	return l.watch(ctx, d)
}

// environment is the process environment with pgmi local's flags on top,
// and a throwaway cluster when nothing names a server.
func (l *localRun) environment() (connect.Env, func(), error) {
	over := map[string]string{}
	if l.f.trustedSigners != "" {
		data, err := os.ReadFile(l.f.trustedSigners)
		if err != nil {
			return nil, nil, engine.Wrap(engine.KindConfig, err, "cannot read --trusted-signers")
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
	cluster, stop, err := testpg.StartMain()
	if err != nil {
		return nil, nil, engine.Wrap(engine.KindConnection, err, "starting a local PostgreSQL (install the server binaries, e.g. make deps, or name a server with --connection)")
	}
	db := l.f.conn.Database
	if db == "" {
		db, _ = env("PGDATABASE")
	}
	l.f.conn.ConnString = cluster.ConnString(db)
	l.printf("pgmi local: PostgreSQL %s:%d is up (data in %s, removed on exit)", cluster.Host(), cluster.Port(), cluster.DataDir())
	l.printf("pgmi local:   psql %q", cluster.ConnString(db))
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
	var firstErr error
	for {
		ready, err := l.scan(d.Config().ResultsPrefix)
		if err != nil {
			return err
		}
		for _, key := range ready {
			o := l.deployFile(ctx, d, key)
			if o.Status == deploy.StatusFailed && firstErr == nil {
				firstErr = o.Err
			}
		}
		if l.f.once && len(ready) == 0 && l.settled() {
			if firstErr != nil {
				return exitError{code: engine.ExitCode(firstErr)}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			l.printf("pgmi local: stopped")
			if firstErr != nil && engine.KindOf(firstErr) == engine.KindCanceled {
				return exitError{code: engine.ExitCode(firstErr)} // a deploy was interrupted (130)
			}
			return nil
		case <-time.After(l.f.interval):
		}
	}
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

// scan returns the keys of bundles that are new or changed and have stopped
// changing, in name order.
func (l *localRun) scan(resultsPrefix string) ([]string, error) {
	var ready []string
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
		st, ok := l.seen[key]
		switch {
		case !ok || st.size != info.Size() || !st.modTime.Equal(info.ModTime()):
			l.seen[key] = fileStamp{size: info.Size(), modTime: info.ModTime()}
		case !st.stable:
			st.stable = true
			l.seen[key] = st
			ready = append(ready, key)
		}
		return nil
	})
	sort.Strings(ready)
	return ready, err
}

// localRetries is how often pgmi local delivers a bundle again after a
// retryable failure (a lost session, a busy lock, a timeout), as the
// platforms' retries would: after 1 s, 2 s and 4 s.
const localRetries = 3

func (l *localRun) deployFile(ctx context.Context, d *deploy.Deployer, key string) *deploy.Outcome {
	st := l.seen[key]
	bucket := "file://" + filepath.ToSlash(l.root)
	req := deploy.Request{Action: deploy.ActionDeploy, Bucket: bucket, Bundle: bucket + "/" + key,
		Sequencer: deploy.DecimalSequencer(fmt.Sprint(st.modTime.UnixNano())),
		Trigger:   deploy.Trigger{Platform: "local", Source: "folder", Time: st.modTime}}
	l.printf("picked up %s (%d bytes)", key, st.size)
	var o *deploy.Outcome
	for attempt := 1; ; attempt++ {
		o = d.Run(ctx, req)
		l.printOutcome(o)
		if o.Status != deploy.StatusFailed || !o.Retryable || attempt > localRetries || ctx.Err() != nil {
			break
		}
		wait := time.Second << (attempt - 1)
		l.printf("  delivering it again in %s (retry %d of %d)", wait, attempt, localRetries)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	st.done = true
	l.seen[key] = st
	return o
}

func (l *localRun) printOutcome(o *deploy.Outcome) {
	line := o.Report.Summary()
	if o.Report.DurationMS > 0 && o.Status == deploy.StatusDeployed {
		line += fmt.Sprintf(" in %.1fs", float64(o.Report.DurationMS)/1000)
	}
	l.printf("%s", line)
	if o.ResultURL != "" {
		l.printf("  result: %s", strings.TrimPrefix(o.ResultURL, "file://"))
	}
	if o.ResultErr != nil {
		l.printf("  warning: the result object was not written: %v", o.ResultErr)
	}
}
