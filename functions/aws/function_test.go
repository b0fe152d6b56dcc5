package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/lambdafake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// TestLambda drives the built bootstrap through the fake Runtime API: the
// scenario suite every adapter passes, then what only Lambda has (SQS
// partial batch failures, the s3:TestEvent, EventBridge, the init error).
// The binary is built once and shared by the subtests.
func TestLambda(t *testing.T) {
	testpg.Require(t, pgErr)
	bin := lambdafake.BuildBinary(t, pkgPath, "lambda.norpc")
	setup := functest.NewSetup(t, pg)
	ownedByDeployer(t, setup.Database, setup.ResetDB)
	h := newHarness(t, setup, bin)

	t.Run("Suite", func(t *testing.T) {
		functest.Run(t, setup, h)
		// The role's credentials came from the container endpoint, the
		// only identity the processes had: without them neither the S3
		// requests nor the RDS IAM tokens could have been signed.
		if h.creds.Fetches() == 0 || h.creds.Rejected() != 0 {
			t.Errorf("container credentials endpoint: %d fetches, %d rejected; want some fetches and no rejection",
				h.creds.Fetches(), h.creds.Rejected())
		}
		if found := h.secretsInOutput(); len(found) > 0 {
			t.Errorf("the processes' output contains secrets: %v", found)
		}
	})
	t.Run("SQSPartialBatch", func(t *testing.T) { sqsPartialBatch(t, h) })
	t.Run("TestEvent", func(t *testing.T) { s3TestEvent(t, h) })
	t.Run("EventBridge", func(t *testing.T) { eventBridgeDeploys(t, h) })
	t.Run("InvalidConfiguration", func(t *testing.T) { invalidConfiguration(t, h) })
	t.Run("PipelineWarnings", func(t *testing.T) { pipelineWarnings(t, h) })
	t.Run("MalformedEventIDs", func(t *testing.T) { malformedEventIDs(t, h) })
	t.Run("MarginNotBelowTimeout", func(t *testing.T) { marginNotBelowTimeout(t, h) })
	t.Run("OnlyJSONLines", func(t *testing.T) { onlyJSONLines(t, h) })
}

// onlyJSONLines: everything every process wrote, stdout and stderr, is
// JSON lines: CloudWatch reads the function's log as JSON, and a plain line
// between them (the AWS SDK's own logger prints "SDK <time> DEBUG …" on
// stderr) is neither filtered by level nor parsed. It runs last, over the
// output of every scenario above.
func onlyJSONLines(t *testing.T, h *harness) {
	h.mu.Lock()
	procs := slices.Clone(h.procs)
	h.mu.Unlock()
	lines := 0
	for i, p := range procs {
		for _, text := range strings.Split(p.Output(), "\n") {
			if strings.TrimSpace(text) == "" {
				continue
			}
			lines++
			var v map[string]any
			if err := json.Unmarshal([]byte(text), &v); err != nil {
				t.Errorf("process %d wrote a line that is not a JSON object: %q", i, text)
			}
		}
	}
	if len(procs) < 5 || lines < 20 {
		t.Fatalf("%d processes wrote %d lines: the scan above proves nothing", len(procs), lines)
	}
}

func signed(tb testing.TB, h *harness, sql string) []byte {
	return testbundle.Pack(tb, h.setup.Key, "app", testbundle.Project(sql))
}

// outcomes lists the outcomes logged for key, in time order, once n have
// arrived (or after 5 s).
func outcomes(in *instance, key string, n int) []string {
	var out []string
	for _, l := range in.waitLogs(n, func(l functest.Line) bool {
		b, _ := l["bundle"].(string)
		return l.Outcome() != "" && strings.HasSuffix(b, "/"+key)
	}) {
		out = append(out, l.Outcome())
	}
	return out
}

func tableExists(tb testing.TB, db, name string) bool {
	tb.Helper()
	conn := pg.Connect(tb, db)
	var n int
	if err := conn.QueryRow(tb.Context(), "SELECT count(*) FROM pg_class WHERE relname = $1", name).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n > 0
}

