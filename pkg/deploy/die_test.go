package deploy_test

// Exactly once, even when things die (issue 10, ARCHITECTURE §6): a session
// lost mid-deploy is a retryable failure and the next delivery completes the
// row — the atomic head exactly once, each tail unit at least once and at
// most twice; deployers of different roles exclude each other through the
// lock; concurrent first deliveries to a missing database deploy once.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/pgserver"
	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// Bounds of the waits below, which all poll; windowHold is the one deliberate
// hold, a race window left open on purpose.
const (
	dieWait     = 10 * time.Second       // for the deploy to reach the point where it is killed
	outcomeWait = 15 * time.Second       // for a Run to return
	dieTick     = 10 * time.Millisecond  // polling interval
	steps       = 4                      // head steps and tail steps
	stepSleep   = "0.3"                  // seconds each step sleeps
	totalUnits  = 1 + steps              // the atomic head, then one unit per tail step
	windowHold  = 600 * time.Millisecond // see TestTwoDeployerRolesOverlapDeployOnce
)

// stepsSQL is deploy.sql with an atomic head of four inserts, each followed
// by a sleep, and a tail of four autocommit inserts that sleep before
// inserting. The head's tables are created inside the head, so a head that
// never committed leaves nothing behind.
func stepsSQL() string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS head_steps (step int);\nCREATE TABLE IF NOT EXISTS tail_steps (step int);\nBEGIN;\n")
	for i := 1; i <= steps; i++ {
		fmt.Fprintf(&b, "INSERT INTO head_steps VALUES (%d); SELECT pg_sleep(%s);\n", i, stepSleep)
	}
	b.WriteString("COMMIT;\n")
	for i := 1; i <= steps; i++ {
		fmt.Fprintf(&b, "INSERT INTO tail_steps SELECT %d FROM pg_sleep(%s);\n", i, stepSleep)
	}
	return b.String()
}

// The deploy's backend at a known point: sleeping inside the head after its
// first insert (uncommitted), or sleeping in the second tail unit (the head
// and the first tail unit committed, the second in flight).
const (
	inHead = `state = 'active' AND wait_event = 'PgSleep' AND query LIKE '%INSERT INTO head_steps VALUES (1)%'`
	inTail = `state = 'active' AND wait_event = 'PgSleep' AND query LIKE '%INSERT INTO tail_steps SELECT 2 FROM%'`
)

// newFixtureOn is newFixture for database db of cluster c, connecting with
// connString. Its count method still reads the shared cluster: use countIn.
func newFixtureOn(t *testing.T, c *testpg.Cluster, db, connString string, tweak ...func(env)) *fixture {
	t.Helper()
	f := &fixture{t: t, db: db, dir: t.TempDir(), key: testbundle.NewKey(t)}
	f.env = env{
		"PGMI_CONNECTION_STRING": connString,
		"PGMI_TRUSTED_SIGNERS":   f.key.AllowedSigners,
		"PGMI_LOCK_WAIT":         "20s",
		"PGMI_TIMEOUT_MARGIN":    "1s",
		"PGMI_RESET_ALLOW":       db,
	}
	for _, fn := range tweak {
		fn(f.env)
	}
	f.d = newDeployer(t, f.env)
	return f
}

// newDeployer builds a Deployer from e, closed at cleanup.
func newDeployer(t *testing.T, e env) *deploy.Deployer {
	t.Helper()
	cfg, err := deploy.LoadConfig(context.Background(), e.lookup, nil)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	d := deploy.New(cfg, &deploy.Options{Log: testLog(t)})
	t.Cleanup(func() { d.Close() })
	return d
}

// pending is a Run in a goroutine.
type pending struct {
	done chan struct{}
	o    *deploy.Outcome
}

// goRun starts d.Run(req); a test that ends early still waits for it at
// cleanup (boundedly), since the Run logs through t.
func goRun(t *testing.T, d *deploy.Deployer, req deploy.Request, who string) *pending {
	p := &pending{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.o = d.Run(context.Background(), req)
		t.Logf("%s: outcome %s (retryable=%v err=%v)", who, p.o.Status, p.o.Retryable, p.o.Err)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		case <-time.After(time.Minute):
			t.Errorf("%s still running at the end of the test", who)
		}
	})
	return p
}

