package connect

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5"
)

// Target is a resolved connection, ready to dial: the configuration of the
// target database, and the maintenance database used to create or recreate
// it. Callers may set hooks on Config (OnNotice …); For copies them.
type Target struct {
	Config      *pgx.ConnConfig // the target database
	Maintenance string
	Settings    *Config // what was resolved; Settings.Database is the target

	tls     *tlsSetup
	pass    *Passfile
	factory ProviderFactory
	log     *slog.Logger

	once     sync.Once
	provider Provider
	provErr  error
}

// NewTarget prepares c for dialing: it reads the certificate files and the
// password file, finds the auth method's provider, and builds the pgx
// configuration. Errors are fault.Config.
func NewTarget(c *Config, opts *Options) (*Target, error) {
	c = c.Clone()
	if c.Auth == "" {
		c.Auth = AuthPassword
	}
	factory, err := findProvider(c.Auth, opts)
	if err != nil {
		return nil, err
	}
	t := &Target{Maintenance: c.MaintenanceDatabase, Settings: c, factory: factory, log: opts.providerLog()}
	if t.Maintenance == "" {
		t.Maintenance = "postgres"
	}
	if t.tls, err = loadTLS(c.SSL); err != nil {
		return nil, err
	}
	if c.Password == "" && c.Auth == AuthPassword {
		t.pass = ReadPassfile(c.Passfile, opts.logger())
	}
	if t.Config, err = pgxConfig(c, t.tls, t.pass, c.Database); err != nil {
		return nil, err
	}
	return t, nil
}

// logger is Options.Log, nil when there are no options.
func (o *Options) logger() *slog.Logger {
	if o == nil {
		return nil
	}
	return o.Log
}

// providerLog is Log for the auth provider, or a logger that discards.
func (o *Options) providerLog() *slog.Logger {
	if o == nil || o.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Log
}

func findProvider(m AuthMethod, opts *Options) (ProviderFactory, error) {
	if m == AuthPassword {
		return passwordProvider, nil
	}
	meth, ok := LookupMethod(m)
	if opts != nil && opts.Factory != nil {
		return opts.Factory, nil
	}
	if ok {
		return meth.Factory, nil
	}
	return nil, configErr("%s authentication is not in this build yet; available: %v", m, RegisteredMethods())
}

// Database is the target database name.
func (t *Target) Database() string { return t.Config.Database }

// For returns a copy of the configuration pointed at another database, with
// the password looked up for that database in the password file.
func (t *Target) For(database string) *pgx.ConnConfig {
	c := t.Config.Copy()
	if c.Database == database {
		return c
	}
	c.Database = database
	if t.Settings.Password == "" && t.pass != nil {
		c.Password, _ = t.pass.Lookup(c.Host, c.Port, database, c.User)
	}
	return c
}

// Dial connects to database with the auth method's provider, retrying
// transient failures (see Connect). It does not probe the server; Probe does.
func (t *Target) Dial(ctx context.Context, database string) (*pgx.Conn, error) {
	t.once.Do(func() { t.provider, t.provErr = t.factory(ctx, t.Settings, t.log) })
	cfg := t.For(database)
	if t.provErr != nil {
		return nil, classify(ctx, cfg, t.Settings.Auth, &providerError{t.provErr}, 1)
	}
	var prepare prepareFunc
	if t.provider != nil {
		prepare = t.provider.Prepare
	}
	return connectRetrying(ctx, cfg, t.Settings.Auth, prepare)
}

// Close releases what the auth provider holds (a Cloud SQL dialer …).
func (t *Target) Close() error {
	if c, ok := t.provider.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
