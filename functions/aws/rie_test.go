package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/lambdafake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// TestRIE runs the built bootstrap under AWS's own Lambda Runtime Interface
// Emulator (RIE, pinned in go.mod as a tool), which speaks the Runtime API
// to it, enforces the function timeout by killing the runtime, and hands it
// its environment as Lambda would. Each scenario asserts on what the
// function did (its answer, the result object in gofakes3, the ledger rows
// in PostgreSQL), not on RIE's own behaviour.
//
// lambdafake (TestLambda, TestLambdaKilledMidDeployAppliesHeadOnce, the
// benchmarks) is still needed for what RIE cannot reach: an init error's
// exit status and the proof that the process never polled (RIE only shows
// the posted document, in a 502), five processes serving one event stream
// (standard RIE runs one process and fails a second concurrent invoke; its
// concurrent mode needs root), deadlines below a second or other than whole
// seconds (RIE derives the deadline from AWS_LAMBDA_FUNCTION_TIMEOUT), a
// SIGKILL at a chosen point of deploy.sql rather than at the timeout,
// protocol violations (duplicate or unknown answers, which RIE logs and
// drops), and a Runtime API cheap enough to start per benchmark iteration.
func TestRIE(t *testing.T) {
	testpg.Require(t, pgErr)
	rieBinary(t)
	bin := lambdafake.BuildBinary(t, pkgPath, "lambda.norpc")
	setup := functest.NewSetup(t, pg)
	ownedByDeployer(t, setup.Database, setup.ResetDB)
	h := &rieHarness{harness: newHarness(t, setup, bin)}

	t.Run("RIEWarm", func(t *testing.T) { rieWarm(t, h) })
	t.Run("RIEUnreachable", func(t *testing.T) { rieUnreachable(t, h) })
	t.Run("RIEInitError", func(t *testing.T) { rieInitError(t, h) })
	t.Run("RIEMarginDeadline", func(t *testing.T) { rieMarginDeadline(t, h) })
	t.Run("RIEHardTimeoutTakeover", func(t *testing.T) { rieHardTimeoutTakeover(t, h) })
	t.Run("RIEConcurrent", func(t *testing.T) { rieConcurrent(t, h) })
	t.Run("RIEFleet", func(t *testing.T) { rieFleet(t, h) })
	t.Run("RIEOnlyJSONLines", func(t *testing.T) { rieOnlyJSONLines(t, h) })
}

// rieOnlyJSONLines: every line the function wrote under every emulator
// above, stdout and stderr, is one JSON object; only RIE's own lines
// (START/END/REPORT and its "(rapid)" log lines) are not. It runs last.
func rieOnlyJSONLines(t *testing.T, h *rieHarness) {
	h.mu.Lock()
	ries := append([]*rieFunc(nil), h.ries...)
	h.mu.Unlock()
	fnLines, rieLines := 0, 0
	for i, f := range ries {
		fn, rie := f.functionLines()
		fnLines += len(fn)
		rieLines += rie
		for _, text := range fn {
			var v map[string]any
			if err := json.Unmarshal([]byte(text), &v); err != nil {
				t.Errorf("emulator %d: the function wrote a line that is not a JSON object: %q", i, text)
			}
		}
	}
	if len(ries) < 4 || fnLines < 20 || rieLines < 4 {
		t.Fatalf("%d emulators, %d function lines, %d RIE lines: the scan proves nothing", len(ries), fnLines, rieLines)
	}
	if os.Getenv("PGMI_RIE_DUMP") != "" {
		t.Logf("%s", ries[0].output())
	}
}

