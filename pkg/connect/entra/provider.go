package entra

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// Options tune the provider; nil means the defaults.
type Options struct {
	// Scope is the token scope; "" picks it from the server's host name
	// (see ScopeFor).
	Scope string
	// ClientOptions go to every credential: an HTTP transport, the cloud
	// (authority host), retry settings.
	ClientOptions azcore.ClientOptions
	// DisableInstanceDiscovery skips MSAL's instance discovery, for
	// authorities MSAL does not know (Azure Stack, private clouds, tests).
	DisableInstanceDiscovery bool
	// LookupEnv reads the credential variables pgmi itself consults
	// (AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH,
	// AZURE_CLIENT_CERTIFICATE_PASSWORD, AZURE_FEDERATED_TOKEN_FILE); nil
	// means os.LookupEnv. azidentity reads its own variables regardless.
	LookupEnv func(string) (string, bool)
}

// NewFactory returns the azure ProviderFactory. Each call of the factory
// (once per connect.Target, at its first connection) checks the settings
// offline and builds the credential the rules in the package documentation
// pick; it fetches nothing. A token is asked for before every physical
// connection; azidentity caches it until shortly before it expires.
func NewFactory(opts *Options) connect.ProviderFactory {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	return func(_ context.Context, c *connect.Config, _ *slog.Logger) (connect.Provider, error) {
		return newProvider(c, &o)
	}
}

// provider asks a credential for a token before every connection.
type provider struct {
	cred  azcore.TokenCredential
	scope string
	ident identity
}

func newProvider(c *connect.Config, o *Options) (*provider, error) {
	if err := checkSettings(c); err != nil {
		return nil, err
	}
	ident, err := pickIdentity(c.AuthSettings, o.LookupEnv)
	if err != nil {
		return nil, err
	}
	cred, err := ident.credential(o)
	if err != nil {
		return nil, fault.Wrap(fault.Config, redacted{err}, "cannot set up %s: %s", ident.describe(), ident.check)
	}
	scope := o.Scope
	if scope == "" {
		scope = ScopeFor(c.Endpoints()[0].Host)
	}
	return &provider{cred: cred, scope: scope, ident: ident}, nil
}

// checkSettings refuses, before any credential exists, what Entra ID
// authentication cannot do.
func checkSettings(c *connect.Config) error {
	if c.User == "" {
		return fault.Errorf(fault.Config, "Entra ID authentication needs the database role of the identity: pass -U/--username or set PGUSER")
	}
	if c.SSL.Mode == "disable" {
		return fault.Errorf(fault.Config, "Entra ID authentication needs TLS, but sslmode is disable: the token is a bearer credential; use --sslmode require, or verify-full with the server's CA as --sslrootcert")
	}
	for _, ep := range c.Endpoints() {
		if connect.IsSocketDir(ep.Host) {
			return fault.Errorf(fault.Config, "Entra ID authentication cannot use the Unix socket %s: pass the server's host name as --host", ep)
		}
	}
	return nil
}

// Prepare gets a token (fresh, or cached by azidentity while it is valid)
// and makes it the password. Attempts without TLS (sslmode allow or prefer)
// are dropped first, so the token never travels unencrypted.
func (p *provider) Prepare(ctx context.Context, cfg *pgx.ConnConfig) error {
	if err := connect.TLSOnly(cfg, "Entra ID"); err != nil {
		return err
	}
	tok, err := p.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{p.scope}})
	if err != nil {
		if ctx.Err() != nil {
			return err // connect reports the interrupt or the timeout
		}
		return &tokenError{msg: "no Entra ID token for " + strings.TrimSuffix(p.scope, "/.default") + " from " + p.ident.describe() + ": " + p.ident.check, err: err}
	}
	cfg.Password = tok.Token
	return nil
}

// String describes the provider without secrets.
func (p *provider) String() string {
	return "azure entra id: " + p.ident.describe() + ", scope " + p.scope
}
