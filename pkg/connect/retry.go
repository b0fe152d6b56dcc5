package connect

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/internal/backoff"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// Retries is how many times a transient connection failure is retried, so a
// connection makes at most Retries+1 attempts.
const Retries = 3

// retryPolicy spaces connection retries: retry n (0-based) waits
// 100 ms·2ⁿ ±10 %.
var retryPolicy = backoff.Policy{Base: 100 * time.Millisecond, Factor: 2, Jitter: 0.1}

// Dialer opens connections; Connect is the production one.
type Dialer func(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error)

// prepareFunc adapts a fresh copy of the configuration before each attempt
// (an auth Provider sets its token there).
type prepareFunc func(ctx context.Context, cfg *pgx.ConnConfig) error

// Connect opens one connection with cfg, retrying transient failures
// (classified by SQLSTATE and network error type, never by message text;
// connect timeouts included) with exponential backoff and jitter.
// cfg.ConnectTimeout (connect_timeout) bounds the whole connect to each
// address, its TLS attempt, plaintext fallback and retries together. The
// error says what to check and carries the last real failure:
// fault.Connection (exit 11), connect_timeout expiring included;
// fault.Timeout (16) when ctx's deadline (the run's --timeout) expired;
// fault.Canceled when ctx was canceled; or the kind a Provider gave.
func Connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	return connectRetrying(ctx, cfg, AuthPassword, nil)
}

func connectRetrying(ctx context.Context, cfg *pgx.ConnConfig, method AuthMethod, prepare prepareFunc) (*pgx.Conn, error) {
	cctx, cancel := withConnectTimeout(ctx, cfg)
	defer cancel()
	var last error
	attempts := 0
	for attempt := 0; ; attempt++ {
		attempts++
		conn, err := connectOnce(cctx, cfg, prepare)
		if err == nil {
			return conn, nil
		}
		last = err
		if cctx.Err() != nil || attempt == Retries || !fault.Retryable(err) {
			break
		}
		if backoff.Sleep(cctx, retryPolicy.Delay(attempt)) != nil {
			break
		}
	}
	return nil, classify(ctx, cfg, method, budgetSpent(ctx, cctx, cfg, last), attempts)
}

// withConnectTimeout bounds a connect by cfg.ConnectTimeout for each
// address it may try (libpq gives each host its own connect_timeout), so
// retries and sslmode's fallbacks to the same address share one budget.
func withConnectTimeout(ctx context.Context, cfg *pgx.ConnConfig) (context.Context, context.CancelFunc) {
	if cfg.ConnectTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, cfg.ConnectTimeout*time.Duration(addresses(cfg)))
}

// addresses counts the distinct host:port pairs a configuration dials.
func addresses(cfg *pgx.ConnConfig) int {
	seen := map[Endpoint]bool{{Host: cfg.Host, Port: cfg.Port}: true}
	for _, fb := range cfg.Fallbacks {
		seen[Endpoint{Host: fb.Host, Port: fb.Port}] = true
	}
	return len(seen)
}

// budgetSpent marks the last failure of a connect whose connect_timeout
// budget ran out (and not ctx, the caller's deadline).
func budgetSpent(ctx, cctx context.Context, cfg *pgx.ConnConfig, last error) error {
	if cctx.Err() == nil || ctx.Err() != nil {
		return last
	}
	return &connectTimeoutError{limit: cfg.ConnectTimeout, err: last}
}

// connectTimeoutError is a connect cut short by connect_timeout.
type connectTimeoutError struct {
	limit time.Duration
	err   error
}

func (e *connectTimeoutError) Error() string { return e.err.Error() }
func (e *connectTimeoutError) Unwrap() error { return e.err }

func connectOnce(ctx context.Context, cfg *pgx.ConnConfig, prepare prepareFunc) (*pgx.Conn, error) {
	if prepare == nil {
		return pgx.ConnectConfig(ctx, cfg)
	}
	c := cfg.Copy()
	if err := prepare(ctx, c); err != nil {
		return nil, &providerError{err}
	}
	return pgx.ConnectConfig(ctx, c)
}

// providerError marks a failure of an auth Provider (token acquisition).
type providerError struct{ err error }

func (p *providerError) Error() string { return p.err.Error() }
func (p *providerError) Unwrap() error { return p.err }

// isTimeout: pgx's connect_timeout (pgconn.Timeout), a context deadline
// inside the attempt, or a net.Error that timed out.
func isTimeout(err error) bool {
	if pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