// sqsPartialBatch: one batch of three S3 notifications relayed by SQS.
// The first deploys, the second's database is locked by another session
// (a retryable failure), the third repeats the first (a duplicate). Only
// the second is reported as a batch item failure; redelivered once the lock
// is gone, it deploys.
func sqsPartialBatch(t *testing.T, h *harness) {
	locked := pg.NewDatabase(t)
	ownedByDeployer(t, locked)
	routes := `[{"prefix":"sqs/locked/","database":"` + locked + `"},{"prefix":"sqs/","database":"` + h.setup.Database + `"}]`
	in := h.start(t, functest.Options{Env: map[string]string{"PGMI_ROUTES": routes, "PGMI_LOCK_WAIT": "1s"}})

	good := h.upload(t, "sqs/good.tgz", signed(t, h, "CREATE TABLE sqs_good (id int);"))
	busy := h.upload(t, "sqs/locked/busy.tgz", signed(t, h, "CREATE TABLE sqs_busy (id int);"))

	holder := pg.Connect(t, locked)
	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_lock(hashtextextended('pgmi.deploy.' || current_database(), 0))"); err != nil {
		t.Fatal(err)
	}
	batch, ids := sqsBatch(h.s3Notification(good), h.s3Notification(busy), h.s3Notification(good))
	if got := batchFailures(t, in.invoke(t, batch)); !slices.Equal(got, []string{ids[1]}) {
		t.Fatalf("batch item failures %v, want only the locked message %s; logs:\n%s", got, ids[1], in.output())
	}
	if got := outcomes(in, good.Key, 2); !slices.Equal(got, []string{"deployed", "duplicate"}) {
		t.Errorf("outcomes of %s: %v, want deployed then duplicate", good.Key, got)
	}
	if got := outcomes(in, busy.Key, 1); !slices.Equal(got, []string{"failed"}) {
		t.Errorf("outcomes of %s: %v, want one failure", busy.Key, got)
	}
	if !tableExists(t, h.setup.Database, "sqs_good") || tableExists(t, locked, "sqs_busy") {
		t.Fatal("want the first message deployed and the locked one not")
	}

	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_unlock_all()"); err != nil {
		t.Fatal(err)
	}
	again, _ := sqsBatch(h.s3Notification(busy))
	if got := batchFailures(t, in.invoke(t, again)); len(got) != 0 {
		t.Fatalf("redelivery: batch item failures %v, want none", got)
	}
	if !tableExists(t, locked, "sqs_busy") {
		t.Fatal("the redelivered message did not deploy")
	}
}

