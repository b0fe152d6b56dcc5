package entra

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/azurefake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

const publicResource = "https://ossrdbms-aad.database.windows.net"

// systemToken is the system-assigned identity's token for the whole test
// binary: azidentity caches managed identity tokens process-wide, so a
// repeated run (-count=2) is served the first run's token.
var systemToken = azurefake.NewToken("system-assigned", 2400)

func target(t *testing.T, f connect.Flags, env connect.Env, opts *connect.Options) *connect.Target {
	t.Helper()
	tgt, err := connect.ResolveWith(f, env, pgmiyaml.Connection{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tgt.Close() })
	return tgt
}

func dial(t *testing.T, tgt *connect.Target) *pgx.Conn {
	t.Helper()
	conn, err := tgt.Dial(t.Context(), "postgres")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// roleWithToken creates a role whose password is token: the local stand-in
// for the server validating the Entra ID token.
func roleWithToken(t *testing.T, prefix, token string) string {
	t.Helper()
	role := newRole(t, prefix)
	if err := setPassword(t.Context(), role, token); err != nil {
		t.Fatal(err)
	}
	return role
}

func assertSession(t *testing.T, conn *pgx.Conn, role string) {
	t.Helper()
	var user string
	var ssl bool
	err := conn.QueryRow(t.Context(), "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&user, &ssl)
	if err != nil || user != role || !ssl {
		t.Fatalf("session user %q ssl %v err %v", user, ssl, err)
	}
}

// The default chain (no client id) reaches the App Service managed identity
// endpoint; its token is the password; the registered provider is used.
func TestSystemAssignedIdentityThroughTheDefaultChain(t *testing.T) {
	testpg.Require(t, pgErr)
	azurefake.Isolate(t)
	mi := azurefake.StartManagedIdentity(t)
	mi.Use(t)
	mi.SetToken("", systemToken)
	role := roleWithToken(t, "entra_system", systemToken)
	tgt := target(t, flags(role), baseEnv(t), nil)
	assertSession(t, dial(t, tgt), role)
	assertSession(t, dial(t, tgt), role)

	reqs := mi.Requests()
	if len(reqs) == 0 {
		t.Log("no request: the token came from azidentity's process-wide cache (a repeated run)")
	}
	if len(reqs) > 1 {
		t.Errorf("%d token requests for two connections: azidentity should cache the token", len(reqs))
	}
	for _, r := range reqs {
		if !r.HeaderOK || r.APIVersion != "2019-08-01" || r.Resource != publicResource || r.ClientID != "" {
			t.Errorf("request %+v", r)
		}
	}
}

// A client id without a secret is a user-assigned managed identity, from
// the flag (pgmi loses it, bug B4) or from AZURE_CLIENT_ID (how Functions
// name one); an ARM resource id works too.
func TestUserAssignedIdentity(t *testing.T) {
	testpg.Require(t, pgErr)
	resID := "/subscriptions/" + azurefake.NewID() + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pgmi-deployer"
	cases := []struct {
		name, id string
		flag     bool
		param    func(azurefake.MIRequest) string
	}{
		{"--azure-client-id", azurefake.NewID(), true, func(r azurefake.MIRequest) string { return r.ClientID }},
		{"AZURE_CLIENT_ID", azurefake.NewID(), false, func(r azurefake.MIRequest) string { return r.ClientID }},
		{"resource id", resID, true, func(r azurefake.MIRequest) string { return r.ResourceID }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			azurefake.Isolate(t)
			mi := azurefake.StartManagedIdentity(t)
			mi.Use(t)
			token := azurefake.NewToken(tc.id, 2000)
			mi.SetToken(tc.id, token)
			role := roleWithToken(t, "entra_uami", token)
			f, env := flags(role), baseEnv(t)
			if tc.flag {
				f.Auth["azure-client-id"] = tc.id
			} else {
				env = baseEnv(t, "AZURE_CLIENT_ID", tc.id)
				t.Setenv("AZURE_CLIENT_ID", tc.id)
			}
			assertSession(t, dial(t, target(t, f, env, nil)), role)
			reqs := mi.Requests()
			if len(reqs) != 1 || tc.param(reqs[0]) != tc.id || reqs[0].Resource != publicResource {
				t.Errorf("requests %+v; want one naming %s", reqs, tc.id)
			}
		})
	}
}

// The endpoint refuses or is unreachable: exit 11, the message names the
// identity and what to check, and shows neither a token nor the header.
// connect does not retry on top of azidentity, which retries 5xx answers
// and network errors itself (about 9 s with its defaults; shortened here).
func TestManagedIdentityFailures(t *testing.T) {
	testpg.Require(t, pgErr)
	fast := &connect.Options{Factory: NewFactory(&Options{
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: 2, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 20 * time.Millisecond}},
	})}
	cases := []struct {
		name     string
		setup    func(t *testing.T, mi *azurefake.ManagedIdentity)
		opts     *connect.Options
		requests int
	}{
		{"unknown identity (400), registered provider", func(*testing.T, *azurefake.ManagedIdentity) {}, nil, 1},
		{"endpoint error (500)", func(_ *testing.T, mi *azurefake.ManagedIdentity) {
			mi.Fail(http.StatusInternalServerError, `{"statusCode":500,"message":"the identity service is down"}`)
		}, fast, 3},
		{"endpoint unreachable", func(t *testing.T, mi *azurefake.ManagedIdentity) {
			t.Setenv("IDENTITY_ENDPOINT", closedURL(t))
		}, fast, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			azurefake.Isolate(t)
			mi := azurefake.StartManagedIdentity(t)
			mi.Use(t)
			other := azurefake.NewToken("someone-else", 2000)
			mi.SetToken("", other)
			tc.setup(t, mi)
			f := flags(newRole(t, "entra_fail"))
			f.Auth["azure-client-id"] = azurefake.NewID()
			start := time.Now()
			_, err := target(t, f, baseEnv(t), tc.opts).Dial(t.Context(), "postgres")
			if exitcode.Of(err) != 11 {
				t.Fatalf("exit %d: %v", exitcode.Of(err), err)
			}
			for _, want := range []string{"user-assigned managed identity with client id " + f.Auth["azure-client-id"], "IDENTITY_ENDPOINT", "AZURE_CLIENT_SECRET"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message lacks %q", want)
				}
			}
			if n := len(mi.Requests()); n != tc.requests {
				t.Errorf("%d requests reached the endpoint, want %d", n, tc.requests)
			}
			assertNoSecrets(t, errTexts(err), other, systemToken, mi.Header)
			t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
		})
	}
}

