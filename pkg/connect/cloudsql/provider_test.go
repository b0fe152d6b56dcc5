package cloudsql_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/internal/testfakes"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/gcpfake"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

func TestRegistered(t *testing.T) {
	if !slices.Contains(connect.RegisteredMethods(), cloudsql.AuthMethod) {
		t.Fatalf("google is not registered: %v", connect.RegisteredMethods())
	}
}

// The IAM token from the metadata server reaches PostgreSQL as the IAM
// user's password, through the connector's TLS tunnel and the instance's
// proxy; the session is the IAM user's.
func TestConnectsAsIAMUser(t *testing.T) {
	c := newCloud(t)
	db := pg.NewDatabase(t)
	tg := c.target(t, c.flags(db))
	if c.md.TokenRequests() != 0 || c.api.SettingsCalls() != 0 {
		t.Fatalf("resolving the target contacted Google: %d token requests, %d Admin API calls", c.md.TokenRequests(), c.api.SettingsCalls())
	}

	start := time.Now()
	conn, err := dial(t, tg, db)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	first := time.Since(start)
	var user, database string
	if err := conn.QueryRow(t.Context(), "SELECT current_user, current_database()").Scan(&user, &database); err != nil {
		t.Fatal(err)
	}
	if user != c.user || database != db {
		t.Fatalf("session is %s on %s, want %s on %s", user, database, c.user, db)
	}
	if conn.Config().Password != "" || conn.Config().TLSConfig != nil {
		t.Fatalf("pgx was given a password or TLS of its own; the connector provides both")
	}
	logins := c.inst.Logins()
	if len(logins) != 1 || !logins[0].IAM || logins[0].User != c.user || logins[0].Address != publicIP {
		t.Fatalf("instance logins = %+v, want one IAM login of %s over %s", logins, c.user, publicIP)
	}

	// A second physical connection reuses the connector's certificate.
	start = time.Now()
	if _, err := dial(t, tg, db); err != nil {
		t.Fatalf("second dial: %v", err)
	}
	t.Logf("first connection %v (Admin API, key, TLS), second %v", first.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if c.api.SettingsCalls() != 1 || c.api.CertCalls() != 1 {
		t.Fatalf("Admin API calls: %d connectSettings, %d generateEphemeralCert; want 1 each", c.api.SettingsCalls(), c.api.CertCalls())
	}
	if got := c.api.Dials(); !slices.Equal(got, []string{publicIP + ":3307", publicIP + ":3307"}) {
		t.Fatalf("dialled %v", got)
	}
}

// A service account's full e-mail as -U (as in -U $SA_EMAIL) is trimmed to
// Cloud SQL's IAM database user, the e-mail without .gserviceaccount.com.
func TestServiceAccountEmailIsTrimmedToItsUser(t *testing.T) {
	c := newCloud(t)
	f := c.flags("postgres")
	f.User = c.email
	conn, err := dial(t, c.target(t, f), "postgres")
	if err != nil {
		t.Fatalf("dial as %s: %v", c.email, err)
	}
	var user string
	if err := conn.QueryRow(t.Context(), "SELECT current_user").Scan(&user); err != nil {
		t.Fatal(err)
	}
	if logins := c.inst.Logins(); user != c.user || len(logins) != 1 || logins[0].User != c.user || !logins[0].IAM {
		t.Fatalf("session user %q, logins %+v; want the IAM user %q", user, logins, c.user)
	}
}

// The deploy path: connect to the target, creating it through the
// maintenance database first, with the compatibility probe on each
// connection.
func TestLifecycleCreatesTarget(t *testing.T) {
	c := newCloud(t)
	db := "gcp_new_" + randomID()
	t.Cleanup(func() { cleanupExec(t, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
	tg := c.target(t, c.flags(db))
	lc := &connect.Lifecycle{Target: tg}
	conn, err := lc.Open(t.Context())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer conn.Close(context.Background())
	var owner string
	if err := conn.QueryRow(t.Context(), "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()").Scan(&owner); err != nil {
		t.Fatal(err)
	}
	if owner != c.user {
		t.Fatalf("database owner %q, want the IAM user %q", owner, c.user)
	}
}

// --google-ip-type picks the address the connector dials.
func TestIPTypeSelectsAddress(t *testing.T) {
	for _, tc := range []struct{ ipType, addr string }{
		{"", publicIP}, {"public", publicIP}, {"private", privIP}, {"PSC", pscName},
	} {
		t.Run("type="+tc.ipType, func(t *testing.T) {
			c := newCloud(t)
			f := c.flags("postgres")
			f.Auth["google-ip-type"] = tc.ipType
			if _, err := dial(t, c.target(t, f), "postgres"); err != nil {
				t.Fatalf("dial: %v", err)
			}
			if got := c.api.Dials(); !slices.Equal(got, []string{tc.addr + ":3307"}) {
				t.Fatalf("dialled %v, want %s:3307", got, tc.addr)
			}
			if l := c.inst.Logins(); len(l) != 1 || l[0].Address != tc.addr {
				t.Fatalf("logins %+v, want one over %s", l, tc.addr)
			}
		})
	}
}

// An instance without the requested address type is a settings problem.
func TestIPTypeTheInstanceLacks(t *testing.T) {
	c := newCloud(t)
	inst := c.api.AddInstance(t, gcpfake.InstanceConfig{
		Project: project, Region: region, Name: "public-only", PublicIP: "192.0.2.11",
		PostgresHost: pg.Host(), PostgresPort: pg.Port(),
	})
	f := c.flags("postgres")
	f.Auth["google-instance"], f.Auth["google-ip-type"] = inst.ConnectionName, "private"
	_, err := dial(t, c.target(t, f), "postgres")
	wantFailure(t, c, err, 10, "private IP address", "--google-ip-type")
	if len(c.api.Dials()) != 0 {
		t.Fatalf("dialled %v", c.api.Dials())
	}
}

func TestRegionMismatch(t *testing.T) {
	c := newCloud(t)
	f := c.flags("postgres")
	f.Auth["google-instance"] = project + ":europe-west1:main"
	_, err := dial(t, c.target(t, f), "postgres")
	wantFailure(t, c, err, 10, "check the region in the instance connection name (--google-instance, PGMI_GOOGLE_INSTANCE)")
}

// Bad settings are refused before anything reaches Google (exit 10),
// whether resolution catches them or the provider does (a Config built by a
// library caller goes straight to NewTarget).
func TestBadSettingsAreConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		instance string
		ipType   string
		user     string
		want     string
	}{
		{"instance id only", "main", "", "u@p.iam", "expected the instance connection name project:region:instance"},
		{"zone for region", "my-project:us-central1-a:main", "", "u@p.iam", "not a zone"},
		{"upper case", "My-Project:us-central1:main", "", "u@p.iam", "lower-case"},
		{"four parts without domain", "a:b:c:d", "", "u@p.iam", "project:region:instance"},
		{"empty instance", "", "", "u@p.iam", "needs the instance connection name"},
		{"bad ip type", "my-project:us-central1:main", "vpc", "u@p.iam", "use public, private or psc"},
		{"no user", "my-project:us-central1:main", "", "", "needs the IAM database user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCloud(t)
			cfg := &connect.Config{
				Hosts: []string{"localhost"}, User: tc.user, Database: "postgres", Auth: cloudsql.AuthMethod,
				AuthSettings: connect.AuthSettings{}.With(cloudsql.SettingInstance, tc.instance, "").With(cloudsql.SettingIPType, tc.ipType, ""),
			}
			tg, err := connect.NewTarget(cfg, c.options())
			if err != nil {
				t.Fatalf("new target: %v", err)
			}
			defer tg.Close()
			_, err = dial(t, tg, "postgres")
			wantFailure(t, c, err, 10, tc.want)
			if c.md.TokenRequests() != 0 || c.api.SettingsCalls()+c.api.CertCalls() != 0 || len(c.api.Dials()) != 0 {
				t.Fatalf("a bad setting reached Google")
			}
		})
	}
}

// Through the command-line path, resolution refuses the same names first.
func TestBadInstanceFromFlags(t *testing.T) {
	c := newCloud(t)
	f := c.flags("postgres")
	f.Auth["google-instance"] = "main"
	_, err := connect.ResolveWith(f, emptyEnv, pgmiyaml.Connection{}, c.options())
	wantFailure(t, c, err, 10, "project:region:instance")
}

// The Admin API refusing access (missing role, API disabled) is a
// connection failure that says what to check, and is not retried.
func TestAdminAPIPermissionDenied(t *testing.T) {
	c := newCloud(t)
	fault := gcpfake.APIError(403, "PERMISSION_DENIED", "notAuthorized", "The client is not authorized to make this request.")
	fault.Match = func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/connectSettings") }
	denied := c.api.Faults.Inject(fault)
	_, err := dial(t, c.target(t, c.flags("postgres")), "postgres")
	wantFailure(t, c, err, 11, c.inst.ConnectionName, "roles/cloudsql.client", "roles/cloudsql.instanceUser",
		"sqladmin.googleapis.com", c.email, `project "my-project"`, "HTTP 403")
	if denied.Seen() != 1 {
		t.Fatalf("connectSettings was asked %d times; a 403 must not be retried", denied.Seen())
	}
	if len(c.api.Dials()) != 0 {
		t.Fatalf("dialled %v", c.api.Dials())
	}
}

// An instance that does not exist gets the same 403 from the real API.
func TestUnknownInstance(t *testing.T) {
	c := newCloud(t)
	f := c.flags("postgres")
	f.Auth["google-instance"] = project + ":" + region + ":nope"
	_, err := dial(t, c.target(t, f), "postgres")
	wantFailure(t, c, err, 11, "an unknown project or instance also gives 403", project+":"+region+":nope")
}

func TestAdminAPINotFound(t *testing.T) {
	c := newCloud(t)
	fault := gcpfake.APIError(404, "NOT_FOUND", "instanceDoesNotExist", "The Cloud SQL instance does not exist.")
	c.api.Faults.Inject(fault)
	_, err := dial(t, c.target(t, c.flags("postgres")), "postgres")
	wantFailure(t, c, err, 11, "was not found", "gcloud sql instances describe")
}

// The metadata server failing to give a token is a credentials problem.
func TestMetadataTokenFailure(t *testing.T) {
	c := newCloud(t)
	c.md.Faults.Inject(testfakes.Fault{
		Match:  func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/token") },
		Status: http.StatusNotFound,
	})
	_, err := dial(t, c.target(t, c.flags("postgres")), "postgres")
	wantFailure(t, c, err, 11, "could not get a Google access token", "metadata server")
}

// No Application Default Credentials at all.
func TestNoCredentials(t *testing.T) {
	c := newCloud(t)
	t.Setenv("GCE_METADATA_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", t.TempDir()+"/missing.json")
	_, err := dial(t, c.target(t, c.flags("postgres")), "postgres")
	wantFailure(t, c, err, 11, "no usable Google credentials", "GOOGLE_APPLICATION_CREDENTIALS")
}

// PostgreSQL refusing the token (the IAM user's password differs) is an
// authentication failure, and the token is not in the message.
func TestTokenRejectedByServer(t *testing.T) {
	c := newCloud(t)
	pg.Exec(t, "postgres", "ALTER ROLE "+pgx.Identifier{c.user}.Sanitize()+" PASSWORD 'not-the-token'")
	_, err := dial(t, c.target(t, c.flags("postgres")), "postgres")
	wantFailure(t, c, err, 11, "token", c.user)
	if l := c.inst.Logins(); len(l) == 0 || l[0].Err == nil {
		t.Fatalf("the proxy's login should have failed: %+v", l)
	}
}

// Targets of one factory share the dialer (and its certificate) while any is
// open; the last Close releases it and a later Target makes a new one.
func TestDialerSharedUntilLastClose(t *testing.T) {
	c := newCloud(t)
	a, b := c.target(t, c.flags("postgres")), c.target(t, c.flags("postgres"))
	for _, tg := range []*connect.Target{a, b} {
		if _, err := dial(t, tg, "postgres"); err != nil {
			t.Fatal(err)
		}
	}
	if c.api.CertCalls() != 1 {
		t.Fatalf("%d certificates for two targets of one factory, want 1", c.api.CertCalls())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, b, "postgres"); err != nil {
		t.Fatalf("b after a closed: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := dial(t, b, "postgres")
	wantFailure(t, c, err, 11, "closed")
	if _, err := dial(t, c.target(t, c.flags("postgres")), "postgres"); err != nil {
		t.Fatalf("a new target after the dialer closed: %v", err)
	}
	if c.api.CertCalls() != 2 {
		t.Fatalf("%d certificates, want a second one for the new dialer", c.api.CertCalls())
	}
}

// wantFailure checks the exit code and message, and that no token leaks.
func wantFailure(t *testing.T, c *cloud, err error, code int, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want exit %d", code)
	}
	texts := append(errorTexts(err), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	c.noSecrets(t, texts...)
	if got := exitCode(err); got != code {
		t.Fatalf("exit %d, want %d: %v", got, code, err)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message lacks %q:\n%v", s, err)
		}
	}
	t.Logf("exit %d: %v", code, err)
}

// A refused connection to the instance is transient: the next attempt
// (with a refreshed certificate) succeeds.
func TestRefusedDialIsRetried(t *testing.T) {
	c := newCloud(t)
	var calls atomic.Int32
	c.api.DialHook = func(context.Context, string) error {
		if calls.Add(1) == 1 {
			return gcpfake.Refused("tcp")
		}
		return nil
	}
	if _, err := dial(t, c.target(t, c.flags("postgres")), "postgres"); err != nil {
		t.Fatalf("dial: %v", err)
	}
	if n := len(c.api.Dials()); n != 2 {
		t.Fatalf("%d dials, want 2 (one refused, one retried)", n)
	}
}

// A network that never answers runs into the deadline: a timeout (exit 16),
// not a connection failure.
func TestDeadlineWhileDialling(t *testing.T) {
	c := newCloud(t)
	c.api.DialHook = func(ctx context.Context, _ string) error {
		<-ctx.Done()
		return ctx.Err()
	}
	tg := c.target(t, c.flags("postgres"))
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	_, err := tg.Dial(ctx, "postgres")
	wantFailure(t, c, err, 16, "timed out")
}

// The engine stops a running statement with a cancel request (PgConn.
// CancelRequest); it travels through the connector and the instance's proxy
// on a connection of its own.
func TestCancelRequestReachesServer(t *testing.T) {
	c := newCloud(t)
	conn, err := dial(t, c.target(t, c.flags("postgres")), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(context.Background(), "SELECT pg_sleep(30)")
		done <- err
	}()
	monitor := pg.Connect(t, "postgres")
	deadline := time.Now().Add(10 * time.Second)
	for !sleeping(t, monitor, c.user) {
		if time.Now().After(deadline) {
			t.Fatal("the statement never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := conn.PgConn().CancelRequest(t.Context()); err != nil {
		t.Fatalf("cancel request: %v", err)
	}
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the statement was not canceled")
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Fatalf("err = %v, want the server's query_canceled (57014)", err)
	}
}

// sleeping reports whether user's session is running pg_sleep.
func sleeping(t *testing.T, monitor *pgx.Conn, user string) bool {
	var n int
	err := monitor.QueryRow(t.Context(),
		"SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'", user).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}