// batchFailures decodes an SQS batch response; an error response fails the
// test (it would make SQS redeliver the whole batch).
func batchFailures(t *testing.T, resp lambdafake.Response) []string {
	t.Helper()
	if resp.Error {
		t.Fatalf("an SQS batch must never fail as a whole: %s %s", resp.ErrorType, resp.ErrorMessage)
	}
	var r events.SQSEventResponse
	if err := json.Unmarshal(resp.Body, &r); err != nil {
		t.Fatalf("SQS batch response %s: %v", resp.Body, err)
	}
	ids := []string{}
	for _, f := range r.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// decodeSummary decodes the response of an acknowledged invocation.
func decodeSummary(t *testing.T, resp lambdafake.Response) summary {
	t.Helper()
	if resp.Error {
		t.Fatalf("the invocation failed: %s %s", resp.ErrorType, resp.ErrorMessage)
	}
	var s summary
	if err := json.Unmarshal(resp.Body, &s); err != nil {
		t.Fatalf("response %s: %v", resp.Body, err)
	}
	return s
}

// s3TestEvent: the message S3 sends when a notification is configured is
// acknowledged and logged as ignored, and deploys nothing.
func s3TestEvent(t *testing.T, h *harness) {
	in := h.start(t, functest.Options{})
	before := h.resultKeys(t)
	ev := mustJSON(map[string]string{
		"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": time.Now().UTC().Format(time.RFC3339),
		"Bucket": bucket, "RequestId": strings.ToUpper(randomHex(8)), "HostId": randomHex(32),
	})
	s := decodeSummary(t, in.invoke(t, ev))
	if len(s.Outcomes) != 1 || s.Outcomes[0].Outcome != "ignored" {
		t.Fatalf("response %+v, want one ignored outcome", s)
	}
	var seen []string
	for _, l := range in.waitLogs(1, func(l functest.Line) bool { return l.Outcome() != "" }) {
		seen = append(seen, l.Outcome()+": "+l["message"].(string))
	}
	if len(seen) != 1 || !strings.HasPrefix(seen[0], "ignored: ") || !strings.Contains(seen[0], "s3:TestEvent") {
		t.Fatalf("outcome lines %q, want one ignored line naming s3:TestEvent", seen)
	}
	if l := in.logs(); l[len(l)-1]["invocationId"] == nil {
		t.Errorf("the ignored line names no invocation: %v", l[len(l)-1])
	}
	if after := h.resultKeys(t); !slices.Equal(before, after) {
		t.Fatalf("result objects changed: %v → %v", before, after)
	}
}

// eventBridgeDeploys: S3's "Object Created" event through EventBridge (its
// key is not URL-encoded) deploys like a notification.
func eventBridgeDeploys(t *testing.T, h *harness) {
	in := h.start(t, functest.Options{})
	obj := h.upload(t, "eventbridge/app 2.0+rc.tgz", signed(t, h, "CREATE TABLE eb_deployed (id int);"))
	s := decodeSummary(t, in.invoke(t, h.eventBridge(obj)))
	if len(s.Outcomes) != 1 || s.Outcomes[0].Outcome != "deployed" || s.Outcomes[0].ResultURL == "" {
		t.Fatalf("response %+v, want one deployed outcome with a result URL", s)
	}
	if !tableExists(t, h.setup.Database, "eb_deployed") {
		t.Fatal("the bundle was not deployed")
	}
	var r map[string]any
	if err := json.Unmarshal(h.readResult(t, s.Outcomes[0].ResultURL), &r); err != nil {
		t.Fatal(err)
	}
	b, _ := r["bundle"].(map[string]any)
	if r["source"] != "eventbridge" || b["key"] != obj.Key || b["version"] != obj.Version {
		t.Fatalf("result object: source %v, bundle %v; want eventbridge, key %q version %q", r["source"], b, obj.Key, obj.Version)
	}
	// The session was opened by the RDS IAM provider; with no other
	// credential source in the process's environment, it signed the token
	// with the container endpoint's credentials.
	if target, _ := r["target"].(map[string]any); target["auth"] != "aws" || target["user"] != deployRole {
		t.Fatalf("result object's target %v, want auth aws as %s", r["target"], deployRole)
	}
}

// invalidConfiguration: a configuration error ends the process before it
// polls for work, with one ERROR line naming the variable and an init error
// posted to the Runtime API.
func invalidConfiguration(t *testing.T, h *harness) {
	rt := lambdafake.Start(t)
	p := rt.Exec(t, h.bin, h.env(t, functest.Options{Env: map[string]string{"PGMI_ROUTES": "nonsense"}})...)
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("the process still runs with an invalid configuration; output:\n%s", p.Output())
	}
	var exit *exec.ExitError
	if err := p.Err(); !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; output:\n%s", err, p.Output())
	}
	select {
	case <-rt.FirstPoll():
		t.Fatal("the process polled for work")
	default:
	}
	var errs []functest.Line
	for _, l := range jsonLines(p.Output()) {
		if l["level"] == "ERROR" {
			errs = append(errs, l)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0]["message"].(string), "PGMI_ROUTES") {
		t.Fatalf("want one ERROR line naming PGMI_ROUTES; output:\n%s", p.Output())
	}
	ie := rt.InitErrors()
	if len(ie) != 1 || ie[0].Type != initErrorType {
		t.Fatalf("init errors %+v, want one of type %s", ie, initErrorType)
	}
	var doc struct{ ErrorMessage, ErrorType string }
	if err := json.Unmarshal(ie[0].Body, &doc); err != nil || doc.ErrorType != initErrorType || !strings.Contains(doc.ErrorMessage, "PGMI_ROUTES") {
		t.Fatalf("init error body %s (%v), want errorType %s and a message naming PGMI_ROUTES", ie[0].Body, err, initErrorType)
	}
}
