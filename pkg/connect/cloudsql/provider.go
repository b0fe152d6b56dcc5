package cloudsql

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"

	"cloud.google.com/go/cloudsqlconn"
	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// AdminAPIEndpointVar names the environment variable that replaces the
// Cloud SQL Admin API endpoint (https://sqladmin.googleapis.com/ by
// default): a Private Service Connect endpoint for Google APIs, or a local
// Admin API in tests. Like Google's own ambient variables it is read from
// the process environment, before a Target's first connection, and selects
// no auth method.
const AdminAPIEndpointVar = "PGMI_CLOUDSQL_ADMIN_API_ENDPOINT"

// ServerProxyPort is the port of a Cloud SQL instance's server-side proxy,
// which the connector always dials. Connections report it as their port.
const ServerProxyPort = 3307

// Options tune the provider; nil means the defaults.
type Options struct {
	// DialerOptions are passed to cloudsqlconn.NewDialer after pgmi's own
	// (IAM authentication with the detected credentials, lazy refresh,
	// built-in metrics as below), so they may point the connector elsewhere:
	// WithAdminAPIEndpoint, WithDialFunc, WithQuotaProject, WithUniverseDomain,
	// WithHTTPClient. An option that sets credentials conflicts with pgmi's.
	DialerOptions []cloudsqlconn.Option
	// BuiltInMetrics turns on the connector's export of its own metrics to
	// Cloud Monitoring. Off by default: the export needs
	// roles/monitoring.metricWriter and a third access token.
	BuiltInMetrics bool
}

// NewFactory returns the google ProviderFactory. Its dialer is made at the
// first connection of the first Target that uses the factory (never at init)
// and shared by every Target the factory serves while any is open, so they
// share its cached certificate; the last Target.Close releases it.
func NewFactory(opts *Options) connect.ProviderFactory {
	f := &factory{}
	if opts != nil {
		f.opts = *opts
	}
	return f.provider
}

type factory struct {
	opts Options

	mu     sync.Mutex
	shared *shared // nil before the first Target and after the last Close
}

// shared is one dialer with the credentials it was made with.
type shared struct {
	dialer *cloudsqlconn.Dialer
	id     *identity
	refs   int
}

// provider runs once per Target: settings are checked offline first.
func (f *factory) provider(ctx context.Context, c *connect.Config, _ *slog.Logger) (connect.Provider, error) {
	s, err := parseSettings(c)
	if err != nil {
		return nil, err
	}
	endpoint, err := adminAPIEndpoint(os.Getenv(AdminAPIEndpointVar))
	if err != nil {
		return nil, err
	}
	sh, err := f.acquire(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	return &provider{s: s, f: f, sh: sh, dialOpts: []cloudsqlconn.DialOption{ipOption(s.ipType)}}, nil
}

// acquire returns the shared dialer, made with endpoint ("" for the
// default Admin API) if there is none yet.
func (f *factory) acquire(ctx context.Context, endpoint string) (*shared, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.shared == nil {
		sh, err := f.newShared(ctx, endpoint)
		if err != nil {
			return nil, err
		}
		f.shared = sh
	}
	f.shared.refs++
	return f.shared, nil
}

func (f *factory) newShared(ctx context.Context, endpoint string) (*shared, error) {
	id, err := detectIdentity()
	if err != nil {
		return nil, noCredentials(err)
	}
	opts := []cloudsqlconn.Option{
		cloudsqlconn.WithIAMAuthN(),
		cloudsqlconn.WithIAMAuthNCredentials(id.api, id.login),
		cloudsqlconn.WithLazyRefresh(),
		cloudsqlconn.WithBuiltInMetrics(f.opts.BuiltInMetrics),
		cloudsqlconn.WithUserAgent("pgmi"),
	}
	if endpoint != "" {
		opts = append(opts, cloudsqlconn.WithAdminAPIEndpoint(endpoint))
	}
	// The dialer outlives this first connection's context.
	d, err := cloudsqlconn.NewDialer(context.WithoutCancel(ctx), append(opts, f.opts.DialerOptions...)...)
	if err != nil {
		return nil, fail(fault.Connection, false, err, "cannot set up the Cloud SQL connector")
	}
	return &shared{dialer: d, id: id}, nil
}

func (f *factory) release(sh *shared) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	sh.refs--
	if sh.refs > 0 {
		return nil
	}
	if f.shared == sh {
		f.shared = nil
	}
	return sh.dialer.Close()
}

// provider tunnels every connection of one Target through the connector.
type provider struct {
	s        settings
	f        *factory
	sh       *shared
	dialOpts []cloudsqlconn.DialOption
	once     sync.Once
}

// Prepare makes pgx connect through the Cloud SQL connector: the dial goes
// to the instance (host and port settings do not matter), the connector
// provides TLS 1.3 with an ephemeral client certificate, and the IAM login
// rides in that certificate's request, so pgx uses neither TLS nor a
// password of its own.
func (p *provider) Prepare(_ context.Context, cfg *pgx.ConnConfig) error {
	cfg.Host, cfg.Port = p.s.instance, ServerProxyPort
	cfg.User = p.s.user
	cfg.Fallbacks = nil
	cfg.TLSConfig = nil
	cfg.SSLNegotiation = ""
	cfg.Password = ""
	cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	cfg.DialFunc = p.dial
	return nil
}

func (p *provider) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	conn, err := p.sh.dialer.Dial(ctx, p.s.instance, p.dialOpts...)
	if err != nil {
		return nil, p.explain(ctx, err)
	}
	return conn, nil
}

// Close releases the Target's hold on the dialer; the last one closes it.
func (p *provider) Close() error {
	var err error
	p.once.Do(func() { err = p.f.release(p.sh) })
	return err
}

// adminAPIEndpoint checks the value of AdminAPIEndpointVar: "" (the
// default endpoint) or an http or https URL with a host.
func adminAPIEndpoint(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fault.Errorf(fault.Config, "invalid %s %q: expected the Cloud SQL Admin API's base URL, such as https://sqladmin-myendpoint.p.googleapis.com/", AdminAPIEndpointVar, clip(v))
	}
	return v, nil
}
