package engine

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

//go:embed sql/internal.sql
var internalSQL string

//go:embed sql/api_v1.sql
var apiV1SQL string

// SupportedAPIVersions lists the session API versions --compat accepts.
var SupportedAPIVersions = []string{"1"}

// CheckCompat validates a --compat value offline ("" means the latest).
func CheckCompat(v string) error {
	if v == "" || v == "1" {
		return nil
	}
	return fault.Errorf(fault.Config, "unsupported API version %q; supported: %v", v, SupportedAPIVersions)
}

// Options tune one deployment. The zero value deploys with pgmi's defaults.
type Options struct {
	Params  Params
	Compat  string // session API version, "" = latest
	Verbose bool   // sets client_min_messages = debug and reports more progress
	// LockWait bounds how long to wait for the session advisory lock. Zero
	// tries once, as pgmi does; a busy lock is then fault.Concurrent at once.
	LockWait time.Duration
	// LockHeld says the caller already holds the deploy lock on the
	// connection (see TryLock): the engine neither takes nor releases it.
	LockHeld bool
	// Journal, when set, records progress so an interrupted deployment can
	// resume without running committed work again. nil runs deploy.sql as
	// pgmi does.
	Journal *Journal
	// Log receives the progress lines as they happen, at INFO, and with
	// Verbose the extra lines at DEBUG. nil discards them. (Server notices
	// reach the connection's OnNotice handler, not the engine: see
	// LogNotice.)
	Log  *slog.Logger
	Scan ScanOptions
}

// Result is what a deployment did, whether it succeeded or not.
type Result struct {
	Database       string
	Duration       time.Duration
	FilesLoaded    int
	Parameters     int
	TestMacros     int
	Started        bool // deploy.sql execution began
	ExecutionUnits int
	UnitsCommitted int
	UnitsResumed   int       // units an earlier attempt committed, skipped by Journal.Resume
	ScriptSHA256   string    // digest of the macro-expanded deploy.sql, once it was expanded
	ExecutionMode  string    // "atomic" or "psql" when execution failed, else ""
	Position       *Position // where in deploy.sql the server reported the error
	FailedFile     string    // the test file that failed ("Failed in <path>: …"), when one did
}

// Position is an error location in the (macro-expanded) deploy.sql.
type Position struct {
	Line, Column int
	SourceLine   string
	Expanded     bool // pgmi_test() macros were expanded, so lines may be shifted
}

// Deploy scans fsys and deploys it over conn. It is Scan followed by DeployProject.
func Deploy(ctx context.Context, conn *pgx.Conn, fsys fs.FS, opts Options) (*Result, error) {
	p, err := Scan(fsys, opts.Scan)
	if err != nil {
		return &Result{}, err
	}
	return DeployProject(ctx, conn, p, opts)
}

// DeployProject runs a scanned project on conn, which must be a direct
// session to the target database (not a transaction-mode pooler). The
// connection is left open with no transaction open and the lock released
// (unless the caller holds it: Options.LockHeld).
//
// When ctx ends, the running statement is cancelled on the server and
// DeployProject returns once the server has confirmed it, so nothing of the
// deployment runs on after it returns; if the server does not confirm
// within CancelGrace the connection is closed instead. Errors are *fault.Error
// values (see KindOf); a server error inside them is a *pgconn.PgError; a
// session lost to the server or the network is fault.ErrSessionLost.
func DeployProject(ctx context.Context, conn *pgx.Conn, p *Project, opts Options) (*Result, error) {
	start := time.Now()
	s := &session{conn: conn, pg: conn.PgConn(), p: p, opts: opts, res: &Result{FilesLoaded: p.Scanned}}
	s.stop = newStopper(ctx, s.pg)
	err := s.run(s.stop.query)
	s.stop.release()
	s.res.Duration = time.Since(start)
	return s.res, s.classify(ctx, err)
}

// session is one DeployProject call. Its round trips run on the stopper's
// query context; waits and the checks between statements use the caller's.
type session struct {
	conn   *pgx.Conn
	pg     *pgconn.PgConn
	p      *Project
	opts   Options
	res    *Result
	stop   *stopper
	locked bool // the engine took the deploy lock and releases it
	// inserted is where the journal's mark went in the head unit.
	inserted insertion
}

func (s *session) progress(msg string, args ...any) {
	if s.opts.Log != nil {
		s.opts.Log.Info(fmt.Sprintf(msg, args...))
	}
}

func (s *session) verbose(msg string, args ...any) {
	if s.opts.Log != nil && s.opts.Verbose {
		s.opts.Log.Debug(fmt.Sprintf(msg, args...))
	}
}

func (s *session) run(ctx context.Context) error {
	if err := CheckCompat(s.opts.Compat); err != nil {
		return err
	}
	if err := s.opts.Params.Validate(); err != nil {
		return err
	}
	defer s.close()
	if err := s.prepare(ctx); err != nil {
		return err
	}
	return s.execute(ctx)
}

