// Package functest is the scenario suite every function adapter runs
// through its real runtime protocol (the built bootstrap behind a fake
// Lambda Runtime API, the functions-framework server sent CloudEvents, the
// custom handler sent the Functions host's payloads), as gocloud's
// drivertest is for blob drivers. A platform test stands up its storage and
// identity fakes and a PostgreSQL cluster, implements Harness, and calls Run.
package functest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// Setup is what the suite shares with a harness.
type Setup struct {
	PG       *testpg.Cluster // inspected over its unix socket as the superuser
	Database string          // the function's target database (PGDATABASE)
	ResetDB  string          // a second database, on PGMI_RESET_ALLOW
	Key      *testbundle.Key // bundles are signed with it; the function trusts it
	// Secrets are values no log line may contain (tokens, passwords, keys);
	// the harness adds its own.
	Secrets []string
}

// NewSetup creates the two databases and a signing key.
func NewSetup(t *testing.T, pg *testpg.Cluster) *Setup {
	t.Helper()
	return &Setup{PG: pg, Database: pg.NewDatabase(t), ResetDB: pg.NewDatabase(t), Key: testbundle.NewKey(t)}
}

// Env is the pgmi part of every function instance's environment; a harness
// adds connection, storage and identity variables.
func (s *Setup) Env() map[string]string {
	return map[string]string{
		"PGMI_TRUSTED_SIGNERS": s.Key.AllowedSigners,
		"PGMI_RESET_ALLOW":     s.ResetDB,
		"PGMI_LOCK_WAIT":       "30s",
		"PGMI_TIMEOUT_MARGIN":  "1s",
		"PGMI_LOG_LEVEL":       "debug",
	}
}

// Object is an uploaded bundle as the platform's event names it.
type Object struct {
	Key       string
	Version   string // S3 versionId, GCS generation, Azure ETag
	Sequencer string // as the platform's event carries it
}

// Options start an instance.
type Options struct {
	Env         map[string]string // overrides of the harness's environment
	Concurrency int               // instances serving in parallel (Lambda needs one process each); 0 means 1
	Deadline    time.Duration     // the platform's time limit per invocation; 0 means the harness default
	Unreachable bool              // point the function at a database server that does not answer
	ResetDB     string            // the database a scheduled reset targets, for platforms that configure it
}

// Reply is the platform-visible answer to one delivery.
type Reply struct {
	Retry  bool   // the platform would deliver the event again
	Detail string // status line, body … for failure messages
}

// Harness is one platform seen through what the suite needs.
type Harness interface {
	// Upload stores data under key and returns what the upload event names.
	Upload(t *testing.T, key string, data []byte) Object
	// Start runs function instances with the options and returns them.
	Start(t *testing.T, opts Options) Instance
	// ReadResult reads a result object by the URL the log line gives.
	ReadResult(t *testing.T, resultURL string) []byte
}

// Instance is a running function.
type Instance interface {
	// Deliver sends the platform's upload event for obj and returns the answer.
	Deliver(t *testing.T, obj Object) Reply
	// Reset sends the platform's scheduled reset of db, redeploying obj
	// (platforms whose schedules carry no payload redeploy the last bundle).
	Reset(t *testing.T, db string, obj Object, schedule string) Reply
	// Logs are the structured log lines written so far.
	Logs(t *testing.T) []Line
}

// Line is one structured log line.
type Line map[string]any

func (l Line) str(k string) string { s, _ := l[k].(string); return s }

// Outcome is the line's outcome, "" for lines that are not outcome lines.
func (l Line) Outcome() string { return l.str("outcome") }

// Run runs every scenario, then checks that no instance logged a secret.
func Run(t *testing.T, s *Setup, h Harness) {
	rec := &recorder{Harness: h}
	orig := h
	h = rec
	main := h.Start(t, Options{Concurrency: 5})
	t.Run("Deploy", func(t *testing.T) { deployOnce(t, s, h, main) })
	t.Run("FiveConcurrentDeliveries", func(t *testing.T) { fiveAtOnce(t, s, h, main) })
	t.Run("Stale", func(t *testing.T) { stale(t, s, h, main) })
	t.Run("FailingDeploy", func(t *testing.T) { failing(t, s, h, main) })
	t.Run("Unsigned", func(t *testing.T) { unsigned(t, s, h, main) })
	t.Run("Reset", func(t *testing.T) { reset(t, s, h, main) })
	t.Run("Unreachable", func(t *testing.T) { unreachable(t, s, h) })
	t.Run("Deadline", func(t *testing.T) { deadline(t, s, h) })
	t.Run("Templates", func(t *testing.T) { templatesDeploy(t, s, h) })
	t.Run("Fleet", func(t *testing.T) { fleet(t, s, &fleetRecorder{recorder: rec, fleet: orig}) })
	t.Run("NoSecretsInLogs", func(t *testing.T) { noSecrets(t, s, rec) })
}

