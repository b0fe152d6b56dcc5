package rdsiam

import (
	"context"
	"crypto/tls"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/awsfake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

func baseConfig() *connect.Config {
	return &connect.Config{Hosts: []string{"mydb.abc.eu-west-1.rds.amazonaws.com"}, User: "deployer", Database: "app", Auth: AuthMethod}
}

// The region: SettingRegion (which the resolver fills from --aws-region,
// PGMI_AWS_REGION, AWS_REGION, AWS_DEFAULT_REGION, pgmi.yaml), else what
// the SDK finds (AWS_REGION, AWS_DEFAULT_REGION, the profile).
func TestRegionPrecedenceInTheProvider(t *testing.T) {
	cases := []struct {
		name, cloud, envRegion, envDefault, want string
	}{
		{"settings win over the environment", "eu-central-1", "us-east-1", "us-west-2", "eu-central-1"},
		{"AWS_REGION", "", "us-east-1", "us-west-2", "us-east-1"},
		{"AWS_DEFAULT_REGION", "", "", "us-west-2", "us-west-2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			awsfake.Isolate(t)
			t.Setenv("AWS_REGION", tc.envRegion)
			t.Setenv("AWS_DEFAULT_REGION", tc.envDefault)
			c := baseConfig()
			c.AuthSettings = c.AuthSettings.With(SettingRegion, tc.cloud, "test")
			p, err := newProvider(t.Context(), c, nil, &Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.region != tc.want {
				t.Errorf("region %q, want %q", p.region, tc.want)
			}
		})
	}
}

// The resolver's order reaches the provider and the token's signature.
func TestRegionPrecedenceThroughResolution(t *testing.T) {
	cases := []struct {
		name string
		f    connect.Flags
		env  []string
		yml  pgmiyaml.Connection
		want string
	}{
		{"flag", connect.Flags{Auth: map[string]string{"aws-region": "eu-west-3"}}, []string{"PGMI_AWS_REGION", "eu-west-2", "AWS_REGION", "us-east-1"}, pgmiyaml.Connection{Auth: map[string]string{"aws_region": "sa-east-1"}}, "eu-west-3"},
		{"PGMI_AWS_REGION", connect.Flags{Auth: map[string]string{"aws": "true"}}, []string{"PGMI_AWS_REGION", "eu-west-2", "AWS_REGION", "us-east-1"}, pgmiyaml.Connection{Auth: map[string]string{"aws_region": "sa-east-1"}}, "eu-west-2"},
		{"AWS_REGION", connect.Flags{Auth: map[string]string{"aws": "true"}}, []string{"AWS_REGION", "us-east-1", "AWS_DEFAULT_REGION", "us-west-1"}, pgmiyaml.Connection{Auth: map[string]string{"aws_region": "sa-east-1"}}, "us-east-1"},
		{"AWS_DEFAULT_REGION", connect.Flags{Auth: map[string]string{"aws": "true"}}, []string{"AWS_DEFAULT_REGION", "us-west-1"}, pgmiyaml.Connection{Auth: map[string]string{"aws_region": "sa-east-1"}}, "us-west-1"},
		{"pgmi.yaml", connect.Flags{}, nil, pgmiyaml.Connection{Auth: map[string]string{"aws_region": "sa-east-1"}}, "sa-east-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			awsfake.Isolate(t)
			tc.f.Host, tc.f.User, tc.f.Database = "mydb.example.com", "deployer", "app"
			cfg, err := connect.ResolveConfig(tc.f, baseEnv(t, tc.env...), tc.yml, nil)
			if err != nil {
				t.Fatal(err)
			}
			p, err := newProvider(t.Context(), cfg, nil, &Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.region != tc.want {
				t.Errorf("region %q, want %q", p.region, tc.want)
			}
		})
	}
}

// Missing region: exit 10 from the resolver, and from the provider when a
// library caller builds the Config itself; no credential is fetched.
func TestMissingRegionIsExit10(t *testing.T) {
	awsfake.Isolate(t)
	creds := awsfake.StartContainerEndpoint(t)
	creds.Use(t)
	_, err := connect.ResolveWith(connect.Flags{Auth: map[string]string{"aws": "true"}, Host: "mydb.example.com", User: "deployer", Database: "app"}, baseEnv(t), pgmiyaml.Connection{}, nil)
	if exitcode.Of(err) != 10 || !strings.Contains(err.Error(), "region") {
		t.Errorf("resolver: exit %d: %v", exitcode.Of(err), err)
	}
	tgt, err := connect.NewTarget(baseConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tgt.Dial(t.Context(), "app")
	if exitcode.Of(err) != 10 || !strings.Contains(err.Error(), "--aws-region") || !strings.Contains(err.Error(), "AWS_DEFAULT_REGION") {
		t.Errorf("provider: exit %d: %v", exitcode.Of(err), err)
	}
	if creds.Fetches() != 0 {
		t.Errorf("%d credential fetches before the region was known", creds.Fetches())
	}
}

// Settings RDS IAM cannot use are refused offline, exit 10, before any
// credential is looked up.
func TestRefusedSettings(t *testing.T) {
	cases := []struct {
		name   string
		change func(*connect.Config)
		want   string
	}{
		{"sslmode disable", func(c *connect.Config) { c.SSL.Mode = "disable" }, "needs TLS"},
		{"no user", func(c *connect.Config) { c.User = "" }, "-U/--username"},
		{"unix socket", func(c *connect.Config) { c.Hosts = []string{"/var/run/postgresql"} }, "Unix socket"},
		{"two hosts", func(c *connect.Config) { c.Hosts = []string{"a.example.com", "b.example.com"} }, "one endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			awsfake.Isolate(t)
			creds := awsfake.StartContainerEndpoint(t)
			creds.Use(t)
			c := baseConfig()
			c.AuthSettings = c.AuthSettings.With(SettingRegion, "eu-west-1", "test")
			tc.change(c)
			_, err := NewFactory(nil)(t.Context(), c, nil)
			if exitcode.Of(err) != 10 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("exit %d: %v", exitcode.Of(err), err)
			}
			if creds.Fetches() != 0 {
				t.Errorf("%d credential fetches", creds.Fetches())
			}
		})
	}
}

