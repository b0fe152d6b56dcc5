package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/internal/testbundle"
)

// pipelineWarnings: a warning of the pipeline (here: the bundle's
// pgmi.yaml has a connection block, which the function ignores) is a WARN
// line at the default log level, not a DEBUG line nobody sees.
func pipelineWarnings(t *testing.T, h *harness) {
	in := h.start(t, functest.Options{Env: map[string]string{"PGMI_LOG_LEVEL": "info"}})
	files := testbundle.Project("CREATE TABLE warned_deploy (id int);")
	files["pgmi.yaml"] = "connection:\n  host: elsewhere.example.com\n  sslmode: disable\n"
	obj := h.upload(t, "warnings/app.tgz", testbundle.Pack(t, h.setup.Key, "app", files))
	if s := decodeSummary(t, in.invoke(t, h.s3Notification(obj))); len(s.Outcomes) != 1 || s.Outcomes[0].Outcome != "deployed" {
		t.Fatalf("response %+v, want one deployed outcome", s)
	}
	warned := in.waitLogs(1, func(l functest.Line) bool {
		msg, _ := l["message"].(string)
		return strings.Contains(msg, "ignoring the connection block")
	})
	if len(warned) != 1 || warned[0]["level"] != "WARN" {
		t.Fatalf("lines about the ignored connection block: %v, want one at level WARN; output:\n%s", warned, in.output())
	}
}

// malformedEventIDs: an item that cannot be parsed is logged as a failed
// outcome with the id of the event or message it came in, when it has one.
func malformedEventIDs(t *testing.T, h *harness) {
	in := h.start(t, functest.Options{})
	badBridge := mustJSON(map[string]any{
		"version": "0", "id": "4f1e0b6a-77c2-4d35-9a08-2c51f1c0ab01", "detail-type": "Object Created", "source": "aws.s3",
		"account": "000000000000", "time": time.Now().UTC().Format(time.RFC3339), "region": "us-east-1",
		"detail": map[string]any{"bucket": map[string]string{"name": bucket}}, // no object
	})
	decodeSummary(t, in.invoke(t, badBridge))
	batch, ids := sqsBatch([]byte("this is not an event"))
	if got := batchFailures(t, in.invoke(t, batch)); len(got) != 0 {
		t.Fatalf("batch item failures %v for a message that will never parse", got)
	}
	failed := in.waitLogs(2, func(l functest.Line) bool { return l.Outcome() == "failed" })
	want := map[string]bool{"4f1e0b6a-77c2-4d35-9a08-2c51f1c0ab01": true, ids[0]: true}
	for _, l := range failed {
		id, _ := l["eventId"].(string)
		if !want[id] {
			t.Errorf("failed outcome line without the event's id: %v", l)
		}
		delete(want, id)
	}
	if len(failed) != 2 || len(want) != 0 {
		t.Fatalf("failed lines %v; event ids not logged: %v", failed, want)
	}
}

// marginNotBelowTimeout: PGMI_TIMEOUT_MARGIN at or above the function's
// timeout leaves no time for any event. Lambda tells the function its
// timeout only with an invocation, so the first one fails as an init
// error would, naming both settings, at once, and so does every later one;
// nothing is deployed.
func marginNotBelowTimeout(t *testing.T, h *harness) {
	in := h.start(t, functest.Options{Deadline: 3 * time.Second, Env: map[string]string{"PGMI_TIMEOUT_MARGIN": "10s"}})
	obj := h.upload(t, "margin/app.tgz", signed(t, h, "CREATE TABLE margin_ran (id int);"))
	for i := range 2 {
		start := time.Now()
		resp := in.invoke(t, h.s3Notification(obj))
		if !resp.Error || resp.ErrorType != initErrorType {
			t.Fatalf("invocation %d: error %v, type %q, want %s: %s", i, resp.Error, resp.ErrorType, initErrorType, resp.ErrorMessage)
		}
		for _, name := range []string{"PGMI_TIMEOUT_MARGIN", "10s", "timeout", "3s"} {
			if !strings.Contains(resp.ErrorMessage, name) {
				t.Errorf("invocation %d: the error does not name %q: %s", i, name, resp.ErrorMessage)
			}
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("invocation %d took %v to refuse", i, d)
		}
	}
	errs := in.waitLogs(2, func(l functest.Line) bool { return l["level"] == "ERROR" })
	if len(errs) == 0 || !strings.Contains(errs[0]["message"].(string), "PGMI_TIMEOUT_MARGIN") {
		t.Fatalf("ERROR lines %v, want one naming PGMI_TIMEOUT_MARGIN", errs)
	}
	if tableExists(t, h.setup.Database, "margin_ran") {
		t.Fatal("the bundle was deployed")
	}
	for _, l := range in.logs() {
		if l.Outcome() != "" {
			data, _ := json.Marshal(l)
			t.Errorf("an outcome was logged although no event can run: %s", data)
		}
	}
}