// rieWarm: one emulator, so one warm runtime process, serves the
// deliveries in turn: a deploy, the same event again through SQS (a
// duplicate), an older upload after a newer one (stale), failing SQL and an
// unsigned bundle.
func rieWarm(t *testing.T, h *rieHarness) {
	f := h.startRIE(t, rieOptions{})
	db := h.setup.Database

	var deployed functest.Object
	t.Run("RIEDeploy", func(t *testing.T) {
		deployed = h.upload(t, "rie/app.tgz", signed(t, h.harness, "CREATE TABLE rie_deployed (id int);"))
		resp := f.invoke(t, h.s3Notification(deployed))
		s := rieSummary(t, resp)
		if len(s.Outcomes) != 1 || s.Outcomes[0].Outcome != "deployed" || s.Outcomes[0].ResultURL == "" {
			t.Fatalf("answer %s, want one deployed outcome with a result URL", resp)
		}
		r := h.resultObject(t, s.Outcomes[0].ResultURL)
		b, _ := r["bundle"].(map[string]any)
		if r["outcome"] != "deployed" || b["version"] != deployed.Version || r["platform"] != platform {
			t.Fatalf("result object %v, want deployed, version %s, platform %s", r, deployed.Version, platform)
		}
		if !tableExists(t, db, "rie_deployed") {
			t.Fatal("the bundle was not deployed")
		}
		if rows := ledgerRows(t, db, deployed.Key); len(rows) != 1 || rows[0].Status != "succeeded" {
			t.Fatalf("ledger rows %+v, want one succeeded", rows)
		}
	})

	t.Run("RIEDuplicate", func(t *testing.T) {
		if deployed.Key == "" {
			t.Skip("RIEDeploy failed")
		}
		batch, _ := sqsBatch(h.s3Notification(deployed))
		resp := f.invoke(t, batch)
		if resp.Status != http.StatusOK {
			t.Fatalf("answer %s, want 200", resp)
		}
		var br events.SQSEventResponse
		if err := json.Unmarshal(resp.Body, &br); err != nil || len(br.BatchItemFailures) != 0 {
			t.Fatalf("answer %s (%v), want an SQS batch response without failures", resp, err)
		}
		if got := outcomesOf(f.outcomeLines(deployed.Key, 2)); strings.Join(got, ",") != "deployed,duplicate" {
			t.Fatalf("outcomes %v, want deployed then duplicate", got)
		}
		if rows := ledgerRows(t, db, deployed.Key); len(rows) != 1 || rows[0].Status != "succeeded" || rows[0].Attempts != 1 {
			t.Fatalf("ledger rows %+v, want the one succeeded row untouched", rows)
		}
	})

	t.Run("RIEStale", func(t *testing.T) {
		older := h.upload(t, "rie/stale.tgz", signed(t, h.harness, "CREATE TABLE rie_stale_v1 (id int);"))
		newer := h.upload(t, "rie/stale.tgz", signed(t, h.harness, "CREATE TABLE rie_stale_v2 (id int);"))
		if s := rieSummary(t, f.invoke(t, h.s3Notification(newer))); len(s.Outcomes) != 1 || s.Outcomes[0].Outcome != "deployed" {
			t.Fatalf("newer upload: %+v, want deployed", s)
		}
		s := rieSummary(t, f.invoke(t, h.s3Notification(older)))
		if len(s.Outcomes) != 1 || s.Outcomes[0].Outcome != "stale" {
			t.Fatalf("older upload: %+v, want stale", s)
		}
		if !tableExists(t, db, "rie_stale_v2") || tableExists(t, db, "rie_stale_v1") {
			t.Fatal("the older upload ran after the newer one")
		}
	})

	t.Run("RIESQLFailure", func(t *testing.T) {
		obj := h.upload(t, "rie/broken.tgz", signed(t, h.harness, "BEGIN; CREATE TABLE rie_broken (id int); SELECT 1/0; COMMIT;"))
		s := rieSummary(t, f.invoke(t, h.s3Notification(obj)))
		if len(s.Outcomes) != 1 || s.Outcomes[0].Outcome != "failed" || s.Outcomes[0].ResultURL == "" {
			t.Fatalf("answer %+v, want one failed outcome (acknowledged, not retried) with a result URL", s)
		}
		r := h.resultObject(t, s.Outcomes[0].ResultURL)
		if msg, _ := r["message"].(string); r["outcome"] != "failed" || !strings.Contains(msg, "division by zero") {
			t.Fatalf("result object %v, want failed naming the division by zero", r)
		}
		if rows := ledgerRows(t, db, obj.Key); len(rows) != 1 || rows[0].Status != "failed" || rows[0].Retryable {
			t.Fatalf("ledger rows %+v, want one permanent failure", rows)
		}
		if tableExists(t, db, "rie_broken") {
			t.Fatal("the failed deploy changed the database")
		}
	})

	t.Run("RIEUnsigned", func(t *testing.T) {
		obj := h.upload(t, "rie/unsigned.tgz", testbundle.Pack(t, nil, "app", testbundle.Project("CREATE TABLE rie_unsigned (id int);")))
		s := rieSummary(t, f.invoke(t, h.s3Notification(obj)))
		if len(s.Outcomes) != 1 || s.Outcomes[0].Outcome != "failed" {
			t.Fatalf("answer %+v, want one failed outcome", s)
		}
		l := f.outcomeLines(obj.Key, 1)
		if len(l) != 1 || l[0]["retryable"] == true || !strings.Contains(l[0]["error"].(string), "sign") {
			t.Fatalf("outcome lines %v, want one permanent refusal naming the signature", l)
		}
		if tableExists(t, db, "rie_unsigned") {
			t.Fatal("an unsigned bundle ran")
		}
	})
}