// Under sslmode allow and prefer, only the TLS attempts remain.
func TestTLSOnlyDropsPlaintextAttempts(t *testing.T) {
	for _, mode := range []string{"allow", "prefer", "", "require"} {
		t.Run("sslmode="+mode, func(t *testing.T) {
			c := baseConfig()
			c.Hosts = []string{"127.0.0.1"}
			c.SSL.Mode = mode
			tgt, err := connect.NewTarget(c, &connect.Options{
				Factory: func(context.Context, *connect.Config, *slog.Logger) (connect.Provider, error) { return nil, nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			cfg := tgt.For("app")
			if err := connect.TLSOnly(cfg, "AWS RDS IAM"); err != nil {
				t.Fatal(err)
			}
			if cfg.TLSConfig == nil {
				t.Error("first attempt without TLS")
			}
			for _, fb := range cfg.Fallbacks {
				if fb.TLSConfig == nil {
					t.Errorf("plaintext fallback to %s:%d kept", fb.Host, fb.Port)
				}
			}
		})
	}
	cfg := &pgx.ConnConfig{}
	cfg.Host, cfg.Port = "db", 5432
	cfg.Fallbacks = []*pgconn.FallbackConfig{{Host: "db", Port: 5432}}
	if err := connect.TLSOnly(cfg, "AWS RDS IAM"); exitcode.Of(err) != 10 {
		t.Errorf("no TLS attempt at all: exit %d: %v", exitcode.Of(err), err)
	}
	cfg.Fallbacks = []*pgconn.FallbackConfig{{Host: "db", Port: 5432, TLSConfig: &tls.Config{ServerName: "db"}}}
	if err := connect.TLSOnly(cfg, "AWS RDS IAM"); err != nil || cfg.TLSConfig == nil || len(cfg.Fallbacks) != 0 {
		t.Errorf("TLS fallback not promoted: %v", err)
	}
}

// sslmode allow against the real server: the token goes over TLS (pg_hba
// has hostssl lines only, and pg_stat_ssl says so).
func TestAllowModeConnectsOverTLS(t *testing.T) {
	testpg.Require(t, pgErr)
	awsfake.Isolate(t)
	awsfake.StartContainerEndpoint(t).Use(t)
	role := newRole(t, "iam_allow")
	m := &minted{t: t}
	f := flags(role, "eu-west-1")
	f.SSLMode = "allow"
	conn := dial(t, target(t, f, withFactory(m.factory(nil))))
	var ssl bool
	if err := conn.QueryRow(t.Context(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
		t.Errorf("ssl %v, err %v", ssl, err)
	}
}

func TestRegisteredAsAWS(t *testing.T) {
	found := false
	for _, m := range connect.RegisteredMethods() {
		found = found || m == AuthMethod
	}
	if !found {
		t.Errorf("aws not registered: %v", connect.RegisteredMethods())
	}
}
