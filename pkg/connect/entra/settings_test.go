package entra

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/azurefake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
)

func envOf(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const testSecret = "client-Secret~value-42"

// The rules that pick the credential, and how each describes itself.
func TestPickIdentity(t *testing.T) {
	const tenant, client = "tenant-1", "client-1"
	cases := []struct {
		name   string
		cloud  connect.AuthSettings
		env    []string
		source source
		desc   string // "" = an offline error (exit 10)
	}{
		{"nothing: the default chain", ids("", ""), nil, sourceDefault, "DefaultAzureCredential"},
		{"tenant only: the default chain for that tenant", ids(tenant, ""), nil, sourceDefault, "DefaultAzureCredential for tenant tenant-1"},
		{"a secret without a client id is the chain's business", ids(tenant, ""), []string{"AZURE_CLIENT_SECRET", testSecret}, sourceDefault, "DefaultAzureCredential for tenant tenant-1"},
		{"client id alone: user-assigned managed identity", ids("", client), nil, sourceManaged, "user-assigned managed identity with client id client-1"},
		{"tenant and client id, no secret: still managed identity", ids(tenant, client), nil, sourceManaged, "user-assigned managed identity with client id client-1"},
		{"resource id", ids("", "/subscriptions/x/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u"), nil, sourceManaged, "user-assigned managed identity /subscriptions/x/"},
		{"secret: service principal", ids(tenant, client), []string{"AZURE_CLIENT_SECRET", testSecret}, sourceSecret, "service principal client-1 in tenant tenant-1 (client secret from AZURE_CLIENT_SECRET)"},
		{"secret beats certificate", ids(tenant, client), []string{"AZURE_CLIENT_SECRET", testSecret, "AZURE_CLIENT_CERTIFICATE_PATH", "/c.pem"}, sourceSecret, "service principal client-1"},
		{"certificate", ids(tenant, client), []string{"AZURE_CLIENT_CERTIFICATE_PATH", "/c.pem"}, sourceCertificate, "service principal client-1 in tenant tenant-1 (certificate /c.pem)"},
		{"federated token: workload identity", ids(tenant, client), []string{"AZURE_FEDERATED_TOKEN_FILE", "/t"}, sourceWorkload, "workload identity client-1 in tenant tenant-1"},
		{"secret without tenant", ids("", client), []string{"AZURE_CLIENT_SECRET", testSecret}, sourceSecret, ""},
		{"certificate without tenant", ids("", client), []string{"AZURE_CLIENT_CERTIFICATE_PATH", "/c.pem"}, sourceCertificate, ""},
		{"workload identity without tenant", ids("", client), []string{"AZURE_FEDERATED_TOKEN_FILE", "/t"}, sourceWorkload, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := pickIdentity(tc.cloud, envOf(tc.env...))
			if id.source != tc.source {
				t.Errorf("source %d, want %d", id.source, tc.source)
			}
			if tc.desc == "" {
				if exitcode.Of(err) != 10 || !strings.Contains(err.Error(), "needs its tenant") {
					t.Errorf("exit %d: %v", exitcode.Of(err), err)
				}
				return
			}
			if err != nil || !strings.HasPrefix(id.describe(), tc.desc) {
				t.Errorf("%q, %v; want %q", id.describe(), err, tc.desc)
			}
			for _, text := range []string{fmt.Sprintf("%v %+v %#v", id, id, id), id.describe()} {
				if strings.Contains(text, testSecret) {
					t.Errorf("the secret shows: %s", text)
				}
			}
		})
	}
}

func TestScopeFor(t *testing.T) {
	for host, want := range map[string]string{
		"mydb.postgres.database.azure.com":         DefaultScope,
		"MyDB.Postgres.Database.Azure.com.":        DefaultScope,
		"mydb.postgres.database.usgovcloudapi.net": "https://ossrdbms-aad.database.usgovcloudapi.net/.default",
		"mydb.postgres.database.chinacloudapi.cn":  "https://ossrdbms-aad.database.chinacloudapi.cn/.default",
		"10.1.2.3": DefaultScope,
		"mydb.privatelink.postgres.database.azure.com": DefaultScope,
	} {
		if got := ScopeFor(host); got != want {
			t.Errorf("ScopeFor(%q) = %q, want %q", host, got, want)
		}
	}
	if DefaultScope != "https://ossrdbms-aad.database.windows.net/.default" {
		t.Errorf("DefaultScope %q", DefaultScope)
	}
}

