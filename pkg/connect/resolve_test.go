package connect

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

func envOf(kv ...string) Env {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// baseEnv has a user and no home, so nothing on this machine leaks in.
func baseEnv(kv ...string) Env { return envOf(append([]string{"USER", "osuser"}, kv...)...) }

func resolveOK(t *testing.T, f Flags, env Env, yml pgmiyaml.Connection) *Config {
	t.Helper()
	c, err := ResolveConfig(f, env, yml, nil)
	if err != nil {
		t.Fatalf("ResolveConfig: %v", err)
	}
	return c
}

func resolveErr(t *testing.T, f Flags, env Env, yml pgmiyaml.Connection, want string) error {
	t.Helper()
	_, err := ResolveConfig(f, env, yml, nil)
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if fault.KindOf(err) != fault.Config {
		t.Errorf("kind %v, want config: %v", fault.KindOf(err), err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	return err
}

func TestResolveDefaults(t *testing.T) {
	c := resolveOK(t, Flags{Database: "app"}, baseEnv(), pgmiyaml.Connection{})
	want := Config{Hosts: []string{"localhost"}, User: "osuser", Database: "app", MaintenanceDatabase: "postgres",
		ApplicationName: "pgmi", Auth: AuthPassword}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("\n got  %#v\n want %#v", c, &want)
		t.Errorf("%+v", *c)
	}
	if c.Address() != "localhost:5432" || c.sslMode() != "prefer" {
		t.Errorf("defaults: %s %s", c.Address(), c.sslMode())
	}
}

// Every field: flag > connection string > PG* > pgmi.yaml > default.
func TestResolvePrecedenceFieldByField(t *testing.T) {
	yml := pgmiyaml.Connection{Host: "yhost", Port: 1111, Username: "yuser", Database: "ydb", SSLMode: "allow",
		SSLCert: "/y.crt", SSLKey: "/y.key", SSLRootCert: "/y.ca"}
	env := baseEnv("PGHOST", "ehost", "PGPORT", "2222", "PGUSER", "euser", "PGDATABASE", "edb", "PGSSLMODE", "prefer",
		"PGSSLCERT", "/e.crt", "PGSSLKEY", "/e.key", "PGSSLROOTCERT", "/e.ca", "PGPASSWORD", "epw", "PGSSLPASSWORD", "esslpw",
		"PGAPPNAME", "eapp", "PGCONNECT_TIMEOUT", "9", "PGOPTIONS", "-c x=1", "PGPASSFILE", "/e.pgpass")

	c := resolveOK(t, Flags{}, env, yml)
	if c.Hosts[0] != "ehost" || c.Ports[0] != 2222 || c.User != "euser" || c.Database != "edb" || c.SSL.Mode != "prefer" ||
		c.SSL.Cert != "/e.crt" || c.SSL.Key != "/e.key" || c.SSL.RootCert != "/e.ca" || c.Password.Reveal() != "epw" ||
		c.SSL.Password.Reveal() != "esslpw" || c.ApplicationName != "eapp" || c.ConnectTimeout != 9*time.Second ||
		c.Params["options"] != "-c x=1" || c.Passfile != "/e.pgpass" {
		t.Errorf("env over yaml: %+v %v", *c, c.Params)
	}

	c = resolveOK(t, Flags{}, baseEnv(), yml)
	if c.Hosts[0] != "yhost" || c.Ports[0] != 1111 || c.User != "yuser" || c.Database != "ydb" || c.SSL.Mode != "allow" ||
		c.SSL.Cert != "/y.crt" || c.SSL.RootCert != "/y.ca" {
		t.Errorf("yaml alone: %+v", *c)
	}

	str := "postgresql://suser:spw@shost:3333/sdb?sslmode=require&sslcert=/s.crt&sslkey=/s.key&sslpassword=sslpw&application_name=sapp&connect_timeout=4&options=-c%20y%3D2"
	c = resolveOK(t, Flags{}, envWith(env, "DATABASE_URL", str), yml)
	if c.Hosts[0] != "shost" || c.Ports[0] != 3333 || c.User != "suser" || c.Database != "sdb" || c.SSL.Mode != "require" ||
		c.SSL.Cert != "/s.crt" || c.SSL.RootCert != "/e.ca" || c.Password.Reveal() != "spw" || c.SSL.Password.Reveal() != "sslpw" ||
		c.ApplicationName != "sapp" || c.ConnectTimeout != 4*time.Second || c.Params["options"] != "-c y=2" {
		t.Errorf("string over env: %+v %v", *c, c.Params)
	}

	flags := Flags{Host: "fhost", Port: 4444, User: "fuser", Database: "fdb", SSLMode: "verify-full",
		SSLCert: "/f.crt", SSLKey: "/f.key", SSLRootCert: "/f.ca"}
	c = resolveOK(t, flags, envWith(env, "DATABASE_URL", str), yml)
	if c.Hosts[0] != "fhost" || c.Ports[0] != 4444 || c.User != "fuser" || c.Database != "fdb" || c.SSL.Mode != "verify-full" ||
		c.SSL.Cert != "/f.crt" || c.SSL.Key != "/f.key" || c.SSL.RootCert != "/f.ca" || c.Password.Reveal() != "spw" {
		t.Errorf("flags over an env string: %+v", *c)
	}
}

func envWith(base Env, kv ...string) Env {
	extra := envOf(kv...)
	return func(k string) (string, bool) {
		if v, ok := extra(k); ok {
			return v, true
		}
		return base(k)
	}
}

func TestResolveConnectionStringSources(t *testing.T) {
	env := baseEnv("PGMI_CONNECTION_STRING", "postgresql://h1/a", "DATABASE_URL", "postgresql://h2/b")
	if c := resolveOK(t, Flags{}, env, pgmiyaml.Connection{}); c.Hosts[0] != "h1" {
		t.Errorf("PGMI_CONNECTION_STRING must beat DATABASE_URL: %v", c.Hosts)
	}
	if c := resolveOK(t, Flags{ConnString: "Host=h0;Database=z"}, env, pgmiyaml.Connection{}); c.Hosts[0] != "h0" || c.Database != "z" {
		t.Errorf("--connection must beat both: %v %s", c.Hosts, c.Database)
	}
	if c := resolveOK(t, Flags{}, baseEnv("DATABASE_URL", "host=h3 dbname=c"), pgmiyaml.Connection{}); c.Hosts[0] != "h3" || c.Database != "c" {
		t.Errorf("DATABASE_URL: %v %s", c.Hosts, c.Database)
	}
	err := resolveErr(t, Flags{}, baseEnv("DATABASE_URL", "postgresql://u:Hunter2pw@h:x/db"), pgmiyaml.Connection{}, "DATABASE_URL")
	if strings.Contains(err.Error(), "Hunter2pw") {
		t.Errorf("password shown: %v", err)
	}
}

// pgmi's B5: an env string plus -h used to fail naming --connection. Only
// two flags for one setting conflict now.
func TestResolveFlagConflicts(t *testing.T) {
	for _, f := range []Flags{{Host: "x"}, {Port: 5}, {User: "u"}, {SSLMode: "require"}} {
		f.ConnString = "postgresql://h/db"
		resolveErr(t, f, baseEnv(), pgmiyaml.Connection{}, "cannot combine --connection")
	}
	c := resolveOK(t, Flags{ConnString: "postgresql://h/db", Database: "t", SSLCert: "/c", SSLKey: "/k"}, baseEnv(), pgmiyaml.Connection{})
	if c.Database != "t" || c.SSL.Cert != "/c" {
		t.Errorf("-d and cert flags go with --connection: %+v", *c)
	}
	c = resolveOK(t, Flags{Host: "flaghost", User: "fu"}, baseEnv("DATABASE_URL", "postgresql://envhost/db"), pgmiyaml.Connection{})
	if c.Hosts[0] != "flaghost" || c.User != "fu" || c.Database != "db" {
		t.Errorf("flags over DATABASE_URL: %+v", *c)
	}
}

func TestResolveDatabases(t *testing.T) {
	cases := []struct {
		name        string
		f           Flags
		env         []string
		yml         pgmiyaml.Connection
		target, mnt string
	}{
		{"string db is the target", Flags{ConnString: "postgresql://h/app"}, nil, pgmiyaml.Connection{}, "app", "postgres"},
		{"-d with a string: string db is maintenance", Flags{ConnString: "postgresql://h/admin", Database: "app"}, nil, pgmiyaml.Connection{}, "app", "admin"},
		{"-d equal to the string db", Flags{ConnString: "postgresql://h/app", Database: "app"}, nil, pgmiyaml.Connection{MaintenanceDatabase: "m"}, "app", "m"},
		{"string without db deploys into postgres", Flags{ConnString: "postgresql://h"}, nil, pgmiyaml.Connection{}, "postgres", "postgres"},
		{"string without db, PGDATABASE", Flags{ConnString: "postgresql://h"}, []string{"PGDATABASE", "pgdb"}, pgmiyaml.Connection{}, "pgdb", "postgres"},
		// pgmi's B6: maintenance_database is honoured whatever names the target.
		{"yaml maintenance, target from PGDATABASE", Flags{}, []string{"PGDATABASE", "app"}, pgmiyaml.Connection{MaintenanceDatabase: "admin"}, "app", "admin"},
		{"yaml maintenance, target from yaml", Flags{}, nil, pgmiyaml.Connection{Database: "app", MaintenanceDatabase: "admin"}, "app", "admin"},
		{"yaml maintenance, target from -d", Flags{Database: "app"}, nil, pgmiyaml.Connection{MaintenanceDatabase: "admin"}, "app", "admin"},
		{"yaml maintenance, string mode", Flags{ConnString: "postgresql://h/app"}, nil, pgmiyaml.Connection{MaintenanceDatabase: "admin"}, "app", "admin"},
		{"string maintenance beats yaml", Flags{ConnString: "postgresql://h/admin2", Database: "app"}, nil, pgmiyaml.Connection{MaintenanceDatabase: "admin"}, "app", "admin2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := resolveOK(t, tc.f, baseEnv(tc.env...), tc.yml)
			if c.Database != tc.target || c.MaintenanceDatabase != tc.mnt {
				t.Errorf("target %q maintenance %q, want %q %q", c.Database, c.MaintenanceDatabase, tc.target, tc.mnt)
			}
		})
	}
	resolveErr(t, Flags{Host: "h"}, baseEnv(), pgmiyaml.Connection{}, "database name is required")
}

func TestResolveValidatesEverySource(t *testing.T) {
	cases := []struct {
		f    Flags
		env  []string
		yml  pgmiyaml.Connection
		want string
	}{
		{Flags{SSLMode: "sometimes"}, nil, pgmiyaml.Connection{}, "--sslmode"},
		{Flags{}, []string{"PGSSLMODE", "bogus"}, pgmiyaml.Connection{}, "PGSSLMODE"},
		{Flags{}, nil, pgmiyaml.Connection{SSLMode: "Require"}, "pgmi.yaml connection.sslmode"},
		{Flags{}, []string{"DATABASE_URL", "Host=h;SSL Mode=Maybe"}, pgmiyaml.Connection{}, "SSL Mode"},
		{Flags{Port: 70000}, nil, pgmiyaml.Connection{}, "--port"},
		{Flags{}, []string{"PGPORT", "abc"}, pgmiyaml.Connection{}, "PGPORT"},
		{Flags{}, []string{"PGPORT", "0"}, pgmiyaml.Connection{}, "PGPORT"},
		{Flags{}, nil, pgmiyaml.Connection{Port: 99999}, "pgmi.yaml"},
		{Flags{}, []string{"PGCONNECT_TIMEOUT", "soon"}, pgmiyaml.Connection{}, "PGCONNECT_TIMEOUT"},
		{Flags{}, []string{"PGCONNECT_TIMEOUT", "-1"}, pgmiyaml.Connection{}, "PGCONNECT_TIMEOUT"},
		{Flags{}, []string{"PGSSLNEGOTIATION", "fast"}, pgmiyaml.Connection{}, "PGSSLNEGOTIATION"},
	}
	for _, tc := range cases {
		resolveErr(t, withDB(tc.f), baseEnv(tc.env...), tc.yml, tc.want)
	}
}

func withDB(f Flags) Flags {
	if f.Database == "" {
		f.Database = "d"
	}
	return f
}

func TestResolveApplicationName(t *testing.T) {
	if c := resolveOK(t, withDB(Flags{}), baseEnv("PGAPPNAME", "mine"), pgmiyaml.Connection{}); c.ApplicationName != "mine" {
		t.Errorf("PGAPPNAME ignored: %q", c.ApplicationName)
	}
	// pgmi's B15: PGAPPNAME counts in string mode too.
	if c := resolveOK(t, Flags{ConnString: "postgresql://h/db"}, baseEnv("PGAPPNAME", "mine"), pgmiyaml.Connection{}); c.ApplicationName != "mine" {
		t.Errorf("PGAPPNAME ignored with a string: %q", c.ApplicationName)
	}
	if c := resolveOK(t, Flags{ConnString: "postgresql://h/db?fallback_application_name=fb"}, baseEnv(), pgmiyaml.Connection{}); c.ApplicationName != "fb" {
		t.Errorf("fallback_application_name: %q", c.ApplicationName)
	}
}

func TestResolveUserFallbacks(t *testing.T) {
	if c := resolveOK(t, withDB(Flags{}), envOf("USERNAME", "winuser"), pgmiyaml.Connection{}); c.User != "winuser" {
		t.Errorf("USERNAME: %q", c.User)
	}
	if c := resolveOK(t, withDB(Flags{}), envOf(), pgmiyaml.Connection{}); c.User == "" {
		t.Error("no OS user fallback")
	}
}

func TestResolveHomeDefaults(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".postgresql")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"postgresql.crt", "postgresql.key", "root.crt"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := resolveOK(t, withDB(Flags{}), baseEnv("HOME", home), pgmiyaml.Connection{})
	if c.SSL.Cert != filepath.Join(dir, "postgresql.crt") || c.SSL.Key != filepath.Join(dir, "postgresql.key") ||
		c.SSL.RootCert != filepath.Join(dir, "root.crt") || c.Passfile != filepath.Join(home, ".pgpass") {
		t.Errorf("home defaults: %+v passfile %s", c.SSL, c.Passfile)
	}
	c = resolveOK(t, withDB(Flags{SSLCert: "/mine.crt", SSLKey: "/mine.key", SSLMode: "disable"}), baseEnv("HOME", home), pgmiyaml.Connection{})
	if c.SSL.Cert != "/mine.crt" || c.SSL.RootCert != "" {
		t.Errorf("explicit certs and sslmode=disable: %+v", c.SSL)
	}
}

// A method no provider folder registered is a clear offline error; with
// Options.Factory a caller supplies its provider.
func TestResolveRejectsMethodsNotInThisBuild(t *testing.T) {
	_, err := ResolveWith(Flags{User: "u", Database: "d"}, baseEnv(), pgmiyaml.Connection{}, &Options{DefaultAuth: "kerberos"})
	if err == nil || fault.KindOf(err) != fault.Config || !strings.Contains(err.Error(), "kerberos authentication is not in this build yet") {
		t.Fatalf("got %v", err)
	}
	fake := func(context.Context, *Config, *slog.Logger) (Provider, error) { return nil, nil }
	tgt, err := ResolveWith(Flags{User: "u", Database: "d", SSLMode: "disable"}, baseEnv(), pgmiyaml.Connection{},
		&Options{DefaultAuth: "kerberos", Factory: fake})
	if err != nil || tgt.Settings.Auth != "kerberos" {
		t.Fatalf("with a provider: %v", err)
	}
}