// recorder remembers every instance started, for the final log scan.
type recorder struct {
	Harness
	mu        sync.Mutex
	instances []Instance
}

func (r *recorder) Start(t *testing.T, opts Options) Instance {
	in := r.Harness.Start(t, opts)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.instances = append(r.instances, in)
	return in
}

// fleetRecorder keeps the recorder's bookkeeping for a FleetHarness.
type fleetRecorder struct {
	*recorder
	fleet Harness
}

func (f *fleetRecorder) FleetQueue(t *testing.T) (map[string]string, FleetQueue) {
	fh, ok := f.fleet.(FleetHarness)
	if !ok {
		t.Fatalf("%T does not emulate the platform's fleet queue (FleetHarness)", f.fleet)
	}
	return fh.FleetQueue(t)
}

func noSecrets(t *testing.T, s *Setup, r *recorder) {
	secrets := append([]string{}, s.Secrets...)
	lines := 0
	for _, in := range r.instances {
		for _, l := range in.Logs(t) {
			lines++
			data, _ := json.Marshal(l)
			for _, secret := range secrets {
				if secret != "" && strings.Contains(string(data), secret) {
					t.Errorf("a log line contains a secret: %s", data)
				}
			}
		}
	}
	if lines == 0 {
		t.Fatal("no log lines at all")
	}
}

func bundle(s *Setup, t *testing.T, sql string) []byte {
	return testbundle.Pack(t, s.Key, "app", testbundle.Project(sql))
}

// lineFor finds the outcome line of key's delivery (the newest first).
func lineFor(t *testing.T, in Instance, key string, n int) []Line {
	t.Helper()
	return linesWhere(t, in, n, func(l Line) bool { return strings.HasSuffix(l.str("bundle"), "/"+key) })
}