// rieUnreachable: a database server that does not answer is a retryable
// failure: the invocation fails (RIE passes the error document on with
// 200), so Lambda would deliver the event again.
func rieUnreachable(t *testing.T, h *rieHarness) {
	f := h.startRIE(t, rieOptions{Options: functest.Options{Unreachable: true}})
	obj := h.upload(t, "rie/unreachable.tgz", signed(t, h.harness, "SELECT 1;"))
	resp := f.invoke(t, h.s3Notification(obj))
	if typ, _, ok := resp.functionError(); !ok || typ == "" {
		t.Fatalf("answer %s, want a function error", resp)
	}
	l := f.outcomeLines(obj.Key, 1)
	if len(l) != 1 || l[0].Outcome() != "failed" || l[0]["retryable"] != true {
		t.Fatalf("outcome lines %v, want one retryable failure", l)
	}
}

// rieInitError: an invalid configuration fails the cold start; RIE answers
// the invocation with 502 and Runtime.InvalidConfiguration, and the
// function logged one ERROR line naming the setting.
func rieInitError(t *testing.T, h *rieHarness) {
	f := h.startRIE(t, rieOptions{Options: functest.Options{Env: map[string]string{"PGMI_ROUTES": "nonsense"}}})
	obj := h.upload(t, "rie/init.tgz", signed(t, h.harness, "SELECT 1;"))
	resp := f.invoke(t, h.s3Notification(obj))
	t.Logf("init error: %s", resp)
	if resp.Status != http.StatusBadGateway || !strings.Contains(string(resp.Body), initErrorType) {
		t.Fatalf("answer %s, want 502 naming %s", resp, initErrorType)
	}
	var errs []string
	for _, l := range f.logs() {
		if l["level"] == "ERROR" {
			errs = append(errs, l["message"].(string))
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "PGMI_ROUTES") {
		t.Fatalf("ERROR lines %q, want one naming PGMI_ROUTES", errs)
	}
}

// rieSummary decodes an acknowledged invocation's summary.
func rieSummary(t *testing.T, resp rieResponse) summary {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Fatalf("answer %s, want 200", resp)
	}
	if typ, msg, ok := resp.functionError(); ok {
		t.Fatalf("the invocation failed: %s: %s", typ, msg)
	}
	var s summary
	if err := json.Unmarshal(resp.Body, &s); err != nil {
		t.Fatalf("answer %s: %v", resp, err)
	}
	return s
}

func outcomesOf(lines []functest.Line) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Outcome())
	}
	return out
}