// Settings Entra ID cannot use are refused offline, exit 10.
func TestRefusedSettings(t *testing.T) {
	cases := []struct {
		name   string
		change func(*connect.Config)
		want   string
	}{
		{"sslmode disable", func(c *connect.Config) { c.SSL.Mode = "disable" }, "needs TLS"},
		{"no user", func(c *connect.Config) { c.User = "" }, "-U/--username"},
		{"unix socket", func(c *connect.Config) { c.Hosts = []string{"/var/run/postgresql"} }, "Unix socket"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			azurefake.Isolate(t)
			c := &connect.Config{Hosts: []string{"mydb.postgres.database.azure.com"}, User: "deployer", Database: "app", Auth: AuthMethod}
			tc.change(c)
			_, err := NewFactory(nil)(t.Context(), c, nil)
			if exitcode.Of(err) != 10 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("exit %d: %v", exitcode.Of(err), err)
			}
		})
	}
}

// Under sslmode allow and prefer only TLS attempts remain, for every host.
func TestTLSOnly(t *testing.T) {
	for _, mode := range []string{"allow", "prefer", "", "require"} {
		t.Run("sslmode="+mode, func(t *testing.T) {
			c := &connect.Config{Hosts: []string{"127.0.0.1", "127.0.0.2"}, User: "u", Database: "app", Auth: AuthMethod, SSL: connect.SSL{Mode: mode}}
			tgt, err := connect.NewTarget(c, &connect.Options{
				Factory: func(context.Context, *connect.Config, *slog.Logger) (connect.Provider, error) { return nil, nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			cfg := tgt.For("app")
			if err := connect.TLSOnly(cfg, "Entra ID"); err != nil {
				t.Fatal(err)
			}
			hosts := []string{cfg.Host}
			if cfg.TLSConfig == nil {
				t.Error("first attempt without TLS")
			}
			for _, fb := range cfg.Fallbacks {
				hosts = append(hosts, fb.Host)
				if fb.TLSConfig == nil {
					t.Errorf("plaintext fallback to %s kept", fb.Host)
				}
			}
			if strings.Join(hosts, ",") != "127.0.0.1,127.0.0.2" {
				t.Errorf("attempts %v; want one TLS attempt per host, in order", hosts)
			}
		})
	}
}

// sslmode allow against the real server: the token goes over TLS.
func TestAllowModeConnectsOverTLS(t *testing.T) {
	testpg.Require(t, pgErr)
	azurefake.Isolate(t)
	mi := azurefake.StartManagedIdentity(t)
	mi.Use(t)
	id := azurefake.NewID()
	token := azurefake.NewToken(id, 1500)
	mi.SetToken(id, token)
	role := roleWithToken(t, "entra_allow", token)
	f := flags(role)
	f.Auth["azure-client-id"], f.SSLMode = id, "allow"
	assertSession(t, dial(t, target(t, f, baseEnv(t), nil)), role)
}

// Off Azure with nothing configured, the default chain fails and the
// message carries each source's reason. (A scope of its own: azidentity
// caches managed identity tokens process-wide, and another test got one
// for the system-assigned identity.)
func TestDefaultChainWithNothingAvailable(t *testing.T) {
	testpg.Require(t, pgErr)
	azurefake.Isolate(t)
	opts := &connect.Options{Factory: NewFactory(&Options{Scope: "https://pgmi-test-nothing.invalid/.default"})}
	start := time.Now()
	_, err := target(t, flags(newRole(t, "entra_none")), baseEnv(t), opts).Dial(t.Context(), "postgres")
	if exitcode.Of(err) != 11 {
		t.Fatalf("exit %d: %v", exitcode.Of(err), err)
	}
	for _, want := range []string{"from DefaultAzureCredential", "az login", "EnvironmentCredential", "ManagedIdentityCredential"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q", want)
		}
	}
	t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

func TestRegisteredAsAzure(t *testing.T) {
	found := false
	for _, m := range connect.RegisteredMethods() {
		found = found || m == AuthMethod
	}
	if !found {
		t.Errorf("azure not registered: %v", connect.RegisteredMethods())
	}
}

// ids are the method's settings with a tenant and a client id ("" = unset).
func ids(tenant, client string) connect.AuthSettings {
	var s connect.AuthSettings
	if tenant != "" {
		s = s.With(SettingTenantID, tenant, "test")
	}
	if client != "" {
		s = s.With(SettingClientID, client, "test")
	}
	return s
}
