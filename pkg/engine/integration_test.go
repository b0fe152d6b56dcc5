package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
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

// session is a fresh database and a connection to it that records notices.
type session struct {
	db      string
	conn    *pgx.Conn
	mu      sync.Mutex
	notices []string
}

func newSession(t *testing.T) *session {
	t.Helper()
	testpg.Require(t, clusterErr)
	s := &session{db: cluster.NewDatabase(t)}
	cfg, err := pgx.ParseConfig(cluster.ConnString(s.db))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.notices = append(s.notices, engine.FormatNotice(n))
	}
	s.conn, err = pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.conn.Close(context.Background()) })
	return s
}

func (s *session) deploy(t *testing.T, files fstest.MapFS, opts engine.Options) (*engine.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return engine.Deploy(ctx, s.conn, files, opts)
}

func (s *session) noticeText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.notices, "\n")
}

// query runs sql on a separate connection to the session's database.
func query[T any](t *testing.T, db, sql string, args ...any) []T {
	t.Helper()
	conn := cluster.Connect(t, db)
	rows, err := conn.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[T])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func files(kv ...string) fstest.MapFS {
	m := fstest.MapFS{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return m
}

func wantKind(t *testing.T, err error, kind fault.Kind) {
	t.Helper()
	if got := fault.KindOf(err); got != kind {
		t.Fatalf("error kind = %v (exit %d), want %v (exit %d); error: %v", got, exitcode.For(got), kind, exitcode.For(kind), err)
	}
}

const testGatedDeploy = `BEGIN;
CREATE TABLE account (id int PRIMARY KEY, name text NOT NULL);
CALL pgmi_test();
COMMIT;
`

func TestTestGatedDeployCommits(t *testing.T) {
	s := newSession(t)
	res, err := s.deploy(t, files(
		"deploy.sql", testGatedDeploy,
		"__test__/_setup.sql", "INSERT INTO account VALUES (1, 'fixture');",
		"__test__/test_account.sql", "DO $$ BEGIN IF (SELECT count(*) FROM account) <> 1 THEN RAISE EXCEPTION 'no fixture'; END IF; END $$;",
	), engine.Options{})
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if res.TestMacros != 1 || res.ExecutionUnits != 1 || res.UnitsCommitted != 1 || res.FilesLoaded != 2 {
		t.Errorf("result = %+v", res)
	}
	if n := query[int64](t, s.db, "SELECT count(*) FROM account"); n[0] != 0 {
		t.Errorf("fixture rows survived the test teardown: %d", n[0])
	}
	for _, want := range []string{"[pgmi] Test suite started", "[pgmi] Fixture: ./__test__/_setup.sql",
		"[pgmi] Test: ./__test__/test_account.sql", "[pgmi] Test suite completed (3 steps)"} {
		if !strings.Contains(s.noticeText(), want) {
			t.Errorf("notices lack %q:\n%s", want, s.noticeText())
		}
	}
}

func TestFailingTestLeavesNothingBehind(t *testing.T) {
	s := newSession(t)
	res, err := s.deploy(t, files(
		"deploy.sql", testGatedDeploy,
		"__test__/test_fails.sql", "SELECT 1/0;",
	), engine.Options{})
	wantKind(t, err, fault.Execution)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "22012" || !strings.HasPrefix(pgErr.Message, "Failed in ./__test__/test_fails.sql: ") {
		t.Errorf("error = %v, want the test's division_by_zero naming the file", err)
	}
	env := engine.NewEnvelope(res, err)
	if env["failedFile"] != "./__test__/test_fails.sql" || env["executionMode"] != "atomic" || env["exitCode"] != 13 {
		t.Errorf("envelope = %v", env)
	}
	if n := query[int64](t, s.db, "SELECT count(*) FROM pg_class WHERE relname = 'account'"); n[0] != 0 {
		t.Error("the table of a failed test-gated head survived")
	}
}

func TestTailUnitsCommitOneByOne(t *testing.T) {
	s := newSession(t)
	script := `CREATE TABLE item (id int, sku text);
COMMIT;
INSERT INTO item VALUES (1, 'a');
CREATE INDEX CONCURRENTLY item_sku_idx ON item (sku);
INSERT INTO item VALUES (2, 'b');
`
	res, err := s.deploy(t, files("deploy.sql", script), engine.Options{})
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if res.ExecutionUnits != 4 || res.UnitsCommitted != 4 {
		t.Errorf("units = %d/%d, want 4/4", res.UnitsCommitted, res.ExecutionUnits)
	}
	if n := query[int64](t, s.db, "SELECT count(*) FROM pg_indexes WHERE indexname = 'item_sku_idx'"); n[0] != 1 {
		t.Error("CREATE INDEX CONCURRENTLY did not run in the tail")
	}
}

func TestTailFailureReportsPsqlMode(t *testing.T) {
	s := newSession(t)
	script := "CREATE TABLE t (id int);\nCOMMIT;\nINSERT INTO t VALUES (1);\n  INSERT INTO t VALUES ('x');\nINSERT INTO t VALUES (3);\n"
	res, err := s.deploy(t, files("deploy.sql", script), engine.Options{})
	wantKind(t, err, fault.Execution)
	if res.ExecutionMode != "psql" || res.UnitsCommitted != 2 || res.ExecutionUnits != 4 {
		t.Errorf("result = %+v, want psql mode with 2 of 4 units done", res)
	}
	if p := res.Position; p == nil || p.Line != 4 || p.Column != 25 || p.SourceLine != "  INSERT INTO t VALUES ('x');" {
		t.Errorf("position = %+v, want line 4 column 25", p)
	}
	if rows := query[int32](t, s.db, "SELECT id FROM t ORDER BY id"); fmt.Sprint(rows) != "[1]" {
		t.Errorf("rows = %v, want [1]: the unit before the failure committed, the one after never ran", rows)
	}
}

func TestOpenTransactionAtEndFails(t *testing.T) {
	s := newSession(t)
	_, err := s.deploy(t, files("deploy.sql", "BEGIN;\nCREATE TABLE lost (id int);\n"), engine.Options{})
	wantKind(t, err, fault.Execution)
	if !strings.Contains(err.Error(), "rolled back") {
		t.Errorf("error = %v, want it to say the work was rolled back", err)
	}
	if n := query[int64](t, s.db, "SELECT count(*) FROM pg_class WHERE relname = 'lost'"); n[0] != 0 {
		t.Error("work of an unterminated transaction was committed")
	}
}

func TestLockContention(t *testing.T) {
	s := newSession(t)
	holder := cluster.Connect(t, s.db)
	if _, err := holder.Exec(context.Background(),
		"SELECT pg_advisory_lock(hashtextextended('pgmi.deploy.' || current_database(), 0))"); err != nil {
		t.Fatal(err)
	}
	_, err := s.deploy(t, files("deploy.sql", "CREATE TABLE never (id int);"), engine.Options{})
	wantKind(t, err, fault.Concurrent)
	if !strings.Contains(err.Error(), s.db) {
		t.Errorf("error %q does not name the database", err)
	}

	// With a bounded wait, a lock released in time is taken.
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = holder.Exec(context.Background(), "SELECT pg_advisory_unlock_all()")
	}()
	if _, err := s.deploy(t, files("deploy.sql", "CREATE TABLE later (id int);"), engine.Options{LockWait: 10 * time.Second}); err != nil {
		t.Fatalf("deploy after the lock was released: %v", err)
	}
}