// linesWhere waits up to 5 s for n outcome lines that keep accepts and
// returns those there are.
func linesWhere(t *testing.T, in Instance, n int, keep func(Line) bool) []Line {
	t.Helper()
	var found []Line
	deadline := time.Now().Add(5 * time.Second)
	for {
		found = found[:0]
		for _, l := range in.Logs(t) {
			if l.Outcome() != "" && keep(l) {
				found = append(found, l)
			}
		}
		if len(found) >= n || time.Now().After(deadline) {
			return found
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastLine(t *testing.T, in Instance, key string) Line {
	t.Helper()
	lines := lineFor(t, in, key, 1)
	if len(lines) == 0 {
		t.Fatalf("no outcome log line for %s; logs:\n%s", key, dump(in.Logs(t)))
	}
	return lines[len(lines)-1]
}

func dump(lines []Line) string {
	var b strings.Builder
	for _, l := range lines {
		data, _ := json.Marshal(l)
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

func (s *Setup) count(t *testing.T, db, sql string) int {
	t.Helper()
	conn := s.PG.Connect(t, db)
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (s *Setup) table(t *testing.T, db, name string) bool {
	return s.count(t, db, "SELECT count(*) FROM pg_class WHERE relname = '"+name+"'") > 0
}

func result(t *testing.T, h Harness, l Line) map[string]any {
	t.Helper()
	u := l.str("resultUrl")
	if u == "" {
		t.Fatalf("outcome line without resultUrl: %v", l)
	}
	var r map[string]any
	if err := json.Unmarshal(h.ReadResult(t, u), &r); err != nil {
		t.Fatalf("result object %s: %v", u, err)
	}
	return r
}

func expectAck(t *testing.T, r Reply) {
	t.Helper()
	if r.Retry {
		t.Fatalf("the platform was asked to retry: %s", r.Detail)
	}
}

func deployOnce(t *testing.T, s *Setup, h Harness, in Instance) {
	obj := h.Upload(t, "app/releases/first 1.0.tgz", bundle(s, t, "CREATE TABLE first_deploy (id int);"))
	expectAck(t, in.Deliver(t, obj))
	if !s.table(t, s.Database, "first_deploy") {
		t.Fatal("the bundle was not deployed")
	}
	l := lastLine(t, in, obj.Key)
	if l.Outcome() != "deployed" {
		t.Fatalf("outcome %q, want deployed: %v", l.Outcome(), l)
	}
	r := result(t, h, l)
	if r["outcome"] != "deployed" || r["action"] != "deploy" {
		t.Fatalf("result object: %v", r)
	}
	b, _ := r["bundle"].(map[string]any)
	if b["key"] != obj.Key || (obj.Version != "" && b["version"] != obj.Version) || b["sha256"] == "" {
		t.Fatalf("result object's bundle identity %v, want key %q version %q", b, obj.Key, obj.Version)
	}
}

func fiveAtOnce(t *testing.T, s *Setup, h Harness, in Instance) {
	obj := h.Upload(t, "app/releases/dup.tgz", bundle(s, t, "CREATE TABLE dup_runs (n int); INSERT INTO dup_runs VALUES (1); SELECT pg_sleep(0.3);"))
	var wg sync.WaitGroup
	replies := make([]Reply, 5)
	for i := range replies {
		wg.Add(1)
		go func() { defer wg.Done(); replies[i] = in.Deliver(t, obj) }()
	}
	wg.Wait()
	for _, r := range replies {
		expectAck(t, r)
	}
	counts := map[string]int{}
	for _, l := range lineFor(t, in, obj.Key, 5) {
		counts[l.Outcome()]++
	}
	if counts["deployed"] != 1 || counts["duplicate"] != 4 {
		t.Fatalf("outcomes %v, want 1 deployed and 4 duplicate", counts)
	}
	if n := s.count(t, s.Database, "SELECT count(*) FROM dup_runs"); n != 1 {
		t.Fatalf("deploy.sql ran %d times", n)
	}
}

func stale(t *testing.T, s *Setup, h Harness, in Instance) {
	older := h.Upload(t, "app/current.tgz", bundle(s, t, "CREATE TABLE stale_v1 (id int);"))
	newer := h.Upload(t, "app/current.tgz", bundle(s, t, "CREATE TABLE stale_v2 (id int);"))
	expectAck(t, in.Deliver(t, newer))
	expectAck(t, in.Deliver(t, older))
	lines := lineFor(t, in, older.Key, 2)
	if len(lines) < 2 || lines[0].Outcome() != "deployed" || lines[1].Outcome() != "stale" {
		t.Fatalf("want deployed then stale; logs:\n%s", dump(lines))
	}
	if !s.table(t, s.Database, "stale_v2") || s.table(t, s.Database, "stale_v1") {
		t.Fatal("the older upload ran after the newer one")
	}
}

func failing(t *testing.T, s *Setup, h Harness, in Instance) {
	obj := h.Upload(t, "app/releases/broken.tgz", bundle(s, t, "BEGIN; CREATE TABLE broken_half (id int); SELECT 1/0; COMMIT;"))
	expectAck(t, in.Deliver(t, obj))
	l := lastLine(t, in, obj.Key)
	if l.Outcome() != "failed" || l["retryable"] == true {
		t.Fatalf("want a permanent failure: %v", l)
	}
	r := result(t, h, l)
	if msg, _ := r["message"].(string); r["outcome"] != "failed" || !strings.Contains(msg, "division by zero") {
		t.Fatalf("the result object does not say why: %v", r)
	}
	if s.table(t, s.Database, "broken_half") {
		t.Fatal("the failed deploy changed the database")
	}
	// The event again is a duplicate, and leaves the failed run's result as it is.
	expectAck(t, in.Deliver(t, obj))
	lines := lineFor(t, in, obj.Key, 2)
	if len(lines) < 2 || lines[1].Outcome() != "duplicate" || lines[1].str("resultUrl") != l.str("resultUrl") {
		t.Fatalf("want a duplicate pointing at the failed run's result; logs:\n%s", dump(lines))
	}
	if r := result(t, h, l); r["outcome"] != "failed" || r["exitCode"] != float64(13) {
		t.Fatalf("a redelivery replaced the failed run's result: %v", r)
	}
}

func unsigned(t *testing.T, s *Setup, h Harness, in Instance) {
	obj := h.Upload(t, "app/releases/unsigned.tgz", testbundle.Pack(t, nil, "app", testbundle.Project("CREATE TABLE unsigned_ran (id int);")))
	expectAck(t, in.Deliver(t, obj))
	l := lastLine(t, in, obj.Key)
	if l.Outcome() != "failed" || !strings.Contains(l.str("error"), "sign") {
		t.Fatalf("want the unsigned bundle refused: %v", l)
	}
	if s.table(t, s.Database, "unsigned_ran") {
		t.Fatal("an unsigned bundle ran")
	}
}

func reset(t *testing.T, s *Setup, h Harness, in Instance) {
	obj := h.Upload(t, "app/releases/seed.tgz", bundle(s, t, "CREATE TABLE reset_seed (id int); INSERT INTO reset_seed VALUES (1);"))
	rin := h.Start(t, Options{ResetDB: s.ResetDB, Env: map[string]string{"PGMI_ROUTES": `[{"prefix":"app/","database":"` + s.ResetDB + `"}]`}})
	expectAck(t, rin.Deliver(t, obj))
	conn := s.PG.Connect(t, s.ResetDB)
	if _, err := conn.Exec(context.Background(), "INSERT INTO reset_seed VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())

	schedule := fmt.Sprintf("nightly@%d", time.Now().UnixNano())
	expectAck(t, rin.Reset(t, s.ResetDB, obj, schedule))
	if n := s.count(t, s.ResetDB, "SELECT count(*) FROM reset_seed"); n != 1 {
		t.Fatalf("after the reset reset_seed has %d rows, want 1", n)
	}
	lines := lineFor(t, rin, obj.Key, 2)
	done := lines[len(lines)-1]
	if done.str("action") != "reset" || done.Outcome() != "deployed" {
		t.Fatalf("reset outcome line: %v", done)
	}

	// The target database is not on PGMI_RESET_ALLOW: refused, and the
	// successful reset's result, of another database, stays.
	refused := h.Start(t, Options{ResetDB: s.Database})
	expectAck(t, refused.Reset(t, s.Database, obj, schedule))
	found := false
	for until := time.Now().Add(5 * time.Second); !found && time.Now().Before(until); time.Sleep(50 * time.Millisecond) {
		for _, l := range refused.Logs(t) {
			if l.Outcome() == "failed" && strings.Contains(l.str("error"), "PGMI_RESET_ALLOW") {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("no refusal naming PGMI_RESET_ALLOW; logs:\n%s", dump(refused.Logs(t)))
	}
	if !s.table(t, s.Database, "first_deploy") && !s.table(t, s.Database, "dup_runs") {
		t.Fatal("the refused reset dropped the target database")
	}
	if r := result(t, h, done); r["outcome"] != "deployed" {
		t.Fatalf("the refused reset replaced the reset result of %s: %v", s.ResetDB, r)
	}
}

func unreachable(t *testing.T, s *Setup, h Harness) {
	in := h.Start(t, Options{Unreachable: true})
	obj := h.Upload(t, "app/releases/unreachable.tgz", bundle(s, t, "SELECT 1;"))
	r := in.Deliver(t, obj)
	if !r.Retry {
		t.Fatalf("an unreachable database must be retried: %s", r.Detail)
	}
	if l := lastLine(t, in, obj.Key); l.Outcome() != "failed" || l["retryable"] != true {
		t.Fatalf("outcome line: %v", l)
	}
}

func deadline(t *testing.T, s *Setup, h Harness) {
	in := h.Start(t, Options{Deadline: 5 * time.Second})
	obj := h.Upload(t, "app/releases/slow.tgz", bundle(s, t, "BEGIN; CREATE TABLE slow_ran (id int); SELECT pg_sleep(120); COMMIT;"))
	start := time.Now()
	r := in.Deliver(t, obj)
	if !r.Retry {
		t.Fatalf("a deploy cut by the deadline must be retried: %s", r.Detail)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the function answered after %s, past its deadline", d)
	}
	until := time.Now().Add(5 * time.Second)
	for s.count(t, s.Database, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()") > 0 {
		if time.Now().After(until) {
			t.Fatal("the deploy's statement is still running on the server")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s.table(t, s.Database, "slow_ran") {
		t.Fatal("the cancelled deploy left its work behind")
	}
}