func (p *pending) finished() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait returns the outcome, failing t when the Run takes longer than d.
func (p *pending) wait(t *testing.T, d time.Duration) *deploy.Outcome {
	t.Helper()
	select {
	case <-p.done:
		return p.o
	case <-time.After(d):
		t.Fatalf("the deploy did not return within %v", d)
		return nil
	}
}

// awaitBackend polls pg_stat_activity of cluster c until a client backend
// of db matches cond and returns its pid, failing t when the deploy p ends
// first or nothing matches within dieWait. The polling connection is closed
// when it returns.
func awaitBackend(t *testing.T, c *testpg.Cluster, db, cond string, p *pending) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), dieWait)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	q := `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'
		AND pid <> pg_backend_pid() AND ` + cond + ` LIMIT 1`
	for {
		var pid int
		err := conn.QueryRow(ctx, q, db).Scan(&pid)
		if err == nil {
			return pid
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			t.Fatalf("polling pg_stat_activity: %v", err)
		}
		if p != nil && p.finished() {
			t.Fatalf("the deploy ended (%s, %v) before a backend matched %s", p.o.Status, p.o.Err, cond)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no backend of %s matched %s within %v", db, cond, dieWait)
		case <-time.After(dieTick):
		}
	}
}

// queryIn runs a one-row query in db of cluster c and scans it into dest.
func queryIn(t *testing.T, c *testpg.Cluster, db, sql string, dest ...any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString(db))
	if err != nil {
		t.Fatalf("connect to %s: %v", db, err)
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(ctx, sql).Scan(dest...)
}

