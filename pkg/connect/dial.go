package connect

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// Retries is how many times a transient connection failure is retried.
const Retries = 3

// Connect opens one connection with cfg, retrying transient failures
// (classified by SQLSTATE and network error type, never by message text)
// with exponential backoff and jitter. Errors are engine.KindConnection
// with a message that says what to check, or KindTimeout/KindCanceled when
// ctx ended; the last real failure is kept in the chain.
func Connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	var last error
	for attempt := 0; ; attempt++ {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			return conn, nil
		}
		last = err
		if ctx.Err() != nil || attempt == Retries || !Transient(err) {
			break
		}
		if sleep(ctx, backoff(attempt)) != nil {
			break
		}
	}
	return nil, classify(ctx, cfg, last)
}

func backoff(attempt int) time.Duration {
	base := float64(100*time.Millisecond) * float64(int(1)<<attempt)
	return time.Duration(base * (0.9 + 0.2*rand.Float64()))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Transient reports whether a connection failure may succeed on retry.
func Transient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := pgErr.Code
		switch {
		case code == "57014" || code == "57P04":
			return false
		case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "57"):
			return true
		}
		return code == "40001" || code == "40P01" || code == "55P03"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTimeout || dnsErr.IsTemporary
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Timeout() {
		return true
	}
	for _, errno := range []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ENETUNREACH, syscall.EHOSTUNREACH} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// classify turns a failed connect into an error that says what to check.
func classify(ctx context.Context, cfg *pgx.ConnConfig, err error) error {
	where := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return &engine.Error{Kind: engine.KindTimeout, Msg: fmt.Sprintf("timed out connecting to %s (raise --timeout)", where), Err: context.DeadlineExceeded}
	case context.Canceled:
		return &engine.Error{Kind: engine.KindCanceled, Msg: "interrupted while connecting", Err: context.Canceled}
	}
	cause := redactedError{err}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return engine.Wrap(engine.KindConnection, cause, "%s", serverRefusal(pgErr, cfg, where))
	}
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return engine.Wrap(engine.KindConnection, cause, "cannot resolve host %q: check --host / PGHOST", cfg.Host)
	case errors.Is(err, syscall.ECONNREFUSED):
		return engine.Wrap(engine.KindConnection, cause, "connection refused to %s: is PostgreSQL running and listening there? (pg_isready -h %s -p %d)", where, cfg.Host, cfg.Port)
	case isTimeout(err):
		return engine.Wrap(engine.KindConnection, cause, "connection timed out to %s: check the host, port and firewall", where)
	case isTLS(err):
		return engine.Wrap(engine.KindConnection, cause, "SSL/TLS connection error with %s: check --sslmode, --sslcert, --sslkey, --sslrootcert", where)
	}
	return engine.Wrap(engine.KindConnection, cause, "failed to connect to %s", where)
}

func serverRefusal(pgErr *pgconn.PgError, cfg *pgx.ConnConfig, where string) string {
	switch pgErr.Code {
	case "28P01":
		return fmt.Sprintf("password authentication failed for user %q on database %q: check $PGPASSWORD, ~/.pgpass, or the connection string", cfg.User, cfg.Database)
	case "28000":
		return fmt.Sprintf("authentication rejected for user %q on database %q: no pg_hba.conf entry matches this host, user and method", cfg.User, cfg.Database)
	case "3D000":
		return fmt.Sprintf("database %q does not exist on %s", cfg.Database, where)
	case "42501":
		return fmt.Sprintf("user %q may not connect to database %q: grant access with GRANT CONNECT ON DATABASE %s TO %s", cfg.User, cfg.Database, cfg.Database, cfg.User)
	case "53300":
		return fmt.Sprintf("too many connections to %s: wait, or raise max_connections", where)
	case "57P03":
		return fmt.Sprintf("server at %s is not accepting connections: it is starting up or recovering; retry shortly", where)
	}
	return fmt.Sprintf("server at %s refused the connection", where)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isTLS(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "tls") || strings.Contains(s, "x509") || strings.Contains(s, "certificate")
}

// IsMissingDatabase reports whether err says the database does not exist.
func IsMissingDatabase(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "3D000"
}
