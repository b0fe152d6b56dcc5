package deploy_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "gocloud.dev/blob/fileblob"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/bundle"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

var (
	pg    *testpg.Cluster
	pgErr error
)

func TestMain(m *testing.M) {
	if msg := os.Getenv(fleetChildMessage); msg != "" {
		os.Exit(fleetChild(msg)) // a deployer process for one fleet message (fleet_die_test.go)
	}
	var stop func()
	pg, stop, pgErr = testpg.StartMain()
	code := m.Run()
	if stop != nil {
		stop()
	}
	os.Exit(code)
}

// env is a function's environment pointing at the test cluster.
type env map[string]string

func (e env) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

// fixture is one deployer over a folder bucket and a fresh database.
type fixture struct {
	t   testing.TB
	db  string
	dir string
	key *testbundle.Key
	d   *deploy.Deployer
	env env
}

func newFixture(t *testing.T, tweak ...func(env)) *fixture { return newFixtureTB(t, tweak...) }

func newBenchFixture(b *testing.B) *fixture { return newFixtureTB(b) }

func newFixtureTB(t testing.TB, tweak ...func(env)) *fixture {
	t.Helper()
	testpg.Require(t, pgErr)
	f := &fixture{t: t, db: pg.NewDatabase(t), dir: t.TempDir(), key: testbundle.NewKey(t)}
	f.env = env{
		"PGMI_CONNECTION_STRING": pg.ConnString(f.db),
		"PGMI_TRUSTED_SIGNERS":   f.key.AllowedSigners,
		"PGMI_LOCK_WAIT":         "20s",
		"PGMI_TIMEOUT_MARGIN":    "1s",
		"PGMI_RESET_ALLOW":       f.db,
	}
	for _, fn := range tweak {
		fn(f.env)
	}
	cfg, err := deploy.LoadConfig(context.Background(), f.env.lookup, nil)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	var log *slog.Logger
	if _, bench := t.(*testing.B); !bench {
		log = testLog(t)
	}
	f.d = deploy.New(cfg, &deploy.Options{Log: log})
	t.Cleanup(func() { f.d.Close() })
	return f
}