// The server rejects the token (the role's password is something else):
// exit 11, the token is not in the message.
func TestRejectedTokenIsExit11WithoutTheToken(t *testing.T) {
	testpg.Require(t, pgErr)
	azurefake.Isolate(t)
	mi := azurefake.StartManagedIdentity(t)
	mi.Use(t)
	id := azurefake.NewID()
	token := azurefake.NewToken(id, 2000)
	mi.SetToken(id, token)
	f := flags(roleWithToken(t, "entra_rejected", "an-older-token"))
	f.Auth["azure-client-id"] = id
	_, err := target(t, f, baseEnv(t), nil).Dial(t.Context(), "postgres")
	if exitcode.Of(err) != 11 || !strings.Contains(err.Error(), "azure token") || !strings.Contains(err.Error(), "was rejected") {
		t.Fatalf("exit %d: %v", exitcode.Of(err), err)
	}
	assertNoSecrets(t, errTexts(err), token, mi.Header)
}

// withAuthority is the provider for a fake authority: trusted through the
// transport, instance discovery off (MSAL would ask the public cloud).
func withAuthority(t *testing.T, a *azurefake.Authority) *connect.Options {
	t.Setenv("AZURE_AUTHORITY_HOST", a.URL)
	f := NewFactory(&Options{ClientOptions: azcore.ClientOptions{Transport: a.Client()}, DisableInstanceDiscovery: true})
	return &connect.Options{Factory: f}
}