func (s *session) prepare(ctx context.Context) error {
	if err := s.checkServer(ctx); err != nil {
		return err
	}
	if !s.opts.LockHeld {
		if err := s.lock(ctx); err != nil {
			return err
		}
	}
	if s.opts.Verbose {
		if err := s.exec(ctx, "SET client_min_messages = 'debug'"); err != nil {
			return s.failed(fault.Internal, err, "enabling verbose server messages")
		}
	}
	s.progress("Preparing session: scanning files, loading parameters")
	if err := s.exec(ctx, internalSQL+contentCompressionSQL); err != nil {
		return s.failed(fault.Internal, err, "creating the session objects")
	}
	if err := s.roundTrips(func() error { return loadProject(ctx, s.pg, s.p) }); err != nil {
		return s.kept(fault.Internal, err, "loading the project files")
	}
	s.progress("Loaded %d files", s.p.Scanned)
	if err := s.roundTrips(func() error { return loadParams(ctx, s.conn, s.opts.Params) }); err != nil {
		return s.kept(fault.Internal, err, "loading the parameters")
	}
	if n := s.opts.Params.Len(); n > 0 {
		s.res.Parameters = n
		s.progress("Loaded %d parameters", n)
	}
	if err := s.exec(ctx, apiV1SQL); err != nil {
		return s.failed(fault.Internal, err, "creating the session API v1")
	}
	return nil
}

// roundTrips runs fn, which talks to the server, as one stoppable step.
func (s *session) roundTrips(fn func() error) error {
	if err := s.begin(); err != nil {
		return err
	}
	err := fn()
	s.stop.end(err)
	return err
}

// kept keeps an *fault.Error's own kind (a file that changed under the load …)
// unless the session was lost, and wraps anything else in kind.
func (s *session) kept(kind fault.Kind, err error, what string) error {
	var e *fault.Error
	if errors.As(err, &e) && !lost(err, s.pg) {
		return err
	}
	return s.failed(kind, err, what)
}

func (s *session) checkServer(ctx context.Context) error {
	var version int
	if err := s.begin(); err != nil {
		return err
	}
	err := s.conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, current_database()").
		Scan(&version, &s.res.Database)
	s.stop.end(err)
	if err != nil {
		return s.failed(fault.Internal, err, "reading the server version")
	}
	if version < 110000 {
		return fault.Errorf(fault.Config, "PostgreSQL %d.%d is too old: pgmi needs PostgreSQL 11 or newer", version/10000, version%10000)
	}
	if version >= 140000 {
		// A backend whose client vanished (a killed deployer, a frozen
		// function) stops its statement within 2 s instead of running it
		// to the end. Best effort: a server that refuses the setting still
		// deploys (the statement then runs to its end after a crash).
		if err := s.exec(ctx, "SET client_connection_check_interval = '2s'"); err != nil && (lost(err, s.pg) || ctx.Err() != nil || s.stop.caller.Err() != nil) {
			return s.failed(fault.Internal, err, "setting client_connection_check_interval")
		}
	}
	return nil
}

// begin starts a round trip unless the caller's context has ended.
func (s *session) begin() error { return s.stop.begin() }

// exec sends sql as one simple query and reads all its results.
func (s *session) exec(ctx context.Context, sql string) error {
	if err := s.begin(); err != nil {
		return err
	}
	_, err := s.pg.Exec(ctx, sql).ReadAll()
	s.stop.end(err)
	return err
}

// failed wraps a server round trip's error in kind, or says the session was
// lost when that is why it failed.
func (s *session) failed(kind fault.Kind, err error, what string) error {
	if lost(err, s.pg) {
		return &fault.Error{Kind: kind, Msg: lostMessage(what), Err: &sessionLost{err}}
	}
	return &fault.Error{Kind: kind, Msg: what, Err: err}
}

// close ends any open transaction and, when the engine took the deploy
// lock itself, releases the session's advisory locks as pgmi does (its own
// and any deploy.sql took). A caller that holds the lock (LockHeld) keeps
// it, and every other lock of its session: the engine releases nothing it
// did not take. close runs on a fresh short context so it also happens
// after the caller's deadline.
func (s *session) close() {
	if s.pg.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), CancelGrace)
	defer cancel()
	if s.pg.TxStatus() != 'I' {
		_, _ = s.pg.Exec(ctx, "ROLLBACK").ReadAll()
	}
	if s.locked {
		_, _ = s.pg.Exec(ctx, "SELECT pg_advisory_unlock_all()").ReadAll()
	}
}

// classify turns the context's end into the right kind, whatever the driver
// reported when the connection was abandoned.
func (s *session) classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return &fault.Error{Kind: fault.Timeout, Msg: "execution failed: timeout: " + s.stop.how(), Err: context.DeadlineExceeded}
	case context.Canceled:
		return &fault.Error{Kind: fault.Canceled, Msg: "execution failed: interrupted: " + s.stop.how(), Err: context.Canceled}
	}
	return err
}