func TestLockReleasedAfterDeploy(t *testing.T) {
	s := newSession(t)
	if _, err := s.deploy(t, files("deploy.sql", "SELECT pg_advisory_lock(42);"), engine.Options{}); err != nil {
		t.Fatal(err)
	}
	n := query[int64](t, s.db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
	if n[0] != 0 {
		t.Errorf("%d advisory locks still held after the deploy", n[0])
	}
}

// A deadline cancels the running statement on the server and waits for the
// server to confirm: when Deploy returns, nothing runs on, and the session
// is still open and idle.
func TestTimeoutCancelsOnServer(t *testing.T) {
	s := newSession(t)
	pid := s.conn.PgConn().PID()
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := engine.Deploy(ctx, s.conn, files("deploy.sql", "SELECT pg_sleep(60);"), engine.Options{})
	wantKind(t, err, fault.Timeout)
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("deploy returned after %v", elapsed)
	}
	if !strings.Contains(err.Error(), "cancelled on the server") {
		t.Errorf("error %q does not say the statement was cancelled on the server", err)
	}
	states := query[string](t, "postgres", "SELECT state FROM pg_stat_activity WHERE pid = $1", pid)
	if len(states) != 1 || states[0] != "idle" {
		t.Fatalf("backend %d right after the timeout: %v, want idle", pid, states)
	}
	if s.conn.IsClosed() {
		t.Fatal("the session was closed; a confirmed cancel keeps it")
	}
}