func countIn(t *testing.T, c *testpg.Cluster, db, sql string) int {
	t.Helper()
	var n int
	if err := queryIn(t, c, db, sql, &n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// stepCounts returns how often each step is in table (empty when the table
// does not exist).
func stepCounts(t *testing.T, c *testpg.Cluster, db, table string) map[int]int {
	t.Helper()
	var pairs [][]int
	err := queryIn(t, c, db, `SELECT coalesce(array_agg(ARRAY[step, n] ORDER BY step), '{}')
		FROM (SELECT step, count(*)::int AS n FROM `+table+` GROUP BY step) s`, &pairs)
	if err != nil {
		if strings.Contains(err.Error(), "42P01") {
			return map[int]int{}
		}
		t.Fatalf("reading %s: %v", table, err)
	}
	m := map[int]int{}
	for _, p := range pairs {
		m[p[0]] = p[1]
	}
	return m
}

// checkSteps checks the contract after a completed redelivery: each head
// step exactly once; each tail step once or twice, at most one of them twice.
func checkSteps(t *testing.T, c *testpg.Cluster, db string) {
	t.Helper()
	head, tail := stepCounts(t, c, db, "head_steps"), stepCounts(t, c, db, "tail_steps")
	t.Logf("head steps %v, tail steps %v (step:times)", head, tail)
	headOK, tailOK, twice := len(head) == steps, len(tail) == steps, 0
	for s := 1; s <= steps; s++ {
		headOK = headOK && head[s] == 1
		tailOK = tailOK && (tail[s] == 1 || tail[s] == 2)
		if tail[s] == 2 {
			twice++
		}
	}
	if !headOK {
		t.Errorf("head steps %v (step:times), want each of 1..%d exactly once", head, steps)
	}
	if !tailOK || twice > 1 {
		t.Errorf("tail steps %v (step:times), want each of 1..%d once or twice, at most one twice (the unit in flight)", tail, steps)
	}
}

// ledgerRow summarizes the ledger of db: its number of rows and the status,
// retryable and attempts of the row (of some row, when there are several).
func ledgerRow(t *testing.T, c *testpg.Cluster, db string) (rows int, status string, retryable bool, attempts int) {
	t.Helper()
	err := queryIn(t, c, db, `SELECT count(*)::int, coalesce(min(status), ''), coalesce(bool_or(retryable), false),
		coalesce(max(attempts), 0)::int FROM pgmi_ledger.deployments`, &rows, &status, &retryable, &attempts)
	if err != nil {
		t.Fatalf("reading the ledger: %v", err)
	}
	return rows, status, retryable, attempts
}

// unitsDone reads the ledger row's units_done, or reports why it cannot.
func unitsDone(t *testing.T, c *testpg.Cluster, db string) (int, bool) {
	t.Helper()
	var n *int
	if err := queryIn(t, c, db, "SELECT units_done FROM pgmi_ledger.deployments", &n); err != nil {
		t.Errorf("reading units_done: %v", err)
		return 0, false
	}
	if n == nil {
		return 0, true
	}
	return *n, true
}

// lostSession is one way the deploy's session dies.
type lostSession struct {
	at       string // inHead or inTail
	kill     func(t *testing.T, c *testpg.Cluster, pid int)
	canStall bool // the ledger row may stay running (the pipeline could not record the failure)
}

func terminate(t *testing.T, c *testpg.Cluster, pid int) {
	t.Helper()
	var ok bool
	if err := queryIn(t, c, "postgres", fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid), &ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
}

func restart(mode string) func(t *testing.T, c *testpg.Cluster, pid int) {
	return func(t *testing.T, c *testpg.Cluster, _ int) {
		t.Helper()
		begin := time.Now()
		if err := c.Restart(mode); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s restart took %v", mode, time.Since(begin))
	}
}

// dieThenRedeliver deploys stepsSQL to db of c, kills the session at ls.at,
// and checks that the first delivery is a retryable failure, the second
// deploys completing the row, and a third is a duplicate.
func dieThenRedeliver(t *testing.T, c *testpg.Cluster, db string, f *fixture, ls lostSession) {
	t.Helper()
	req := f.put("app/steps.tgz", f.signed(stepsSQL()), "")
	begin := time.Now()
	first := goRun(t, f.d, req, "first delivery")
	pid := awaitBackend(t, c, db, ls.at, first)
	ls.kill(t, c, pid)
	o := first.wait(t, outcomeWait)
	if o.Status != deploy.StatusFailed || !o.Retryable {
		t.Errorf("first delivery: %s retryable=%v (%v), want failed retryable=true", o.Status, o.Retryable, o.Err)
	}
	if o.Report != nil {
		t.Logf("first delivery: exit code %d, message %q", o.Report.ExitCode, o.Report.Message)
	}

	rows, status, retry, attempts := ledgerRow(t, c, db)
	t.Logf("ledger after the first delivery: %d row(s), status %s, retryable %v, attempts %d", rows, status, retry, attempts)
	switch {
	case rows != 1:
		t.Errorf("%d ledger rows after the first delivery, want 1", rows)
	case status == "failed" && retry:
	case status == "running" && ls.canStall:
	default:
		t.Errorf("ledger row after the first delivery: %s retryable=%v, want failed retryable=true", status, retry)
	}
	if n, ok := unitsDone(t, c, db); ok {
		t.Logf("units_done after the first delivery: %d", n)
		if ls.at == inHead && n != 0 {
			t.Errorf("units_done = %d after a session lost inside the head, want 0 (the head never committed)", n)
		}
		if ls.at == inTail && (n < 1 || n > 2) {
			t.Errorf("units_done = %d after a session lost in the second tail unit, want 1 or 2 (the head, maybe the first tail unit)", n)
		}
	}

	o = f.run(req)
	if o.Status != deploy.StatusDeployed {
		t.Errorf("redelivery: %s retryable=%v (%v), want deployed", o.Status, o.Retryable, o.Err)
	}
	checkSteps(t, c, db)
	rows, status, _, attempts = ledgerRow(t, c, db)
	if rows != 1 || status != "succeeded" || attempts != 2 {
		t.Errorf("ledger after the redelivery: %d row(s), status %s, attempts %d; want 1 row, succeeded, attempts 2", rows, status, attempts)
	}
	if n, ok := unitsDone(t, c, db); ok && n != totalUnits {
		t.Errorf("units_done = %d after the deploy succeeded, want %d (the head and %d tail units)", n, totalUnits, steps)
	}
	if o = f.run(req); o.Status != deploy.StatusDuplicate {
		t.Errorf("third delivery: %s (%v), want duplicate", o.Status, o.Err)
	}
	t.Logf("took %v", time.Since(begin))
}

// A session ended by pg_terminate_backend (57P01) inside the atomic head.
func TestTerminatedSessionMidHeadIsRetryable(t *testing.T) {
	f := newFixture(t)
	dieThenRedeliver(t, pg, f.db, f, lostSession{at: inHead, kill: terminate})
}

// A session ended by pg_terminate_backend while the second tail unit runs.
func TestTerminatedSessionMidTailIsRetryable(t *testing.T) {
	f := newFixture(t)
	dieThenRedeliver(t, pg, f.db, f, lostSession{at: inTail, kill: terminate})
}

// The server restarted under the deploy: fast shutdown (the session gets
// 57P01) inside the head, immediate shutdown (the session's socket just
// closes) in the tail. The cluster is this test's own.
func TestServerRestartMidDeployIsRetryable(t *testing.T) {
	// synchronous_commit on: what committed before the immediate shutdown
	// stays committed, so the test sees the pipeline's doing, not lost WAL.
	c := testpg.Start(t, pgserver.WithConfig("synchronous_commit", "on"))
	for _, tc := range []struct {
		name string
		ls   lostSession
	}{
		{"fast mid-head", lostSession{at: inHead, kill: restart("fast"), canStall: true}},
		{"immediate mid-tail", lostSession{at: inTail, kill: restart("immediate"), canStall: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := c.NewDatabase(t)
			f := newFixtureOn(t, c, db, c.ConnString(db))
			dieThenRedeliver(t, c, db, f, tc.ls)
		})
	}
}

// Two deployers logging in as different roles, neither with
// pg_read_all_stats (so neither sees the other's sessions in
// pg_stat_activity), deploy the same bundle with overlapping runs: one
// deploys, the other is a duplicate.
//
// The roles share the database through a group role that owns it: each
// logs in with role set to the group (ALTER ROLE … SET role), so what
// either creates, the ledger included, belongs to the group and the other
// can use it (plain membership would leave the ledger owned by whichever
// deployer came first).
//
// To make the overlap deterministic the test holds a row lock on the
// ledger row while the first deploy finishes, as a slow ledger write would:
// the first deployer's final ledger write waits for it. A deployer that
// released the deploy lock before its row was final lets the second one in
// during that wait (it then blocks on the row too, and the test lets go at
// once); otherwise the test lets go after windowHold.
func TestTwoDeployerRolesOverlapDeployOnce(t *testing.T) {
	testpg.Require(t, pgErr)
	db := pg.NewDatabase(t)
	group := pg.NewRole(t, "pgmi_owners")
	a, b := pg.NewRole(t, "pgmi_deployer_a"), pg.NewRole(t, "pgmi_deployer_b")
	t.Cleanup(func() { dropDatabase(t, pg, db) }) // before the roles that own it are dropped
	id := func(s string) string { return pgx.Identifier{s}.Sanitize() }
	pg.Exec(t, "postgres", "ALTER DATABASE "+id(db)+" OWNER TO "+id(group))
	pg.Exec(t, "postgres", "GRANT "+id(group)+" TO "+id(a)+", "+id(b))
	for _, r := range []string{a, b} {
		pg.Exec(t, "postgres", "ALTER ROLE "+id(r)+" SET role = "+id(group))
		if countIn(t, pg, "postgres", "SELECT pg_has_role('"+r+"', 'pg_read_all_stats', 'USAGE')::int") != 0 {
			t.Fatalf("role %s has pg_read_all_stats", r)
		}
	}
	pg.Exec(t, db, "ALTER SCHEMA public OWNER TO "+id(group))

	connAs := func(role string) string {
		return fmt.Sprintf("host=%s port=%d user=%s dbname=%s", pg.Host(), pg.Port(), role, db)
	}
	fa := newFixtureOn(t, pg, db, connAs(a))
	eb := env{}
	for k, v := range fa.env {
		eb[k] = v
	}
	eb["PGMI_CONNECTION_STRING"] = connAs(b)
	deployerB := newDeployer(t, eb)

	req := fa.put("app/1.tgz", fa.signed("CREATE TABLE IF NOT EXISTS runs (n int); INSERT INTO runs VALUES (1); SELECT pg_sleep(1);"), "")
	begin := time.Now()
	runA := goRun(t, fa.d, req, "deployer "+a)
	awaitBackend(t, pg, db, "usename = '"+a+"' AND "+`state = 'active' AND wait_event = 'PgSleep'`, runA)

	// Hold the (running) ledger row until the first deployer waits for it,
	// then until the second one does too, or for windowHold.
	ctx := t.Context()
	holder, err := pgx.Connect(ctx, pg.ConnString(db))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	if _, err := holder.Exec(ctx, "BEGIN; SELECT * FROM pgmi_ledger.deployments FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	runB := goRun(t, deployerB, req, "deployer "+b)
	blockedOnRow := `wait_event_type = 'Lock' AND wait_event <> 'advisory' AND usename = `
	awaitBackend(t, pg, db, blockedOnRow+"'"+a+"'", runA)
	t.Logf("deployer %s waits for the ledger row lock after %v", a, time.Since(begin))
	letGo := time.Now().Add(windowHold)
	for time.Now().Before(letGo) && countIn(t, pg, "postgres",
		"SELECT count(*)::int FROM pg_stat_activity WHERE datname = '"+db+"' AND "+blockedOnRow+"'"+b+"'") == 0 {
		time.Sleep(dieTick)
	}
	if _, err := holder.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}

	oa, ob := runA.wait(t, outcomeWait), runB.wait(t, outcomeWait)
	counts := map[deploy.Status]int{oa.Status: 1}
	counts[ob.Status]++
	if counts[deploy.StatusDeployed] != 1 || counts[deploy.StatusDuplicate] != 1 {
		t.Errorf("outcomes %s (%v) and %s (%v), want one deployed and one duplicate", oa.Status, oa.Err, ob.Status, ob.Err)
	}
	if n := countIn(t, pg, db, "SELECT count(*)::int FROM runs"); n != 1 {
		t.Errorf("deploy.sql ran %d times, want once", n)
	}
	rows, status, _, attempts := ledgerRow(t, pg, db)
	if rows != 1 || status != "succeeded" || attempts != 1 {
		t.Errorf("ledger: %d row(s), status %s, attempts %d; want 1 row, succeeded, attempts 1", rows, status, attempts)
	}
	t.Logf("took %v", time.Since(begin))
}

// 20 deliveries of the same bundle at once, to a database that does not
// exist yet: one creates it and deploys, the others find the database (one
// of them created it meanwhile) and the deploy, and are duplicates.
func TestConcurrentFirstDeliveriesToMissingDatabase(t *testing.T) {
	testpg.Require(t, pgErr)
	suffix := make([]byte, 6)
	rand.Read(suffix)
	db := "t_concurrentfirst_" + hex.EncodeToString(suffix)
	t.Cleanup(func() { dropDatabase(t, pg, db) })
	f := newFixtureOn(t, pg, db, pg.ConnString(db), func(e env) { e["PGMI_LOCK_WAIT"] = "60s" })

	req := f.put("app/1.tgz", f.signed("CREATE TABLE runs (n int); INSERT INTO runs VALUES (1); SELECT pg_sleep(0.2);"), "")
	begin := time.Now()
	runs := make([]*pending, 20)
	for i := range runs {
		runs[i] = goRun(t, f.d, req, fmt.Sprintf("delivery %d", i+1))
	}
	counts := map[deploy.Status]int{}
	for i, p := range runs {
		o := p.wait(t, 60*time.Second)
		counts[o.Status]++
		if o.Status == deploy.StatusFailed {
			t.Errorf("delivery %d failed (retryable=%v): %v", i+1, o.Retryable, o.Err)
		}
	}
	t.Logf("outcomes %v in %v", counts, time.Since(begin))
	if counts[deploy.StatusDeployed] != 1 || counts[deploy.StatusDuplicate] != 19 {
		t.Errorf("outcomes %v, want 1 deployed and 19 duplicate", counts)
	}
	if n := countIn(t, pg, db, "SELECT count(*)::int FROM runs"); n != 1 {
		t.Errorf("deploy.sql ran %d times, want once", n)
	}
}

// dropDatabase drops db WITH (FORCE), at cleanup (t.Context is done by then).
func dropDatabase(t *testing.T, c *testpg.Cluster, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Error(err)
	}
}
