package connect

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
)

// A Provider authenticates the connections of one auth method. Every method
// but password lives in its own folder pkg/connect/<name>, importing only
// its own SDK, and registers a Method (with its ProviderFactory) from
// init(); a binary links a method by importing its folder for side effects.
type Provider interface {
	// Prepare is called before every physical connection attempt, with a
	// fresh copy of that attempt's pgx configuration. It sets what its
	// method needs: a token as cfg.Password, fetched now so that every
	// connection gets a fresh one (an open session outlives its token); a
	// DialFunc for connectors that tunnel (Cloud SQL); TLS settings. An
	// error carrying a fault kind keeps it (fault.Config for a bad setting);
	// any other error is a connection failure (exit 11), retried when
	// fault.Retryable says so (a method Retryable() bool on the error
	// decides).
	Prepare(ctx context.Context, cfg *pgx.ConnConfig) error
}

// ProviderFunc adapts a function to Provider.
type ProviderFunc func(ctx context.Context, cfg *pgx.ConnConfig) error

// Prepare calls f.
func (f ProviderFunc) Prepare(ctx context.Context, cfg *pgx.ConnConfig) error { return f(ctx, cfg) }

// A ProviderFactory builds a method's Provider from the resolved settings.
// It runs once per Target, lazily, before its first connection, so a cold
// start that never connects creates no cloud client. It may keep clients for
// the Target's life; if the Provider is an io.Closer, Target.Close closes it.
// log is Options.Log (a discard logger when that is nil), for what the
// provider and its SDK have to say.
type ProviderFactory func(ctx context.Context, c *Config, log *slog.Logger) (Provider, error)

// passwordProvider leaves the configuration as resolved: the password came
// from PGPASSWORD, the connection string or the password file.
func passwordProvider(context.Context, *Config, *slog.Logger) (Provider, error) { return nil, nil }