// An interrupt between statements stops before the next one and says so.
func TestCancelBetweenStatements(t *testing.T) {
	s := newSession(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := engine.Deploy(ctx, s.conn, files("deploy.sql", "CREATE TABLE never (id int);"), engine.Options{})
	wantKind(t, err, fault.Canceled)
	if !strings.Contains(err.Error(), "nothing was left running") {
		t.Errorf("error %q", err)
	}
}

func TestParametersAsRowsAndSettings(t *testing.T) {
	s := newSession(t)
	var p engine.Params
	p.Set("apiVersion", "2")
	p.Set("empty", "")
	script := `CREATE TABLE seen AS SELECT current_setting('pgmi.apiversion', true) AS api,
  current_setting('pgmi.empty', true) AS empty, (SELECT string_agg(key, ',' ORDER BY key) FROM pg_temp.pgmi_parameter_view) AS keys;`
	if _, err := s.deploy(t, files("deploy.sql", script), engine.Options{Params: p}); err != nil {
		t.Fatal(err)
	}
	got := query[string](t, s.db, "SELECT api || '|' || empty || '|' || keys FROM seen")
	if got[0] != "2||apiversion,empty" {
		t.Errorf("seen = %q", got[0])
	}
}

func TestInvalidPatternIsExecutionError(t *testing.T) {
	s := newSession(t)
	_, err := s.deploy(t, files(
		"deploy.sql", "BEGIN;\nCALL pgmi_test('(');\nCOMMIT;",
		"__test__/test_a.sql", "SELECT 1;",
	), engine.Options{})
	wantKind(t, err, fault.Execution)
	if !strings.Contains(err.Error(), "Invalid regex pattern") {
		t.Errorf("error = %v", err)
	}
}

// Fixtures of ancestor directories stay in place for nested tests, and a
// pattern that selects only a deep test keeps its ancestors' fixtures.
func TestNestedTestsSeeAncestorFixtures(t *testing.T) {
	s := newSession(t)
	res, err := s.deploy(t, files(
		"deploy.sql", "BEGIN;\nCREATE TABLE stock (n int);\nCALL pgmi_test();\nCALL pgmi_test('.*/deep/.*');\nCOMMIT;\n",
		"__test__/_setup.sql", "INSERT INTO stock VALUES (10);",
		"__test__/sub/deep/_setup.sql", "INSERT INTO stock VALUES (5);",
		"__test__/sub/deep/test_sum.sql", "DO $$ BEGIN IF (SELECT sum(n) FROM stock) <> 15 THEN RAISE EXCEPTION 'sum %', (SELECT sum(n) FROM stock); END IF; END $$;",
		"__test__/test_root.sql", "DO $$ BEGIN IF (SELECT sum(n) FROM stock) <> 10 THEN RAISE EXCEPTION 'root sum'; END IF; END $$;",
	), engine.Options{})
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, s.noticeText())
	}
	if res.TestMacros != 2 {
		t.Errorf("test macros = %d, want 2", res.TestMacros)
	}
	if n := query[int64](t, s.db, "SELECT count(*) FROM stock"); n[0] != 0 {
		t.Errorf("%d fixture rows survived", n[0])
	}
}

