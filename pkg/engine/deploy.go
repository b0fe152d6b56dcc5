package engine

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	return Errorf(KindConfig, "unsupported API version %q; supported: %v", v, SupportedAPIVersions)
}

// Options tune one deployment. The zero value deploys with pgmi's defaults.
type Options struct {
	Params  Params
	Compat  string // session API version, "" = latest
	Verbose bool   // sets client_min_messages = debug and reports more progress
	// LockWait bounds how long to wait for the session advisory lock. Zero
	// tries once, as pgmi does; a busy lock is then KindConcurrent at once.
	LockWait time.Duration
	// Progress receives progress lines as they happen; verbose lines only
	// when Verbose is set. May be nil.
	Progress func(verbose bool, msg string)
	Scan     ScanOptions
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
	ExecutionMode  string    // "atomic" or "psql" when execution failed, else ""
	Position       *Position // where in deploy.sql the server reported the error
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
// connection is left open, with the lock released and no transaction open;
// after a timeout or cancellation it is closed. Errors are *Error values
// (see KindOf); a server error inside them is a *pgconn.PgError.
func DeployProject(ctx context.Context, conn *pgx.Conn, p *Project, opts Options) (*Result, error) {
	start := time.Now()
	s := &session{conn: conn, pg: conn.PgConn(), p: p, opts: opts, res: &Result{FilesLoaded: p.Scanned}}
	stop := context.AfterFunc(ctx, s.cancelOnServer)
	defer stop()
	err := s.run(ctx)
	s.res.Duration = time.Since(start)
	return s.res, s.classify(ctx, err)
}

type session struct {
	conn   *pgx.Conn
	pg     *pgconn.PgConn
	p      *Project
	opts   Options
	res    *Result
	locked bool
}

func (s *session) progress(msg string, args ...any) {
	if s.opts.Progress != nil {
		s.opts.Progress(false, fmt.Sprintf(msg, args...))
	}
}

func (s *session) verbose(msg string, args ...any) {
	if s.opts.Progress != nil && s.opts.Verbose {
		s.opts.Progress(true, fmt.Sprintf(msg, args...))
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

// cancelOnServer asks the server to cancel whatever the session is running
// when the context ends, whatever context watcher the connection was built with.
func (s *session) cancelOnServer() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.pg.CancelRequest(ctx)
}

func (s *session) prepare(ctx context.Context) error {
	if err := s.checkServer(ctx); err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	if s.opts.Verbose {
		if err := s.exec(ctx, "SET client_min_messages = 'debug'"); err != nil {
			return Wrap(KindInternal, err, "enabling verbose server messages")
		}
	}
	s.progress("Preparing session: scanning files, loading parameters")
	if err := s.exec(ctx, internalSQL); err != nil {
		return Wrap(KindInternal, err, "creating the session objects")
	}
	if err := loadProject(ctx, s.pg, s.p); err != nil {
		return asKind(KindInternal, err)
	}
	s.progress("Loaded %d files", s.p.Scanned)
	if err := loadParams(ctx, s.conn, s.opts.Params); err != nil {
		return Wrap(KindInternal, err, "")
	}
	if n := s.opts.Params.Len(); n > 0 {
		s.res.Parameters = n
		s.progress("Loaded %d parameters", n)
	}
	if err := s.exec(ctx, apiV1SQL); err != nil {
		return Wrap(KindInternal, err, "creating the session API v1")
	}
	return nil
}

func (s *session) checkServer(ctx context.Context) error {
	var version int
	if err := s.conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, current_database()").
		Scan(&version, &s.res.Database); err != nil {
		return Wrap(KindInternal, err, "reading the server version")
	}
	if version < 110000 {
		return Errorf(KindConfig, "PostgreSQL %d.%d is too old: pgmi needs PostgreSQL 11 or newer", version/10000, version%10000)
	}
	return nil
}

func (s *session) exec(ctx context.Context, sql string) error {
	_, err := s.pg.Exec(ctx, sql).ReadAll()
	return err
}

// close ends any open transaction and releases the session's advisory locks
// (pgmi's lock and any the deploy took). It runs on a fresh short context so
// it also happens after the caller's deadline.
func (s *session) close() {
	if !s.locked || s.pg.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.pg.TxStatus() != 'I' {
		_ = s.exec(ctx, "ROLLBACK")
	}
	_ = s.exec(ctx, "SELECT pg_advisory_unlock_all()")
}

// classify turns the context's end into the right kind, whatever the driver
// reported when the connection was abandoned.
func (s *session) classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return &Error{Kind: KindTimeout, Msg: "execution failed: timeout (the server was asked to cancel the running statement)", Err: context.DeadlineExceeded}
	case context.Canceled:
		return &Error{Kind: KindCanceled, Msg: "execution failed: interrupted (the server was asked to cancel the running statement)", Err: context.Canceled}
	}
	return err
}

// asKind keeps an *Error's own kind and wraps anything else in kind.
func asKind(kind Kind, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Kind: kind, Err: err}
}