// rieMarginDeadline: with AWS_LAMBDA_FUNCTION_TIMEOUT=4 and
// PGMI_TIMEOUT_MARGIN=1s, a deploy that would run for minutes is cut by the
// function itself a second before the platform's timeout: it answers with
// a retryable error (RIE passes it on with 200) before RIE's timer fires,
// the statement is cancelled on the server, and the ledger and the result
// object record a retryable failure.
func rieMarginDeadline(t *testing.T, h *rieHarness) {
	f := h.startRIE(t, rieOptions{Timeout: 4})
	db := h.setup.Database
	obj := h.upload(t, "rie/slow.tgz", signed(t, h.harness, "BEGIN; CREATE TABLE rie_slow (id int); SELECT pg_sleep(120); COMMIT;"))
	resp := f.invoke(t, h.s3Notification(obj))
	if strings.Contains(string(resp.Body), "Task timed out") {
		t.Fatalf("answer %s: RIE's timeout ended the invocation, not the function's margin", resp)
	}
	if _, _, ok := resp.functionError(); !ok || resp.Elapsed >= 4*time.Second {
		t.Fatalf("answer %s, want a function error within the 4 s timeout", resp)
	}
	l := f.outcomeLines(obj.Key, 1)
	if len(l) != 1 || l[0].Outcome() != "failed" || l[0]["retryable"] != true {
		t.Fatalf("outcome lines %v, want one retryable failure", l)
	}
	if r := h.resultObject(t, l[0]["resultUrl"].(string)); r["outcome"] != "failed" || r["retryable"] != true {
		t.Fatalf("result object %v, want a retryable failure", r)
	}
	if rows := ledgerRows(t, db, obj.Key); len(rows) != 1 || rows[0].Status != "failed" || !rows[0].Retryable {
		t.Fatalf("ledger rows %+v, want one retryable failure", rows)
	}
	if n := sleepers(t, db, "pg_sleep(120)"); n != 0 {
		t.Fatalf("%d backends still run the deploy's statement", n)
	}
	if tableExists(t, db, "rie_slow") {
		t.Fatal("the cancelled deploy left its work behind")
	}
}