// The expansion text is part of the contract (it decides reported line
// numbers), so it is pinned byte for byte.
func TestTestGenerateText(t *testing.T) {
	s := newSession(t)
	if _, err := s.deploy(t, files(
		"deploy.sql", "SELECT 1;",
		"__test__/_setup.sql", "SELECT 1;",
		"__test__/test_a.sql", "SELECT 1;",
		"__test__/B_test.sql", "SELECT 1;",
		"__test__/sub/deep/t.sql", "SELECT 1;",
	), engine.Options{}); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := s.conn.QueryRow(context.Background(), "SELECT pg_temp.pgmi_test_generate(NULL, 'my.cb')").Scan(&got); err != nil {
		t.Fatal(err)
	}
	ev := func(event, path, dir string, depth, ord int) string {
		p := "NULL"
		if path != "" {
			p = "'" + path + "'"
		}
		return fmt.Sprintf("SELECT my.cb(ROW('%s', %s, '%s', %d, %d, NULL)::pg_temp.pgmi_test_event);", event, p, dir, depth, ord)
	}
	run := func(path string) string { return "SELECT pg_temp.pgmi_run_test_source('" + path + "');" }
	want := strings.Join([]string{
		ev("suite_start", "", "", 0, 0),
		"SAVEPOINT __pgmi_d1__;",
		ev("fixture_start", "./__test__/_setup.sql", "./__test__/", 0, 1), run("./__test__/_setup.sql"), ev("fixture_end", "./__test__/_setup.sql", "./__test__/", 0, 1),
		"SAVEPOINT __pgmi_t2__;",
		ev("test_start", "./__test__/B_test.sql", "./__test__/", 0, 2), run("./__test__/B_test.sql"), ev("test_end", "./__test__/B_test.sql", "./__test__/", 0, 2),
		ev("rollback", "./__test__/B_test.sql", "./__test__/", 0, 2), "ROLLBACK TO SAVEPOINT __pgmi_t2__;",
		ev("test_start", "./__test__/test_a.sql", "./__test__/", 0, 3), run("./__test__/test_a.sql"), ev("test_end", "./__test__/test_a.sql", "./__test__/", 0, 3),
		ev("rollback", "./__test__/test_a.sql", "./__test__/", 0, 3), "ROLLBACK TO SAVEPOINT __pgmi_t2__;",
		"SAVEPOINT __pgmi_d3__;", "SAVEPOINT __pgmi_t4__;",
		ev("test_start", "./__test__/sub/deep/t.sql", "./__test__/sub/deep/", 2, 4), run("./__test__/sub/deep/t.sql"), ev("test_end", "./__test__/sub/deep/t.sql", "./__test__/sub/deep/", 2, 4),
		ev("rollback", "./__test__/sub/deep/t.sql", "./__test__/sub/deep/", 2, 4), "ROLLBACK TO SAVEPOINT __pgmi_t4__;",
		ev("teardown_start", "", "./__test__/sub/deep/", 2, 5), "ROLLBACK TO SAVEPOINT __pgmi_d3__;", "RELEASE SAVEPOINT __pgmi_d3__;", ev("teardown_end", "", "./__test__/sub/deep/", 2, 5),
		ev("teardown_start", "", "./__test__/", 0, 6), "ROLLBACK TO SAVEPOINT __pgmi_d1__;", "RELEASE SAVEPOINT __pgmi_d1__;", ev("teardown_end", "", "./__test__/", 0, 6),
		ev("suite_end", "", "", 0, 6),
	}, "\n")
	if got != want {
		t.Errorf("pgmi_test_generate:\n--- got\n%s\n--- want\n%s", got, want)
	}
}

// A second deployment on the same session starts from clean session objects.
func TestRedeployOnSameSession(t *testing.T) {
	s := newSession(t)
	for i := 0; i < 2; i++ {
		if _, err := s.deploy(t, files("deploy.sql", "SELECT 1;", "a.sql", fmt.Sprint(i)), engine.Options{}); err != nil {
			t.Fatalf("deploy %d: %v", i+1, err)
		}
	}
	var content string
	_ = s.conn.QueryRow(context.Background(), "SELECT content FROM pg_temp.pgmi_source_view").Scan(&content)
	if content != "1" {
		t.Errorf("second deploy sees %q, want its own file", content)
	}
}

// changingFS serves different content for a file the second time it is opened,
// like a file edited between the scan and the load.
type changingFS struct {
	fstest.MapFS
	name   string
	opened int
}

func (c *changingFS) Open(name string) (fs.File, error) {
	if name == c.name {
		c.opened++
		if c.opened > 1 {
			return fstest.MapFS{name: {Data: []byte("SELECT 'edited';")}}.Open(name)
		}
	}
	return c.MapFS.Open(name)
}

func TestFileChangedDuringDeployFails(t *testing.T) {
	s := newSession(t)
	fsys := &changingFS{MapFS: files("deploy.sql", "CREATE TABLE nope (id int);", "a.sql", "SELECT 'original';"), name: "a.sql"}
	_, err := engine.Deploy(context.Background(), s.conn, fsys, engine.Options{})
	if fault.KindOf(err) != fault.Config || !strings.Contains(err.Error(), "changed while it was being deployed") {
		t.Fatalf("err = %v", err)
	}
	if n := query[int64](t, s.db, "SELECT count(*) FROM pg_class WHERE relname = 'nope'"); n[0] != 0 {
		t.Error("deploy.sql ran although a file changed under the loader")
	}
}