// put writes a bundle into the folder and returns its request.
func (f *fixture) put(name string, data []byte, seq string) deploy.Request {
	f.t.Helper()
	path := filepath.Join(f.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	bucket := "file://" + filepath.ToSlash(f.dir)
	return deploy.Request{Action: deploy.ActionDeploy, Bucket: bucket, Bundle: bucket + "/" + name, Sequencer: seq,
		Trigger: deploy.Trigger{Platform: "test", Source: "folder"}}
}

func (f *fixture) signed(sql string) []byte {
	return testbundle.Pack(f.t, f.key, "app", testbundle.Project(sql))
}

func (f *fixture) run(req deploy.Request) *deploy.Outcome {
	f.t.Helper()
	return f.runCtx(context.Background(), req)
}

func (f *fixture) runCtx(ctx context.Context, req deploy.Request) *deploy.Outcome {
	f.t.Helper()
	o := f.d.Run(ctx, req)
	f.t.Logf("outcome: %s (retryable=%v err=%v result=%s)", o.Status, o.Retryable, o.Err, o.ResultURL)
	if o.ResultErr != nil {
		f.t.Errorf("writing the result: %v", o.ResultErr)
	}
	return o
}

func (f *fixture) count(sql string) int {
	f.t.Helper()
	conn := pg.Connect(f.t, f.db)
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (f *fixture) tableExists(name string) bool {
	return f.count("SELECT count(*) FROM pg_class WHERE relname = '"+name+"'") > 0
}

func (f *fixture) result(o *deploy.Outcome) deploy.Report {
	f.t.Helper()
	path := strings.TrimPrefix(o.ResultURL, "file://")
	data, err := os.ReadFile(path)
	if err != nil {
		f.t.Fatalf("result object: %v", err)
	}
	var r deploy.Report
	if err := json.Unmarshal(data, &r); err != nil {
		f.t.Fatalf("result object %s: %v", path, err)
	}
	return r
}

func want(t *testing.T, o *deploy.Outcome, status deploy.Status, retryable bool) {
	t.Helper()
	if o.Status != status || o.Retryable != retryable {
		t.Fatalf("outcome %s retryable=%v (%v), want %s retryable=%v", o.Status, o.Retryable, o.Err, status, retryable)
	}
}

func TestDeployThenDuplicate(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/1.tgz", f.signed("CREATE TABLE t1 (id int);"), "")
	o := f.run(req)
	want(t, o, deploy.StatusDeployed, false)
	if !f.tableExists("t1") {
		t.Fatal("t1 was not created")
	}
	rep := f.result(o)
	if rep.Outcome != deploy.StatusDeployed || rep.Bundle.SHA256 == "" || rep.Bundle.Signer == nil ||
		rep.Bundle.Signer.Principals != testbundle.Principal || rep.Deploy["status"] != "success" || rep.Target.Database != f.db {
		t.Fatalf("result object: %+v", rep)
	}
	if !strings.HasSuffix(o.ResultURL, "/pgmi-results/app/1.tgz."+rep.Bundle.SHA256[:12]+".json") {
		t.Errorf("result URL %s", o.ResultURL)
	}
	o = f.run(req)
	want(t, o, deploy.StatusDuplicate, false)
	if o.Report.Previous == nil || o.Report.Previous.Status != "succeeded" {
		t.Fatalf("duplicate without the previous row: %+v", o.Report.Previous)
	}
	if n := f.count("SELECT count(*) FROM pgmi_ledger.deployments WHERE status = 'succeeded'"); n != 1 {
		t.Fatalf("%d succeeded ledger rows, want 1", n)
	}
}

func TestConcurrentDuplicatesDeployOnce(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/1.tgz", f.signed("CREATE TABLE runs (n int); INSERT INTO runs VALUES (1); SELECT pg_sleep(0.5);"), "")
	var wg sync.WaitGroup
	outs := make([]*deploy.Outcome, 5)
	for i := range outs {
		wg.Add(1)
		go func() { defer wg.Done(); outs[i] = f.d.Run(context.Background(), req) }()
	}
	wg.Wait()
	counts := map[deploy.Status]int{}
	for _, o := range outs {
		counts[o.Status]++
		if o.Retryable {
			t.Errorf("retryable outcome %s: %v", o.Status, o.Err)
		}
	}
	if counts[deploy.StatusDeployed] != 1 || counts[deploy.StatusDuplicate] != 4 {
		t.Fatalf("outcomes %v, want 1 deployed and 4 duplicate", counts)
	}
	if n := f.count("SELECT count(*) FROM runs"); n != 1 {
		t.Fatalf("deploy.sql ran %d times", n)
	}
}

func TestStaleEventSkipped(t *testing.T) {
	f := newFixture(t)
	newer := f.put("app/current.tgz", f.signed("CREATE TABLE v2 (id int);"), "0055AED6DCD90281E6")
	want(t, f.run(newer), deploy.StatusDeployed, false)
	older := f.put("app/current.tgz", f.signed("CREATE TABLE v1 (id int);"), "0055AED6DCD90281E5")
	o := f.run(older)
	want(t, o, deploy.StatusStale, false)
	if f.tableExists("v1") {
		t.Fatal("the stale bundle ran")
	}
	if f.result(o).Outcome != deploy.StatusStale {
		t.Fatal("result object does not say stale")
	}
}

func TestFailingDeployAcknowledged(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/bad.tgz", f.signed("BEGIN; CREATE TABLE half (id int); SELECT 1/0; COMMIT;"), "")
	o := f.run(req)
	want(t, o, deploy.StatusFailed, false)
	if f.tableExists("half") {
		t.Fatal("the failed deploy left a table behind")
	}
	rep := f.result(o)
	if rep.ExitCode != 13 || !strings.Contains(rep.Message, "division by zero") || rep.Deploy["sqlstate"] != "22012" {
		t.Fatalf("result object does not say why: %+v", rep)
	}
	o = f.run(req)
	want(t, o, deploy.StatusDuplicate, false)
	if o.Report.Previous == nil || o.Report.Previous.Status != "failed" {
		t.Fatalf("a redelivered failed bundle must be acknowledged as a duplicate of the failure: %+v", o.Report.Previous)
	}
}

func TestUnsignedRefused(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/unsigned.tgz", testbundle.Pack(t, nil, "app", testbundle.Project("CREATE TABLE u (id int);")), "")
	o := f.run(req)
	want(t, o, deploy.StatusFailed, false)
	if !strings.Contains(o.Err.Error(), "unsigned") && !strings.Contains(o.Err.Error(), "signature") {
		t.Fatalf("error does not say the bundle is unsigned: %v", o.Err)
	}
	if f.tableExists("u") || f.tableExists("deployments") {
		t.Fatal("an unsigned bundle changed the database")
	}
	if rep := f.result(o); len(rep.Bundle.SHA256) != 64 || !strings.Contains(o.ResultURL, rep.Bundle.SHA256[:12]) {
		t.Fatalf("the refused bundle's result does not name its digest: %s %+v", o.ResultURL, rep.Bundle)
	}
	other := testbundle.NewKey(t)
	req = f.put("app/untrusted.tgz", testbundle.Pack(t, other, "app", testbundle.Project("CREATE TABLE u (id int);")), "")
	want(t, f.run(req), deploy.StatusFailed, false)
}

func TestUnreachableDatabaseRetryable(t *testing.T) {
	f := newFixture(t, func(e env) { e["PGMI_CONNECTION_STRING"] = "postgresql://nobody@127.0.0.1:1/x?connect_timeout=2" })
	o := f.run(f.put("app/1.tgz", f.signed("SELECT 1;"), ""))
	want(t, o, deploy.StatusFailed, true)
	if !f.result(o).Retryable {
		t.Fatal("result object does not say retryable")
	}
}

func TestDeadlineCancelsOnServer(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/slow.tgz", f.signed("SELECT pg_sleep(CASE WHEN to_regclass('public.go_fast') IS NULL THEN 60 ELSE 0 END);"), "")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second) // margin 1s → 3s
	defer cancel()
	start := time.Now()
	o := f.runCtx(ctx, req)
	want(t, o, deploy.StatusFailed, true)
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("returned after %s, past the platform deadline", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.count("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep(CASE%'") > 0 {
		if time.Now().After(deadline) {
			t.Fatal("a backend is still running the deploy")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The ledger says so (on the deploy session, which the confirmed cancel
	// kept), and a retry takes the row over.
	if n := f.count("SELECT count(*) FROM pgmi_ledger.deployments WHERE status = 'failed' AND retryable AND exit_code = 16"); n != 1 {
		t.Fatalf("%d failed-retryable rows after the timeout, want 1", n)
	}
	conn := pg.Connect(t, f.db)
	if _, err := conn.Exec(context.Background(), "CREATE TABLE go_fast ()"); err != nil {
		t.Fatal(err)
	}
	want(t, f.run(req), deploy.StatusDeployed, false)
	if n := f.count("SELECT count(*) FROM pgmi_ledger.deployments WHERE status = 'succeeded' AND attempts = 2"); n != 1 {
		t.Fatal("the retry did not take the failed row over")
	}
}

// A running row left by a dead deployer is taken over once the lock is
// free: from the start when nothing had committed, after the committed
// units otherwise (so they never run twice).
func TestDeadSessionRowTakenOver(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/1.tgz", f.signed("CREATE TABLE once (id int);"), "")
	o := f.run(req)
	want(t, o, deploy.StatusDeployed, false)
	conn := pg.Connect(t, f.db)
	if _, err := conn.Exec(context.Background(), `UPDATE pgmi_ledger.deployments SET status = 'running', units_done = 0, backend_pid = 999999; DROP TABLE once`); err != nil {
		t.Fatal(err)
	}
	o = f.run(req)
	want(t, o, deploy.StatusDeployed, false)
	if n := f.count("SELECT attempts FROM pgmi_ledger.deployments"); n != 2 || !f.tableExists("once") {
		t.Fatalf("attempts = %d, want 2 (the row was taken over and deploy.sql ran again)", n)
	}
	if _, err := conn.Exec(context.Background(), `UPDATE pgmi_ledger.deployments SET status = 'running'; DROP TABLE once`); err != nil {
		t.Fatal(err)
	}
	o = f.run(req)
	want(t, o, deploy.StatusDeployed, false)
	if f.tableExists("once") || o.Report.ResumedAfterUnits != 1 || o.Report.Attempt != 3 {
		t.Fatalf("a committed unit ran again on takeover (resumed after %d, attempt %d)", o.Report.ResumedAfterUnits, o.Report.Attempt)
	}
}

func TestRouting(t *testing.T) {
	f := newFixture(t, func(e env) {
		e["PGMI_ROUTES"] = `[{"prefix":"app/","database":"` + e["PGMI_RESET_ALLOW"] + `","params":{"greeting":"hi"}}]`
	})
	o := f.run(f.put("other/1.tgz", f.signed("CREATE TABLE other (id int);"), ""))
	want(t, o, deploy.StatusIgnored, false)
	if o.ResultURL == "" {
		t.Fatal("an ignored object still gets a result object")
	}
	o = f.run(f.put("app/1.tgz", f.signed("CREATE TABLE greet AS SELECT current_setting('pgmi.greeting') AS g;"), ""))
	want(t, o, deploy.StatusDeployed, false)
	if f.count("SELECT count(*) FROM greet WHERE g = 'hi'") != 1 {
		t.Fatal("route params did not reach the session")
	}
	o = f.run(f.put("pgmi-results/app/1.tgz.x.json", []byte("{}"), ""))
	want(t, o, deploy.StatusIgnored, false)
	if o.ResultURL != "" {
		t.Fatal("a result object must never produce a result object")
	}
}

func TestReset(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/1.tgz", f.signed("CREATE TABLE seeded (id int); INSERT INTO seeded VALUES (1);"), "")
	want(t, f.run(req), deploy.StatusDeployed, false)
	conn := pg.Connect(t, f.db)
	if _, err := conn.Exec(context.Background(), "INSERT INTO seeded VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())

	reset := deploy.Request{Action: deploy.ActionReset, Database: f.db,
		Trigger: deploy.Trigger{Platform: "test", Source: "scheduler", Schedule: "nightly@2026-11-25T02:00:00Z"}}
	o := f.run(reset)
	want(t, o, deploy.StatusDeployed, false)
	if n := f.count("SELECT count(*) FROM seeded"); n != 1 {
		t.Fatalf("after the reset seeded has %d rows, want 1 (recreated from the last bundle)", n)
	}
	if !strings.HasSuffix(o.ResultURL, ".reset.json") {
		t.Errorf("reset result URL %s", o.ResultURL)
	}
	want(t, f.run(reset), deploy.StatusDuplicate, false)

	refused := deploy.Request{Action: deploy.ActionReset, Database: "postgres", Bundle: req.Bundle, Trigger: reset.Trigger}
	o = f.run(refused)
	want(t, o, deploy.StatusFailed, false)
	if !strings.Contains(o.Err.Error(), "PGMI_RESET_ALLOW") {
		t.Fatalf("refusal does not name PGMI_RESET_ALLOW: %v", o.Err)
	}
}

// fleetEnv is PGMI_ROUTES with one route of prefix t/ and the members
// given, and a fleet topic.
func fleetEnv(members string) env {
	return env{"PGMI_ROUTES": `[{"prefix":"t/",` + members + `}]`, "PGMI_FLEET_TOPIC": "mem://t"}
}

func TestLoadConfigErrors(t *testing.T) {
	key := testbundle.NewKey(t)
	base := func() env {
		return env{"PGHOST": "127.0.0.1", "PGUSER": "u", "PGDATABASE": "d", "PGMI_TRUSTED_SIGNERS": key.AllowedSigners}
	}
	cases := map[string]struct {
		set  env
		want string
	}{
		"no signers":        {env{"PGMI_TRUSTED_SIGNERS": ""}, "PGMI_ALLOW_UNSIGNED=true"},
		"bad signers":       {env{"PGMI_TRUSTED_SIGNERS": "x y z"}, "PGMI_TRUSTED_SIGNERS"},
		"bad routes":        {env{"PGMI_ROUTES": `[{"prefix":"a/"}]`}, "no database"},
		"routes not JSON":   {env{"PGMI_ROUTES": `app/=app`}, "PGMI_ROUTES"},
		"unknown route key": {env{"PGMI_ROUTES": `[{"prefix":"a/","database":"a","db":"x"}]`}, "unknown field"},
		"bad margin":        {env{"PGMI_TIMEOUT_MARGIN": "soon"}, "PGMI_TIMEOUT_MARGIN"},
		"bad bool":          {env{"PGMI_ALLOW_UNSIGNED": "yes please"}, "PGMI_ALLOW_UNSIGNED"},
		"bad ledger":        {env{"PGMI_LEDGER_TABLE": "Ledger"}, "PGMI_LEDGER_TABLE"},
		"bad auth":          {env{"PGMI_AUTH": "kerberos"}, "kerberos"},
		"bad sslmode":       {env{"PGSSLMODE": "sometimes"}, "sometimes"},
		// Fleets (a valid fleet with a topic loads: TestFleet*).
		"fleet without topic": {env{"PGMI_ROUTES": `[{"prefix":"t/","fleet":{"databases":["a"],"waves":["100%"]}}]`}, "PGMI_FLEET_TOPIC"},
		"fleet and database":  {fleetEnv(`"database":"x","fleet":{"databases":["a"],"waves":[1]}`), "both a database and a fleet"},
		"fleet no databases":  {fleetEnv(`"fleet":{"waves":[1]}`), "no databases"},
		"fleet no waves":      {fleetEnv(`"fleet":{"databases":["a"]}`), "no waves"},
		"fleet waves shrink":  {fleetEnv(`"fleet":{"databases":["a"],"waves":[5,2]}`), "smaller than wave 1"},
		"fleet bad percent":   {fleetEnv(`"fleet":{"databases":["a"],"waves":["150%"]}`), "between 0% and 100%"},
		"fleet empty wave":    {fleetEnv(`"fleet":{"databases":["a"],"waves":[0]}`), "wave 1 is empty"},
		"fleet twice listed":  {fleetEnv(`"fleet":{"databases":["a","a"],"waves":[1]}`), "listed twice"},
		"fleet template":      {fleetEnv(`"fleet":{"databases":["template1"],"waves":[1]}`), "template"},
		"fleet budget":        {fleetEnv(`"fleet":{"databases":["a"],"waves":[1],"maxFailures":-1}`), "maxFailures"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			e := base()
			for k, v := range c.set {
				e[k] = v
			}
			_, err := deploy.LoadConfig(context.Background(), e.lookup, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			var coded *fault.Error
			if errors.As(err, &coded) && exitcode.Of(coded) != 10 {
				t.Fatalf("exit code %d, want 10", exitcode.Of(coded))
			}
		})
	}
}

func TestNewer(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"0055AED6DCD90281E6", "0055AED6DCD90281E5", true},
		{"0055AED6DCD90281E5", "0055AED6DCD90281E6", false},
		{"0055AED6DCD9028200", "0055AED6DCD90281E5", true},
		{"0055AED6DCD902820", "0055AED6DCD90281E5", true}, // right-padded
		{"0055AED6DCD90281E5", "0055AED6DCD90281E5", false},
		{deploy.DecimalSequencer("10"), deploy.DecimalSequencer("9"), true},
	}
	for _, c := range cases {
		if got := deploy.Newer(c.a, c.b); got != c.want {
			t.Errorf("Newer(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

// The deploy session asks the server to notice a vanished client.
func TestSessionChecksForVanishedClient(t *testing.T) {
	f := newFixture(t)
	o := f.run(f.put("app/cci.tgz", f.signed("CREATE TABLE cci AS SELECT current_setting('client_connection_check_interval') AS v;"), ""))
	want(t, o, deploy.StatusDeployed, false)
	if n := f.count("SELECT count(*) FROM cci WHERE v = '2s'"); n != 1 {
		t.Fatal("client_connection_check_interval is not 2s in the deploy session")
	}
}

// A bundle key that gocloud would escape or that holds URL syntax reaches
// the bucket verbatim.
func TestOddKeysVerbatim(t *testing.T) {
	f := newFixture(t)
	for _, key := range []string{"app/with space.tgz", "app/100%+plus.tgz", "app/q?x=1#frag.tgz"} {
		o := f.run(f.put(key, f.signed("SELECT 1;"), ""))
		want(t, o, deploy.StatusDeployed, false)
	}
}

// The trusted signers can live in a bucket (PGMI_TRUSTED_SIGNERS_URL), and
// the ledger can be named (PGMI_LEDGER_TABLE).
func TestSignersURLAndLedgerName(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, func(e env) {
		if err := os.WriteFile(filepath.Join(dir, "allowed_signers"), []byte(e["PGMI_TRUSTED_SIGNERS"]), 0o644); err != nil {
			t.Fatal(err)
		}
		delete(e, "PGMI_TRUSTED_SIGNERS")
		e["PGMI_TRUSTED_SIGNERS_URL"] = "file://" + filepath.ToSlash(dir) + "/allowed_signers"
		e["PGMI_LEDGER_TABLE"] = "ops.releases"
	})
	o := f.run(f.put("app/1.tgz", f.signed("CREATE TABLE via_url (id int);"), ""))
	want(t, o, deploy.StatusDeployed, false)
	if n := f.count("SELECT count(*) FROM ops.releases WHERE status = 'succeeded'"); n != 1 {
		t.Fatalf("%d rows in ops.releases", n)
	}
	_, err := deploy.LoadConfig(context.Background(), env{"PGHOST": "h", "PGMI_TRUSTED_SIGNERS_URL": "file://" + filepath.ToSlash(dir) + "/missing"}.lookup, nil)
	if err == nil || !strings.Contains(err.Error(), "PGMI_TRUSTED_SIGNERS_URL") {
		t.Fatalf("a missing signers object: %v", err)
	}
}

// A warm deployer re-reads PGMI_TRUSTED_SIGNERS_URL once its copy is older
// than PGMI_TRUSTED_SIGNERS_TTL, so a revoked key stops deploying within the
// TTL; a key added to the object is trusted at once (a refusal re-reads
// it); and an object that can no longer be read fails the deploy instead
// of leaving the old set, which may list the revoked key, in force.
func TestSignersURLRefreshAndRevocation(t *testing.T) {
	dir := t.TempDir()
	signers := filepath.Join(dir, "allowed_signers")
	write := func(lines ...string) {
		t.Helper()
		if err := os.WriteFile(signers, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	revoked, added := testbundle.NewKey(t), testbundle.NewKey(t)
	var kept string
	f := newFixture(t, func(e env) {
		kept = e["PGMI_TRUSTED_SIGNERS"]
		write(kept, revoked.AllowedSigners)
		delete(e, "PGMI_TRUSTED_SIGNERS")
		e["PGMI_TRUSTED_SIGNERS_URL"] = "file://" + filepath.ToSlash(dir) + "/allowed_signers"
		e["PGMI_TRUSTED_SIGNERS_TTL"] = "1s"
	})
	pack := func(k *testbundle.Key, table string) []byte {
		return testbundle.Pack(t, k, "app", testbundle.Project("CREATE TABLE "+table+" (id int);"))
	}
	want(t, f.run(f.put("app/1.tgz", pack(revoked, "before_revocation"), "1")), deploy.StatusDeployed, false)

	// Revoke; once the TTL has passed the key is refused, for good.
	write(kept)
	time.Sleep(1100 * time.Millisecond)
	o := f.run(f.put("app/2.tgz", pack(revoked, "after_revocation"), "2"))
	want(t, o, deploy.StatusFailed, false)
	if !errors.Is(o.Err, bundle.ErrUntrusted) || f.tableExists("after_revocation") {
		t.Fatalf("a revoked key deployed, or the refusal does not say why: %v", o.Err)
	}

	// Add a key: its first bundle, well inside the TTL, is trusted.
	write(kept, added.AllowedSigners)
	want(t, f.run(f.put("app/3.tgz", pack(added, "added_key"), "3")), deploy.StatusDeployed, false)

	// The object is gone: after the TTL nothing deploys on the old copy.
	if err := os.Remove(signers); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	o = f.run(f.put("app/4.tgz", pack(added, "signers_unreadable"), "4"))
	if o.Status != deploy.StatusFailed || !strings.Contains(o.Err.Error(), "re-reading PGMI_TRUSTED_SIGNERS_URL") || f.tableExists("signers_unreadable") {
		t.Fatalf("an unreadable signers object: %s %v", o.Status, o.Err)
	}

	_, err := deploy.LoadConfig(context.Background(), env{"PGHOST": "h", "PGMI_ALLOW_UNSIGNED": "true", "PGMI_TRUSTED_SIGNERS_TTL": "soon"}.lookup, nil)
	if err == nil || !strings.Contains(err.Error(), "PGMI_TRUSTED_SIGNERS_TTL") {
		t.Fatalf("an invalid TTL: %v", err)
	}
}

// A redelivered upload that was deployed answers duplicate even after a
// newer upload of the same key deployed: the ledger's own row wins over
// the stale rule (claimRow reads it when the newer upload is recorded).
func TestRedeliveryAfterNewerUploadIsDuplicate(t *testing.T) {
	f := newFixture(t)
	v1 := f.signed("CREATE TABLE v1 (id int);")
	older := f.put("app/current.tgz", v1, "0055AED6DCD90281E5")
	want(t, f.run(older), deploy.StatusDeployed, false)
	newer := f.put("app/current.tgz", f.signed("CREATE TABLE v2 (id int);"), "0055AED6DCD90281E6")
	want(t, f.run(newer), deploy.StatusDeployed, false)
	// The folder bucket keeps no versions: put back the bytes the older
	// event's version pins, as a versioned bucket would serve them.
	older = f.put("app/current.tgz", v1, "0055AED6DCD90281E5")
	o := f.run(older)
	want(t, o, deploy.StatusDuplicate, false)
	if o.Report.Previous == nil || o.Report.Previous.Sequencer != "0055AED6DCD90281E5" {
		t.Fatalf("the duplicate names %+v, want the older upload's own row", o.Report.Previous)
	}
}

// A deploy action payload that carries a schedule (EventBridge Scheduler's
// "schedule" field) is still the same bundle identity (URL, version,
// SHA-256): once that bundle succeeded, the scheduled delivery is a
// duplicate and deploy.sql does not run again. Only a reset's ledger row
// names its scheduled run.
func TestScheduledDeployPayloadIsDuplicate(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/1.tgz", f.signed("CREATE TABLE IF NOT EXISTS runs (n int); INSERT INTO runs VALUES (1);"), "")
	want(t, f.run(req), deploy.StatusDeployed, false)

	sched := req
	sched.Trigger = deploy.Trigger{Platform: "test", Source: "scheduler", Schedule: "arn:aws:scheduler:::schedule/default/nightly@2026-01-01T00:00:00Z"}
	o := f.run(sched)
	if n := f.count("SELECT count(*) FROM runs"); o.Status != deploy.StatusDuplicate || n != 1 {
		t.Fatalf("a scheduled deploy payload of an already deployed bundle: outcome %s, deploy.sql ran %d times (want duplicate, 1)", o.Status, n)
	}
}

// Re-running a failed bundle through an action payload (docs/operations.md,
// "Running a bundle again": no sequencer) keeps the upload's sequencer in
// its ledger row, so an older upload of the same key delivered after the
// re-run is still stale.
func TestPayloadRerunKeepsSequencer(t *testing.T) {
	f := newFixture(t)
	newer := f.put("app/current.tgz", f.signed(
		"DO $$ BEGIN IF to_regclass('public.go_ok') IS NULL THEN RAISE EXCEPTION 'not yet'; END IF; END $$;\nCREATE TABLE v2 (id int);\n"),
		"0055AED6DCD90281E6")
	want(t, f.run(newer), deploy.StatusFailed, false)
	conn := pg.Connect(t, f.db)
	if _, err := conn.Exec(context.Background(), "CREATE TABLE go_ok (); UPDATE pgmi_ledger.deployments SET retryable = true WHERE status = 'failed'"); err != nil {
		t.Fatal(err)
	}
	rerun := deploy.Request{Action: deploy.ActionDeploy, Bucket: newer.Bucket, Bundle: newer.Bundle,
		Trigger: deploy.Trigger{Platform: "test", Source: "direct"}}
	want(t, f.run(rerun), deploy.StatusDeployed, false)

	older := f.put("app/current.tgz", f.signed("CREATE TABLE v1_old (id int);"), "0055AED6DCD90281E5")
	o := f.run(older)
	if o.Status != deploy.StatusStale || f.tableExists("v1_old") {
		var seq string
		_ = conn.QueryRow(context.Background(), "SELECT sequencer FROM pgmi_ledger.deployments ORDER BY id LIMIT 1").Scan(&seq)
		t.Fatalf("an older upload after a payload re-run of the newer one: %s (v1_old exists: %v); the newer row's sequencer is now %q",
			o.Status, f.tableExists("v1_old"), seq)
	}
}