// sleepers counts the backends on db (but the caller's) whose query
// contains marker.
func sleepers(t *testing.T, db, marker string) int {
	t.Helper()
	var n int
	conn := pg.Connect(t, "postgres")
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND strpos(query, $2) > 0`, db, marker).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// rieHardTimeoutTakeover: with PGMI_TIMEOUT_MARGIN=0 the function gets no
// time to stop on its own, and the first run's sleep ignores the cancel the
// function sends at its deadline (a PL/pgSQL loop that catches
// query_canceled), so the function would wait CancelGrace before answering:
// RIE's timer always ends the invocation first ("Task timed out") and kills
// the runtime mid-deploy, leaving the ledger row running.
// The next invocation of the same event (Lambda's retry) cold-starts a new
// runtime, takes the dead run's row over and deploys; a third is a
// duplicate. The deploy's head ran exactly once (its CREATE TABLE would fail
// a second time).
func rieHardTimeoutTakeover(t *testing.T, h *rieHarness) {
	db := pg.NewDatabase(t)
	ownedByDeployer(t, db)
	// The first run sleeps past the timeout, the retry does not: the
	// database's setting is read when a session starts.
	pg.Exec(t, "postgres", "ALTER DATABASE "+db+" SET pgmi_rie.sleep = '7'")
	f := h.startRIE(t, rieOptions{Timeout: 3, Options: functest.Options{Env: map[string]string{"PGDATABASE": db, "PGMI_TIMEOUT_MARGIN": "0s"}}})
	obj := h.upload(t, "rie/takeover.tgz", signed(t, h.harness,
		"BEGIN; CREATE TABLE rie_takeover (id int);\n"+
			"DO $$ DECLARE until timestamptz := clock_timestamp() + make_interval(secs => current_setting('pgmi_rie.sleep')::float8);\n"+
			"BEGIN WHILE clock_timestamp() < until LOOP BEGIN PERFORM pg_sleep(0.05); EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$;\n"+
			"COMMIT;"))
	event := h.s3Notification(obj)

	resp := f.invoke(t, event)
	if !strings.Contains(string(resp.Body), "Task timed out") {
		t.Fatalf("answer %s, want RIE's \"Task timed out\"", resp)
	}
	if rows := ledgerRows(t, db, obj.Key); len(rows) != 1 || rows[0].Status != "running" {
		t.Fatalf("ledger rows after the timeout %+v, want one left running", rows)
	}
	pg.Exec(t, "postgres", "ALTER DATABASE "+db+" SET pgmi_rie.sleep = '0'")
	// The killed runtime's backend sleeps on; wait for it to end (as the
	// retry would, on the deploy lock) so the retry's time is its own.
	for until := time.Now().Add(15 * time.Second); sleepers(t, db, "pg_sleep(") > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(until) {
			t.Fatal("the killed runtime's statement still runs after 15s")
		}
	}

	s := rieSummary(t, f.invokeAccepted(t, event))
	if len(s.Outcomes) != 1 || s.Outcomes[0].Outcome != "deployed" {
		t.Fatalf("retry: %+v, want deployed", s)
	}
	r := h.resultObject(t, s.Outcomes[0].ResultURL)
	if r["attempt"] != float64(2) {
		t.Errorf("result object's attempt %v, want 2 (a takeover of the dead run's row)", r["attempt"])
	}
	if s := rieSummary(t, f.invoke(t, event)); len(s.Outcomes) != 1 || s.Outcomes[0].Outcome != "duplicate" {
		t.Fatalf("second retry: %+v, want duplicate", s)
	}
	if rows := ledgerRows(t, db, obj.Key); len(rows) != 1 || rows[0].Status != "succeeded" || rows[0].Attempts != 2 {
		t.Fatalf("ledger rows %+v, want one succeeded row on its second attempt", rows)
	}
	if !tableExists(t, db, "rie_takeover") {
		t.Fatal("the retry did not deploy")
	}
}

// rieConcurrent: under AWS_LAMBDA_MAX_CONCURRENCY=2 (RIE's Lambda Managed
// Instances mode) one runtime process takes two invocations at once, as
// aws-lambda-go does with that variable set; both deploys, to two
// databases, run side by side and succeed. In that mode RIE ignores the
// bootstrap named on its command line for a zip function and only looks in
// /var/runtime, /var/task and /opt, so as root it runs in a mount namespace
// with a tmpfs over /var holding /var/task/bootstrap; without root the
// scenario is skipped (CI runs as root).
func rieConcurrent(t *testing.T, h *rieHarness) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: RIE's concurrent mode runs /var/task/bootstrap, set up in a mount namespace")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("unshare is required under CI=true: %v", err)
		}
		t.Skipf("no unshare: %v", err)
	}
	db1, db2 := pg.NewDatabase(t), pg.NewDatabase(t)
	ownedByDeployer(t, db1, db2)
	routes := `[{"prefix":"rie/c1/","database":"` + db1 + `"},{"prefix":"rie/c2/","database":"` + db2 + `"}]`
	f := h.startRIE(t, rieOptions{
		Concurrency: 2,
		Options:     functest.Options{Env: map[string]string{"PGMI_ROUTES": routes}},
		Wrap: func(args []string) []string {
			bin := args[len(args)-1]
			args[len(args)-1] = "/var/task/bootstrap"
			return append([]string{unshare, "--mount", "--propagation", "private", "sh", "-c",
				`mount -t tmpfs tmpfs /var && mkdir -p /var/task && cp "$0" /var/task/bootstrap && exec "$@"`, bin}, args...)
		},
	})
	sql := "BEGIN; CREATE TABLE rie_concurrent (id int); SELECT pg_sleep(1.5); COMMIT;"
	objs := []functest.Object{
		h.upload(t, "rie/c1/app.tgz", signed(t, h.harness, sql)),
		h.upload(t, "rie/c2/app.tgz", signed(t, h.harness, sql)),
	}
	resps := make([]rieResponse, len(objs))
	var wg sync.WaitGroup
	for i, obj := range objs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resps[i] = f.invokeAccepted(t, h.s3Notification(obj))
		}()
	}
	wg.Wait()
	var spans [][2]time.Time
	for i, resp := range resps {
		if resp.Status != http.StatusOK {
			t.Fatalf("invocation %d: answer %s, want 200", i, resp)
		}
		var s summary
		if err := json.Unmarshal(resp.Body, &s); err != nil || len(s.Outcomes) != 1 || s.Outcomes[0].Outcome != "deployed" {
			t.Fatalf("invocation %d: answer %s (%v), want one deployed outcome", i, resp, err)
		}
		r := h.resultObject(t, s.Outcomes[0].ResultURL)
		from, _ := time.Parse(time.RFC3339Nano, r["startedAt"].(string))
		to, _ := time.Parse(time.RFC3339Nano, r["finishedAt"].(string))
		spans = append(spans, [2]time.Time{from, to})
	}
	for _, db := range []string{db1, db2} {
		if !tableExists(t, db, "rie_concurrent") {
			t.Fatalf("%s was not deployed", db)
		}
	}
	if !spans[0][0].Before(spans[1][1]) || !spans[1][0].Before(spans[0][1]) {
		t.Fatalf("the deploys ran one after the other (%v), want them side by side", spans)
	}
	if kids := childrenOf(f.cmd.Process.Pid); len(kids) != 1 {
		t.Errorf("RIE runs %d processes, want one runtime process serving both", len(kids))
	}
}

// rieFleet: an upload to a fleet route under the emulator starts a
// rollout and publishes its message through the function's SQS client to
// sqsfake; the message, delivered back as an SQS record (as the event
// source mapping would), deploys the one target and completes the rollout.
func rieFleet(t *testing.T, h *rieHarness) {
	db := "rie_fleet_" + randomHex(4)
	pg.CreateDatabase(t, db)
	env, fq := h.FleetQueue(t)
	queue := fq.(*fleetQueue)
	env["PGMI_ROUTES"] = `[{"prefix":"rie-fleet/","fleet":{"databases":["` + db + `"],"waves":["100%"]}}]`
	grantFleet(t, env["PGMI_ROUTES"])
	f := h.startRIE(t, rieOptions{Options: functest.Options{Env: env}})

	obj := h.upload(t, "rie-fleet/app.tgz", signed(t, h.harness, "CREATE TABLE rie_fleet (id int);"))
	s := rieSummary(t, f.invoke(t, h.s3Notification(obj)))
	if len(s.Outcomes) != 1 || s.Outcomes[0].Outcome != "started" || s.Outcomes[0].ResultURL == "" {
		t.Fatalf("the upload: %+v, want one started outcome with a result URL", s)
	}
	rolloutURL, _ := h.resultObject(t, s.Outcomes[0].ResultURL)["rolloutResult"].(string)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, err := queue.q.Receive(ctx, time.Minute)
	if err != nil {
		t.Fatalf("no fleet message was published: %v", err)
	}
	var msg deploy.FleetMessage
	if err := json.Unmarshal([]byte(m.Body), &msg); err != nil || msg.Database != db || msg.Rollout == 0 || msg.Version != obj.Version {
		t.Fatalf("fleet message %s (%v), want one for %s at version %s", m.Body, err, db, obj.Version)
	}
	resp := f.invoke(t, queue.event(m))
	var br events.SQSEventResponse
	if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &br) != nil || len(br.BatchItemFailures) != 0 {
		t.Fatalf("the fleet message: %s, want an SQS batch response without failures", resp)
	}
	if !tableExists(t, db, "rie_fleet") {
		t.Fatal("the target was not deployed")
	}
	if rolloutURL == "" {
		t.Fatal("the upload's result names no rollout result")
	}
	var rep struct{ Status string }
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := json.Unmarshal(h.readResult(t, rolloutURL), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Status != "running" || time.Now().After(end) {
			break
		}
	}
	if rep.Status != "complete" || queue.q.Sent() != 1 {
		t.Fatalf("rollout %s after %d message(s), want complete after 1", rep.Status, queue.q.Sent())
	}
}
