package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

var (
	cluster    *testpg.Cluster
	clusterErr error
)

func TestMain(m *testing.M) {
	var stop func()
	cluster, stop, clusterErr = testpg.StartMain()
	code := m.Run()
	stop()
	os.Exit(code)
}

// cli runs the pgmi command in-process with a clean environment.
type cli struct {
	env         map[string]string
	interactive bool
	stdin       string
}

func (c cli) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{}
	for k, v := range c.env {
		env[k] = v
	}
	code = run(context.Background(), args, streams{
		in: strings.NewReader(c.stdin), out: &out, err: &errb, interactive: c.interactive,
		env:    func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		setenv: func(k, v string) error { env[k] = v; return nil },
	})
	return code, out.String(), errb.String()
}

func project(t *testing.T, kv ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i+1 < len(kv); i += 2 {
		p := filepath.Join(dir, kv[i])
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(kv[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	conn := cluster.Connect(t, "postgres")
	var ok bool
	if err := conn.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

var dbSeq int

func freshName(t *testing.T) string {
	dbSeq++
	return fmt.Sprintf("cli_%d_%d", os.Getpid(), dbSeq)
}

func dropAfter(t *testing.T, name string) {
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), cluster.ConnString("postgres"))
		if err != nil {
			t.Errorf("dropping %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
}

func TestDeployCreatesMissingDatabaseAndReportsJSON(t *testing.T) {
	testpg.Require(t, clusterErr)
	db := freshName(t)
	dropAfter(t, db)
	dir := project(t, "deploy.sql", "CREATE TABLE t (id int);\nCOMMIT;\nINSERT INTO t VALUES (1);\n", "data/x.csv", "1\n")
	code, stdout, stderr := cli{}.run(t, "deploy", dir, "--connection", cluster.ConnString("postgres"), "-d", db, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(stdout), &env); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if env["status"] != "success" || env["database"] != db || env["filesLoaded"] != 1.0 ||
		env["executionUnits"] != 2.0 || env["unitsCommitted"] != 2.0 || env["exitCode"] != 0.0 {
		t.Errorf("envelope = %v", env)
	}
	for _, want := range []string{fmt.Sprintf("Database %q does not exist; creating", db), "Loaded 1 files", "Executing deploy.sql"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stdout, "Loaded 1 files") {
		t.Error("human text leaked onto stdout")
	}
}

// Every offline rejection happens before any database is created.
func TestOfflineRejectionsCreateNothing(t *testing.T) {
	testpg.Require(t, clusterErr)
	cases := []struct {
		name  string
		files []string
		args  []string
		code  int
		want  string
	}{
		{"no deploy.sql", []string{"x.sql", "SELECT 1;"}, nil, 14, "deploy.sql not found"},
		{"binary file", []string{"deploy.sql", "SELECT 1;", "logo.png", "\x89PNG\x00\x01"}, nil, 10, "NUL byte"},
		{"non-UTF-8 file", []string{"deploy.sql", "SELECT 1;", "latin1.sql", "caf\xe9"}, nil, 10, "not valid UTF-8"},
		{"non-UTF-8 deploy.sql", []string{"deploy.sql", "SELECT 'caf\xe9';"}, nil, 10, "not valid UTF-8"},
		{"bad metadata", []string{"deploy.sql", "SELECT 1;", "m.sql", "/* <pgmi-meta id=\"nope\" idempotent=\"true\"></pgmi-meta> */"}, nil, 10, "invalid PGMI metadata"},
		{"dunder dir", []string{"deploy.sql", "SELECT 1;", "__foo__/x.sql", "SELECT 1;"}, nil, 10, "__foo__"},
		{"bad param key", []string{"deploy.sql", "SELECT 1;"}, []string{"--param", "1abc=x"}, 10, "invalid parameter key"},
		{"colliding params", []string{"deploy.sql", "SELECT 1;"}, []string{"--param", "Env=a", "--param", "env=b"}, 10, "collide"},
		{"param without =", []string{"deploy.sql", "SELECT 1;"}, []string{"--param", "novalue"}, 10, "expected key=value"},
		{"bad compat", []string{"deploy.sql", "SELECT 1;"}, []string{"--compat", "99"}, 10, "unsupported API version"},
		{"bad pgmi.yaml", []string{"deploy.sql", "SELECT 1;", "pgmi.yaml", "password: hunter2\n"}, nil, 10, "pgmi.yaml"},
		{"negative timeout", []string{"deploy.sql", "SELECT 1;"}, []string{"--timeout", "-1s"}, 10, "--timeout"},
		{"bad sslmode", []string{"deploy.sql", "SELECT 1;"}, []string{"--sslmode", "sometimes"}, 10, "sslmode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := freshName(t)
			dropAfter(t, db)
			dir := project(t, tc.files...)
			args := append([]string{"deploy", dir, "-h", cluster.Host(), "-p", fmt.Sprint(cluster.Port()), "-U", "postgres", "-d", db, "--overwrite", "--force"}, tc.args...)
			code, _, stderr := cli{}.run(t, args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q; stderr:\n%s", code, tc.code, tc.want, stderr)
			}
			if databaseExists(t, db) {
				t.Errorf("database %s was created by a run that failed offline", db)
			}
			if strings.Contains(stderr, "hunter2") {
				t.Error("a secret from pgmi.yaml was echoed")
			}
		})
	}
}

func TestOverwriteDropsAndRecreates(t *testing.T) {
	testpg.Require(t, clusterErr)
	db := freshName(t)
	dropAfter(t, db)
	cluster.CreateDatabase(t, db)
	cluster.Exec(t, db, "CREATE TABLE old_data (id int)")
	cluster.Exec(t, "postgres", "COMMENT ON DATABASE "+db+" IS 'keep me'")
	cluster.Exec(t, "postgres", "ALTER DATABASE "+db+" SET work_mem = '8MB'")
	dir := project(t, "deploy.sql", "CREATE TABLE fresh (id int);")
	base := []string{"deploy", dir, "--connection", cluster.ConnString("postgres"), "-d", db, "--overwrite"}

	code, _, stderr := cli{}.run(t, base...)
	if code != 12 || !strings.Contains(stderr, "--force") {
		t.Fatalf("without --force and no terminal: exit %d, want 12\n%s", code, stderr)
	}
	code, _, stderr = cli{}.run(t, append(base, "--force")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, fmt.Sprintf("--force: dropping and recreating %q", db)) {
		t.Errorf("stderr lacks the --force line:\n%s", stderr)
	}
	conn := cluster.Connect(t, db)
	var old, fresh bool
	var comment string
	var settings []string
	_ = conn.QueryRow(context.Background(), `SELECT to_regclass('old_data') IS NOT NULL, to_regclass('fresh') IS NOT NULL,
	  shobj_description((SELECT oid FROM pg_database WHERE datname = current_database()), 'pg_database'),
	  (SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()))`).
		Scan(&old, &fresh, &comment, &settings)
	if old || !fresh || comment != "keep me" || fmt.Sprint(settings) != "[work_mem=8MB]" {
		t.Errorf("after overwrite: old=%v fresh=%v comment=%q settings=%v", old, fresh, comment, settings)
	}
}

func TestOverwriteRefusesMaintenanceDatabase(t *testing.T) {
	dir := project(t, "deploy.sql", "SELECT 1;")
	code, _, stderr := cli{}.run(t, "deploy", dir, "--connection", "postgresql://u@127.0.0.1:1/postgres", "-d", "postgres", "--overwrite", "--force")
	if code != 10 || !strings.Contains(stderr, "maintenance database") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

func TestUsageErrorsExit2WithoutJSON(t *testing.T) {
	code, stdout, _ := cli{}.run(t, "deploy", "--json")
	if code != 2 || stdout != "" {
		t.Errorf("missing path: exit %d stdout %q", code, stdout)
	}
	code, stdout, _ = cli{}.run(t, "deploy", ".", "--no-such-flag", "--json")
	if code != 2 || stdout != "" {
		t.Errorf("unknown flag: exit %d stdout %q", code, stdout)
	}
}

func TestConnectionFailureIsExit11AndRedacted(t *testing.T) {
	testpg.Require(t, clusterErr)
	dir := project(t, "deploy.sql", "SELECT 1;")
	conn := fmt.Sprintf("postgresql://nobody_here:S3cretPassw0rd@127.0.0.1:%d/postgres?sslmode=disable", cluster.Port())
	code, stdout, stderr := cli{}.run(t, "deploy", dir, "--connection", conn, "--json")
	if code != 11 {
		t.Errorf("exit %d, want 11\n%s", code, stderr)
	}
	if strings.Contains(stdout+stderr, "S3cretPassw0rd") {
		t.Errorf("password printed:\n%s\n%s", stdout, stderr)
	}
}

func TestParamsPrecedence(t *testing.T) {
	testpg.Require(t, clusterErr)
	db := freshName(t)
	dropAfter(t, db)
	paramsFile := filepath.Join(t.TempDir(), "params.env")
	if err := os.WriteFile(paramsFile, []byte("env=file\n  spaced  =  trimmed  \nquoted=\"has spaces\"\nliteral=a=b\nhash=v#x\n# comment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := project(t,
		"deploy.sql", "CREATE TABLE params AS SELECT key, value FROM pg_temp.pgmi_parameter_view;",
		"pgmi.yaml", "params:\n  env: yaml\n  fromyaml: \"1\"\n",
	)
	code, _, stderr := cli{}.run(t, "deploy", dir, "--connection", cluster.ConnString("postgres"), "-d", db,
		"--params-file", paramsFile, "--param", "env=cli", "--param", "apiVersion=2", "--param", "empty=")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	conn := cluster.Connect(t, db)
	var got string
	_ = conn.QueryRow(context.Background(), "SELECT string_agg(key || '=' || value, ', ' ORDER BY key) FROM params").Scan(&got)
	want := "apiversion=2, empty=, env=cli, fromyaml=1, hash=v#x, literal=a=b, quoted=has spaces, spaced=trimmed"
	if got != want {
		t.Errorf("params:\n got  %s\n want %s", got, want)
	}
}

func TestInterruptAndTimeoutExitCodes(t *testing.T) {
	testpg.Require(t, clusterErr)
	db := freshName(t)
	dropAfter(t, db)
	dir := project(t, "deploy.sql", "SELECT pg_sleep(30);")
	args := []string{"deploy", dir, "--connection", cluster.ConnString("postgres"), "-d", db, "--json"}

	code, stdout, stderr := cli{}.run(t, append(args, "--timeout", "1s")...)
	if code != 16 || !strings.Contains(stdout, `"exitCode": 16`) {
		t.Errorf("timeout: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// A second database: the first one's backend may still be winding down
	// after the cancel, holding its deploy lock for a moment.
	db2 := freshName(t)
	dropAfter(t, db2)
	args[5] = db2
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	var out, errb bytes.Buffer
	code = run(ctx, args, streams{in: strings.NewReader(""), out: &out, err: &errb,
		env: func(string) (string, bool) { return "", false }, setenv: func(string, string) error { return nil }})
	if code != 130 || !strings.Contains(out.String(), `"status": "failed"`) || !strings.Contains(out.String(), `"exitCode": 130`) {
		t.Errorf("interrupt: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
}

// A unit whose session the server terminated keeps pgmi's exit 13, and
// the message says the session was lost (not that the SQL was wrong).
func TestLostSessionIsExit13AndSaysSo(t *testing.T) {
	testpg.Require(t, clusterErr)
	db := freshName(t)
	dropAfter(t, db)
	dir := project(t, "deploy.sql", "SELECT pg_sleep(30);")
	done := make(chan struct{})
	var code int
	var stderr string
	go func() {
		defer close(done)
		code, _, stderr = cli{}.run(t, "deploy", dir, "--connection", cluster.ConnString("postgres"), "-d", db)
	}()
	admin := cluster.Connect(t, "postgres")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var n int
		if err := admin.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = $1 AND state = 'active' AND query LIKE '%pg_sleep(30)%'`, db).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 || time.Now().After(deadline) {
			break
		}
	}
	<-done
	if code != 13 || !strings.Contains(stderr, "the database session was lost") {
		t.Fatalf("exit %d, want 13 and a lost-session message:\n%s", code, stderr)
	}
}

// PGMI_MAX_FILE_SIZE takes the same values in pgmi deploy as in pgmi bundle
// and the functions (bytes or a KiB/MiB/GiB suffix): a file over it is
// refused offline, naming the file, and a cap above it deploys.
func TestMaxFileSizeWithUnit(t *testing.T) {
	testpg.Require(t, clusterErr)
	db := freshName(t)
	dropAfter(t, db)
	dir := project(t, "deploy.sql", "SELECT 1;", "data/seed.sql", "-- "+strings.Repeat("x", 2000)+"\n")
	args := []string{"deploy", dir, "--connection", cluster.ConnString("postgres"), "-d", db}
	code, _, stderr := cli{env: map[string]string{"PGMI_MAX_FILE_SIZE": "1KiB"}}.run(t, args...)
	if code != 10 || !strings.Contains(stderr, "seed.sql") || strings.Contains(stderr, "invalid PGMI_MAX_FILE_SIZE") {
		t.Fatalf("1KiB cap: exit %d, want 10 naming the file:\n%s", code, stderr)
	}
	if databaseExists(t, db) {
		t.Fatal("an offline refusal created the database")
	}
	if code, _, stderr := (cli{env: map[string]string{"PGMI_MAX_FILE_SIZE": "4KiB"}}).run(t, args...); code != 0 {
		t.Fatalf("4KiB cap: exit %d\n%s", code, stderr)
	}
}