// Tenant and client id from the flags, the secret from AZURE_CLIENT_SECRET.
func TestServicePrincipalWithSecret(t *testing.T) {
	testpg.Require(t, pgErr)
	azurefake.Isolate(t)
	a := azurefake.StartAuthority(t)
	tenant, client := azurefake.NewID(), azurefake.NewID()
	const secret = "sp-Secret~value.that_must_not_print"
	token := azurefake.NewToken(client, 1800)
	a.AddSecretClient(tenant, client, secret, token)
	role := roleWithToken(t, "entra_sp", token)
	t.Setenv("AZURE_CLIENT_SECRET", secret)
	f := flags(role)
	f.Auth["azure-tenant-id"], f.Auth["azure-client-id"] = tenant, client
	opts := withAuthority(t, a)
	tgt := target(t, f, baseEnv(t), opts)
	assertSession(t, dial(t, tgt), role)
	assertSession(t, dial(t, tgt), role)
	reqs := a.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d token requests for two connections; want 1 (cached)", len(reqs))
	}
	r := reqs[0]
	if r.Tenant != tenant || r.ClientID != client || r.GrantType != "client_credentials" || !r.SecretOK || !strings.Contains(r.Scope, publicResource+"/.default") {
		t.Errorf("token request %+v", r)
	}

	t.Run("wrong secret", func(t *testing.T) {
		t.Setenv("AZURE_CLIENT_SECRET", "an-expired-Secret-value")
		_, err := target(t, f, baseEnv(t), opts).Dial(t.Context(), "postgres")
		if exitcode.Of(err) != 11 || !strings.Contains(err.Error(), "service principal "+client+" in tenant "+tenant) || !strings.Contains(err.Error(), "current secret") {
			t.Fatalf("exit %d: %v", exitcode.Of(err), err)
		}
		assertNoSecrets(t, errTexts(err), "an-expired-Secret-value", secret, token)
	})
	t.Run("no tenant", func(t *testing.T) {
		g := f
		g.Auth = map[string]string{"azure": "true", "azure-client-id": f.Auth["azure-client-id"]}
		_, err := target(t, g, baseEnv(t), opts).Dial(t.Context(), "postgres")
		if exitcode.Of(err) != 10 || !strings.Contains(err.Error(), "needs its tenant") {
			t.Fatalf("exit %d: %v", exitcode.Of(err), err)
		}
		assertNoSecrets(t, errTexts(err), secret)
	})
}

// Tenant and client id from AZURE_TENANT_ID and AZURE_CLIENT_ID, a
// certificate from AZURE_CLIENT_CERTIFICATE_PATH: a signed client assertion.
func TestServicePrincipalWithCertificate(t *testing.T) {
	testpg.Require(t, pgErr)
	azurefake.Isolate(t)
	a := azurefake.StartAuthority(t)
	tenant, client := azurefake.NewID(), azurefake.NewID()
	token := azurefake.NewToken(client, 1800)
	a.AddAssertionClient(tenant, client, "", token)
	role := roleWithToken(t, "entra_cert", token)
	t.Setenv("AZURE_CLIENT_CERTIFICATE_PATH", writeClientCertificate(t))
	env := baseEnv(t, "AZURE_TENANT_ID", tenant, "AZURE_CLIENT_ID", client)
	assertSession(t, dial(t, target(t, flags(role), env, withAuthority(t, a))), role)
	reqs := a.Requests()
	if len(reqs) != 1 || !reqs[0].AssertionOK || reqs[0].AssertionType != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || reqs[0].Tenant != tenant {
		t.Errorf("token requests %+v", reqs)
	}
}

// AZURE_FEDERATED_TOKEN_FILE (AKS workload identity): the file's token is
// exchanged for an access token.
func TestWorkloadIdentity(t *testing.T) {
	testpg.Require(t, pgErr)
	azurefake.Isolate(t)
	a := azurefake.StartAuthority(t)
	tenant, client := azurefake.NewID(), azurefake.NewID()
	federated := "federated-" + azurefake.NewID()
	token := azurefake.NewToken(client, 1800)
	a.AddAssertionClient(tenant, client, federated, token)
	role := roleWithToken(t, "entra_wi", token)
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", writeFile(t, "token", []byte(federated)))
	f := flags(role)
	f.Auth["azure-tenant-id"], f.Auth["azure-client-id"] = tenant, client
	assertSession(t, dial(t, target(t, f, baseEnv(t), withAuthority(t, a))), role)
	if reqs := a.Requests(); len(reqs) != 1 || !reqs[0].AssertionOK {
		t.Errorf("token requests %+v", reqs)
	}
}
