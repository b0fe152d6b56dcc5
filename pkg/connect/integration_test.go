package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/pgserver"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// One password-protected cluster for the package, listening on ::1 too when
// this machine has IPv6.
var (
	pw    *testpg.Cluster
	pwErr error
)

func TestMain(m *testing.M) {
	var stop func()
	pw, stop, pwErr = testpg.StartMain(pgserver.WithPasswordAuth(), pgserver.WithConfig("listen_addresses", "127.0.0.1,::1"))
	code := m.Run()
	stop()
	os.Exit(code)
}

// isolatedEnv is an environment with a private HOME, so the machine's
// ~/.pgpass and ~/.postgresql never take part, plus kv.
func isolatedEnv(t *testing.T, kv ...string) Env {
	return envOf(append([]string{"HOME", t.TempDir(), "USER", "nobody-in-particular"}, kv...)...)
}

func hostFlags(c *testpg.Cluster, db string) Flags {
	return Flags{Host: c.Host(), Port: c.Port(), User: "postgres", Database: db}
}

// openTarget resolves and opens the session connection the way the CLI does
// (Lifecycle.Open: dial, probe, create the database when missing).
func openTarget(t *testing.T, f Flags, env Env, opts *Options) (*pgx.Conn, error) {
	t.Helper()
	tgt, err := ResolveWith(f, env, pgmiyaml.Connection{}, opts)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { tgt.Close() })
	conn, err := (&Lifecycle{Target: tgt}).Open(t.Context())
	if err == nil {
		t.Cleanup(func() { conn.Close(context.Background()) })
	}
	return conn, err
}

