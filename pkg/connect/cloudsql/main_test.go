package cloudsql_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/pgserver"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/gcpfake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// One cluster for the package, standing in for the Cloud SQL instance's
// PostgreSQL: TCP logins use scram, so the IAM token the fake's proxy
// presents as the password must be the role's password.
var (
	pg    *testpg.Cluster
	pgErr error
)

func TestMain(m *testing.M) {
	var stop func()
	pg, stop, pgErr = testpg.StartMain(pgserver.WithPasswordAuth())
	code := m.Run()
	stop()
	os.Exit(code)
}

const (
	project  = "my-project"
	region   = "us-central1"
	publicIP = "192.0.2.10"
	privIP   = "10.20.0.5"
	pscName  = "a1b2c3d4e5f6.x1y2z3.us-central1.sql.goog"
)

// cloud is one test's fake Google Cloud: metadata server (the ambient
// identity, a service account of its own), Admin API, one instance in front
// of the package's PostgreSQL, and the IAM database user of that service
// account, whose password is the login token.
type cloud struct {
	md      *gcpfake.Metadata
	api     *gcpfake.AdminAPI
	inst    *gcpfake.Instance
	user    string // IAM database user
	email   string // service account
	factory connect.ProviderFactory
}

func newCloud(t *testing.T) *cloud {
	t.Helper()
	testpg.Require(t, pgErr)
	id := randomID()
	c := &cloud{email: "pgmi-" + id + "@" + project + ".iam.gserviceaccount.com"}
	c.user = strings.TrimSuffix(c.email, ".gserviceaccount.com")
	c.md = gcpfake.StartMetadata(t, project, c.email)
	c.md.Use(t)
	c.api = gcpfake.StartAdmin(t, c.md)
	c.inst = c.api.AddInstance(t, gcpfake.InstanceConfig{
		Project: project, Region: region, Name: "main",
		PublicIP: publicIP, PrivateIP: privIP, PSCName: pscName,
		PostgresHost: pg.Host(), PostgresPort: pg.Port(),
	})
	c.createUser(t, c.md.TokenFor(gcpfake.ScopeSQLLogin))
	c.factory = cloudsql.NewFactory(&cloudsql.Options{DialerOptions: c.api.DialerOptions()})
	return c
}

// createUser makes the IAM user's role with password; the test's cleanup
// drops it after the test's databases are gone.
func (c *cloud) createUser(t *testing.T, password string) {
	t.Helper()
	pg.Exec(t, "postgres", "CREATE ROLE "+pgx.Identifier{c.user}.Sanitize()+" LOGIN CREATEDB PASSWORD "+literal(password))
	t.Cleanup(func() { cleanupExec(t, "DROP ROLE IF EXISTS "+pgx.Identifier{c.user}.Sanitize()) })
}

// cleanupExec runs sql as the superuser from a cleanup, when the test's
// context is already canceled.
func cleanupExec(t *testing.T, sql string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.ConnString("postgres"))
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Errorf("cleanup: %s: %v", sql, err)
	}
}

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// flags are the command line of a deploy to db through the instance.
func (c *cloud) flags(db string) connect.Flags {
	return connect.Flags{Auth: map[string]string{"google": "true", "google-instance": c.inst.ConnectionName}, User: c.user, Database: db}
}

// options make the Target use this test's factory (the registered one
// would reach Google).
func (c *cloud) options() *connect.Options {
	return &connect.Options{Factory: c.factory}
}

// target resolves the flags with an empty environment and no pgmi.yaml.
func (c *cloud) target(t *testing.T, f connect.Flags) *connect.Target {
	t.Helper()
	tg, err := connect.ResolveWith(f, emptyEnv, pgmiyaml.Connection{}, c.options())
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func emptyEnv(string) (string, bool) { return "", false }

// dial connects as the deploy would, with a deadline.
func dial(t *testing.T, tg *connect.Target, db string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := tg.Dial(ctx, db)
	if err == nil {
		t.Cleanup(func() { conn.Close(context.Background()) })
	}
	return conn, err
}

// exitCode is the exit code pgmi would end with.
func exitCode(err error) int { return exitcode.For(fault.KindOf(err)) }

// noSecrets fails when any token the metadata server made appears in text.
func (c *cloud) noSecrets(t *testing.T, texts ...string) {
	t.Helper()
	for _, tok := range c.md.Tokens() {
		for _, s := range texts {
			if strings.Contains(s, tok) {
				t.Fatalf("an access token appears in output: %q", s)
			}
		}
	}
}

// errorTexts renders an error every way a caller might print it.
func errorTexts(err error) []string {
	var out []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		out = append(out, e.Error())
	}
	return out
}