func mustOpen(t *testing.T, f Flags, env Env) *pgx.Conn {
	t.Helper()
	conn, err := openTarget(t, f, env, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(t.Context(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestPasswordAuthEveryForm(t *testing.T) {
	testpg.Require(t, pwErr)
	db := pw.NewDatabase(t)
	secret := pw.Password()
	forms := map[string]Flags{
		"flags + PGPASSWORD": hostFlags(pw, db),
		"URI":                {ConnString: fmt.Sprintf("postgresql://postgres:%s@127.0.0.1:%d/%s?sslmode=disable", secret, pw.Port(), db)},
		"ADO.NET":            {ConnString: fmt.Sprintf("Host=127.0.0.1;Port=%d;Database=%s;Username=postgres;Password='%s';SSL Mode=Disable;Pooling=false", pw.Port(), db, secret)},
		"keyword/value":      {ConnString: fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s user=postgres password='%s'", pw.Port(), db, secret)},
		"two-database URI":   {ConnString: fmt.Sprintf("postgresql://postgres:%s@127.0.0.1:%d/postgres", secret, pw.Port()), Database: db},
	}
	for name, f := range forms {
		t.Run(name, func(t *testing.T) {
			env := isolatedEnv(t)
			if f.ConnString == "" {
				env = isolatedEnv(t, "PGPASSWORD", secret)
			}
			conn := mustOpen(t, f, env)
			if got := queryString(t, conn, "SELECT current_database() || '/' || current_user || '/' || current_setting('application_name')"); got != db+"/postgres/pgmi" {
				t.Errorf("session = %s", got)
			}
		})
	}
}

func TestWrongPasswordIsExit11WithoutTheSecret(t *testing.T) {
	testpg.Require(t, pwErr)
	const wrong = "Wr0ng-Passw0rd-x"
	for name, f := range map[string]Flags{
		"PGPASSWORD": hostFlags(pw, "postgres"),
		"URI":        {ConnString: fmt.Sprintf("postgresql://postgres:%s@127.0.0.1:%d/postgres", wrong, pw.Port())},
		"ADO.NET":    {ConnString: fmt.Sprintf("Server=127.0.0.1;Port=%d;User Id=postgres;Pwd=%s;Database=postgres", pw.Port(), wrong)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := openTarget(t, f, isolatedEnv(t, "PGPASSWORD", wrong), nil)
			if exitcode.Of(err) != 11 {
				t.Fatalf("exit %d: %v", exitcode.Of(err), err)
			}
			msg := fmt.Sprintf("%v %+v %#v", err, err, err)
			if !strings.Contains(err.Error(), `password authentication failed for user "postgres"`) || !strings.Contains(err.Error(), "PGPASSWORD") {
				t.Errorf("message: %v", err)
			}
			if strings.Contains(msg, wrong) {
				t.Errorf("the password is printed: %s", msg)
			}
		})
	}
}

func TestPgpass(t *testing.T) {
	testpg.Require(t, pwErr)
	db := pw.NewDatabase(t)
	dir := t.TempDir()
	line := fmt.Sprintf("127.0.0.1:%d:%s:postgres:%s\n", pw.Port(), strings.ReplaceAll(db, ":", `\:`), pw.Password())
	good := writeFile(t, dir, "good.pgpass", []byte("# target only\n"+line))
	conn := mustOpen(t, hostFlags(pw, db), isolatedEnv(t, "PGPASSFILE", good))
	if got := queryString(t, conn, "SELECT current_database()"); got != db {
		t.Errorf("connected to %s", got)
	}

	// The default location, ~/.pgpass, with a wildcard line.
	home := t.TempDir()
	writeFile(t, home, ".pgpass", []byte("*:*:*:postgres:"+pw.Password()+"\n"))
	mustOpen(t, hostFlags(pw, db), envOf("HOME", home))

	// A world-readable file is ignored with a warning, as libpq does.
	open := writeFile(t, dir, "open.pgpass", []byte(line))
	os.Chmod(open, 0o644)
	var warnings []string
	_, err := openTarget(t, hostFlags(pw, db), isolatedEnv(t, "PGPASSFILE", open), &Options{Log: warnLog(&warnings)})
	if exitcode.Of(err) != 11 || len(warnings) != 1 || !strings.Contains(warnings[0], "group or world access") {
		t.Errorf("exit %d %v; warnings %q", exitcode.Of(err), err, warnings)
	}
}

func TestUnixSocketHost(t *testing.T) {
	testpg.Require(t, pwErr)
	db := pw.NewDatabase(t)
	dir := pw.SocketDir()
	for name, f := range map[string]Flags{
		"flag":       {Host: dir, Port: pw.Port(), User: "postgres", Database: db},
		"URI":        {ConnString: fmt.Sprintf("postgresql://postgres@%s:%d/%s", strings.ReplaceAll(dir, "/", "%2F"), pw.Port(), db)},
		"URI ?host=": {ConnString: fmt.Sprintf("postgresql:///%s?host=%s&port=%d&user=postgres", db, dir, pw.Port())},
		"ADO.NET":    {ConnString: fmt.Sprintf("Host=%s;Port=%d;Username=postgres;Database=%s", dir, pw.Port(), db)},
		"keyword":    {ConnString: fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=require", dir, pw.Port(), db)},
	} {
		t.Run(name, func(t *testing.T) {
			conn := mustOpen(t, f, isolatedEnv(t))
			if got := queryString(t, conn, "SELECT coalesce(inet_server_addr()::text, 'socket')"); got != "socket" {
				t.Errorf("went over %s, not the socket", got)
			}
		})
	}
}

func TestIPv6Host(t *testing.T) {
	testpg.Require(t, pwErr)
	if l, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("this machine has no IPv6 loopback (%v)", err)
	} else {
		l.Close()
	}
	for name, f := range map[string]Flags{
		"flag":    {Host: "::1", Port: pw.Port(), User: "postgres", Database: "postgres"},
		"URI":     {ConnString: fmt.Sprintf("postgresql://postgres:%s@[::1]:%d/postgres", pw.Password(), pw.Port())},
		"ADO.NET": {ConnString: fmt.Sprintf("Host=[::1]:%d;Username=postgres;Password=%s;Database=postgres", pw.Port(), pw.Password())},
	} {
		t.Run(name, func(t *testing.T) {
			conn := mustOpen(t, f, isolatedEnv(t, "PGPASSWORD", pw.Password()))
			if got := queryString(t, conn, "SELECT host(inet_server_addr())"); got != "::1" {
				t.Errorf("server address %s", got)
			}
		})
	}
}

func TestOpenCreatesAMissingTargetAndProbes(t *testing.T) {
	testpg.Require(t, pwErr)
	db := fmt.Sprintf("created_%d", os.Getpid())
	t.Cleanup(func() { cleanupExec(t, pw, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
	conn := mustOpen(t, hostFlags(pw, db), isolatedEnv(t, "PGPASSWORD", pw.Password()))
	s, err := Probe(t.Context(), conn)
	if err != nil || s.Database != db || s.User != "postgres" || s.VersionNum < MinVersionNum || s.Addr == nil ||
		!strings.HasPrefix(s.Version, "PostgreSQL") || s.BackendPID != conn.PgConn().PID() {
		t.Errorf("probe %+v: %v", s, err)
	}
}

// pgmi's B16: a missing maintenance database is named as such.
func TestMissingMaintenanceDatabase(t *testing.T) {
	testpg.Require(t, pwErr)
	tgt, err := ResolveWith(hostFlags(pw, "never_created_target"), isolatedEnv(t, "PGPASSWORD", pw.Password()),
		pgmiyaml.Connection{MaintenanceDatabase: "no_such_maintenance"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Lifecycle{Target: tgt}).Open(t.Context())
	if exitcode.Of(err) != 11 || !strings.Contains(err.Error(), `the maintenance database "no_such_maintenance" does not exist`) ||
		!strings.Contains(err.Error(), "maintenance_database") {
		t.Errorf("exit %d: %v", exitcode.Of(err), err)
	}
}

// The provider seam: a token provider is asked before every physical
// connection, and its token is the password.
func TestProviderTokenPerConnection(t *testing.T) {
	testpg.Require(t, pwErr)
	role := fmt.Sprintf("iam_%d", os.Getpid())
	const token = "tok-3xample-Token-Value"
	pw.Exec(t, "postgres", fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, token))
	t.Cleanup(func() { cleanupExec(t, pw, "DROP ROLE IF EXISTS "+role) })
	var calls atomic.Int32
	var built atomic.Int32
	factory := func(_ context.Context, c *Config, log *slog.Logger) (Provider, error) {
		built.Add(1)
		if c.AuthSettings.Get("region") != "us-west-2" || log == nil {
			return nil, errors.New("region not passed to the provider")
		}
		return ProviderFunc(func(_ context.Context, cfg *pgx.ConnConfig) error {
			calls.Add(1)
			cfg.Password = token
			return nil
		}), nil
	}
	f := Flags{Host: pw.Host(), Port: pw.Port(), User: role, Database: "postgres", SSLMode: "disable"}
	opts := &Options{DefaultAuth: "iamtoken", Factory: func(ctx context.Context, c *Config, log *slog.Logger) (Provider, error) {
		c.AuthSettings = c.AuthSettings.With("region", "us-west-2", "test")
		return factory(ctx, c, log)
	}}
	tgt, err := ResolveWith(f, isolatedEnv(t, "PGPASSWORD", "not-used"), pgmiyaml.Connection{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		conn, err := tgt.Dial(t.Context(), "postgres")
		if err != nil {
			t.Fatal(err)
		}
		conn.Close(context.Background())
	}
	if built.Load() != 1 || calls.Load() != 2 {
		t.Errorf("factory built %d times, token fetched %d times; want 1 and 2", built.Load(), calls.Load())
	}

	// A token the server rejects says so, without the token.
	bad := ProviderFunc(func(_ context.Context, cfg *pgx.ConnConfig) error { cfg.Password = "Expired-Token-9"; return nil })
	opts.Factory = func(context.Context, *Config, *slog.Logger) (Provider, error) { return bad, nil }
	_, err = openTarget(t, f, isolatedEnv(t), opts)
	if exitcode.Of(err) != 11 || !strings.Contains(err.Error(), "iamtoken token") || strings.Contains(err.Error(), "Expired-Token-9") {
		t.Errorf("exit %d: %v", exitcode.Of(err), err)
	}
	// A provider that cannot get a token: exit 11, retried only when transient.
	var tries atomic.Int32
	failing := ProviderFunc(func(context.Context, *pgx.ConnConfig) error { tries.Add(1); return selfTransient(true) })
	opts.Factory = func(context.Context, *Config, *slog.Logger) (Provider, error) { return failing, nil }
	_, err = openTarget(t, f, isolatedEnv(t), opts)
	if exitcode.Of(err) != 11 || tries.Load() != 4 || !strings.Contains(err.Error(), "could not get an access token (iamtoken authentication)") {
		t.Errorf("exit %d after %d tries: %v", exitcode.Of(err), tries.Load(), err)
	}
}

func TestRequireAgainstServerWithoutSSL(t *testing.T) {
	testpg.Require(t, pwErr)
	_, err := openTarget(t, Flags{Host: pw.Host(), Port: pw.Port(), User: "postgres", Database: "postgres", SSLMode: "require"},
		isolatedEnv(t, "PGPASSWORD", pw.Password()), nil)
	if exitcode.Of(err) != 11 || !strings.Contains(err.Error(), "SSL/TLS") {
		t.Errorf("exit %d: %v", exitcode.Of(err), err)
	}
	// prefer falls back to plaintext.
	mustOpen(t, hostFlags(pw, "postgres"), isolatedEnv(t, "PGPASSWORD", pw.Password()))
}

// cleanupExec runs sql in postgres from a Cleanup, where t.Context is done.
func cleanupExec(t *testing.T, c *testpg.Cluster, sql string) {
	conn, err := pgx.Connect(context.Background(), c.ConnString("postgres"))
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Error(err)
	}
}

func TestRecreateRefusesATemplateDatabaseAndKeepsIt(t *testing.T) {
	testpg.Require(t, pwErr)
	db := pw.NewDatabase(t)
	pw.Exec(t, "postgres", "ALTER DATABASE "+db+" WITH IS_TEMPLATE true")
	t.Cleanup(func() { cleanupExec(t, pw, "ALTER DATABASE "+db+" WITH IS_TEMPLATE false") })
	tgt, err := ResolveWith(hostFlags(pw, db), isolatedEnv(t, "PGPASSWORD", pw.Password()), pgmiyaml.Connection{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	approve := func(context.Context, string) error { return nil }
	_, err = (&Lifecycle{Target: tgt}).Recreate(t.Context(), approve)
	if exitcode.Of(err) != 10 || !strings.Contains(err.Error(), "template database") {
		t.Errorf("exit %d: %v", exitcode.Of(err), err)
	}
	conn := pw.Connect(t, "postgres")
	var exists bool
	conn.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists)
	if !exists {
		t.Error("the template database was dropped")
	}
}

// --overwrite keeps the database's settings as they were, list settings
// included: search_path = "$user", app, "My Schema" comes back as three
// schemas, not as one literal naming a single schema "$user", app, ….
func TestRecreateKeepsListSettings(t *testing.T) {
	testpg.Require(t, pwErr)
	db := pw.NewDatabase(t)
	pw.Exec(t, "postgres", "ALTER DATABASE "+db+` SET search_path = "$user", app, "My Schema", "a""b"`)
	pw.Exec(t, "postgres", "ALTER DATABASE "+db+" SET work_mem = '8MB'")
	before := dbSetconfig(t, db)
	tgt, err := ResolveWith(hostFlags(pw, db), isolatedEnv(t, "PGPASSWORD", pw.Password()), pgmiyaml.Connection{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tgt.Close() })
	conn, err := (&Lifecycle{Target: tgt}).Recreate(t.Context(), func(context.Context, string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	if after := dbSetconfig(t, db); after != before {
		t.Errorf("setconfig before --overwrite: %s, after: %s", before, after)
	}
}

// dbSetconfig is database db's own settings (pg_db_role_setting) as text.
func dbSetconfig(t *testing.T, db string) string {
	t.Helper()
	conn := pw.Connect(t, "postgres")
	var s string
	if err := conn.QueryRow(t.Context(), `SELECT s.setconfig::text FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1 AND s.setrole = 0`, db).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// settingValue gives a list setting back one literal per stored element
// (PostgreSQL quotes each again as it stores it) and any other setting as one
// literal.
func TestSettingValue(t *testing.T) {
	cases := []struct{ name, stored, want string }{
		{"search_path", `"$user", public`, `'$user', 'public'`},
		{"search_path", `app,"My Schema" , "a""b", "it's"`, `'app', 'My Schema', 'a"b', 'it''s'`},
		{"temp_tablespaces", `""`, `''`},
		{"search_path", `"unclosed`, `'"unclosed'`},
		{"DateStyle", "ISO, MDY", `'ISO, MDY'`},
		{"work_mem", "8MB", `'8MB'`},
	}
	for _, tc := range cases {
		if got := settingValue(tc.name, tc.stored); got != tc.want {
			t.Errorf("settingValue(%s, %s) = %s; want %s", tc.name, tc.stored, got, tc.want)
		}
	}
}
