package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// waitRun is one pgmi publish --wait running beside the test.
type waitRun struct {
	code           int
	stdout, stderr string
	done           chan struct{}
}

func startPublishWait(t *testing.T, args ...string) *waitRun {
	t.Helper()
	w := &waitRun{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.code, w.stdout, w.stderr = cli{}.run(t, append([]string{"publish"}, args...)...)
	}()
	return w
}

func (w *waitRun) wait(t *testing.T) {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(90 * time.Second):
		t.Fatal("pgmi publish --wait did not return")
	}
	t.Logf("pgmi publish (exit %d):\n%s%s", w.code, w.stdout, w.stderr)
}

// pgmi publish --wait against pgmi local: the upload's outcome comes back as
// the publisher's exit code and summary, for a success, for deploy.sql
// failing on a known line, and when no deployer reports at all.
func TestPublishWaitLocal(t *testing.T) {
	testpg.Require(t, clusterErr)
	f := newLocalFixture(t)
	keyFile, allowed := signingKey(t, t.TempDir(), "release")
	f.signers = allowed
	watchLocal(t, f) // pgmi local --bucket D, running beside the publisher

	proj := project(t, "deploy.sql", "CREATE TABLE waited_for (id int);\n")
	url := "file://" + filepath.ToSlash(f.bucket) + "/app/1.tgz"
	w := startPublishWait(t, proj, url, "--sign-key", keyFile, "--wait", "--wait-timeout", "60s")
	w.wait(t)
	if w.code != 0 || !strings.Contains(w.stderr, "✓ "+f.db+": deployed app/1.tgz") || !strings.Contains(w.stderr, "result: ") || !strings.Contains(w.stderr, "Packed "+proj+":") {
		t.Fatalf("exit %d, want 0 and the deployed summary", w.code)
	}

	failing := project(t, "deploy.sql", "CREATE TABLE fine (id int);\nSELECT 1;\nSELECT * FROM  no_such_table;\n")
	url2 := "file://" + filepath.ToSlash(f.bucket) + "/app/2.tgz"
	w = startPublishWait(t, failing, url2, "--sign-key", keyFile, "--wait", "--wait-timeout", "60s", "--json")
	w.wait(t)
	if w.code != 13 || !strings.Contains(w.stderr, "LOCATION: deploy.sql line 3, column 16") ||
		!strings.Contains(w.stderr, `relation "no_such_table" does not exist`) || !strings.Contains(w.stderr, "✗ "+f.db+": app/2.tgz failed") ||
		strings.Contains(w.stderr, "pgmi: error: exit") {
		t.Fatalf("exit %d, want 13 naming line 3, column 16 and the server's message (and no \"pgmi: error: exit 13\" after it)", w.code)
	}
	var rep deploy.Report
	if err := json.Unmarshal([]byte(w.stdout), &rep); err != nil || rep.Outcome != deploy.StatusFailed || rep.ExitCode != 13 {
		t.Fatalf("--json printed %q (%v), want the result object", w.stdout, err)
	}

	// A folder no deployer watches.
	unwatched := "file://" + filepath.ToSlash(t.TempDir()) + "/app/3.tgz"
	start := time.Now()
	code, _, stderr := cli{}.run(t, "publish", proj, unwatched, "--sign-key", keyFile, "--wait", "--wait-timeout", "2s")
	if code != 17 || !strings.Contains(stderr, "no result for") || time.Since(start) > 20*time.Second {
		t.Fatalf("no deployer: exit %d after %s, want 17 saying nothing reported\n%s", code, time.Since(start), stderr)
	}
	if code, _, stderr := (cli{}).run(t, "publish", proj, url, "--json"); code != 2 || !strings.Contains(stderr, "--wait") {
		t.Fatalf("--json without --wait: exit %d\n%s", code, stderr)
	}

	// pgmi status shows those runs.
	code, _, stderr = cli{}.run(t, "status", url2)
	if code != 13 || !strings.Contains(stderr, "LOCATION: deploy.sql line 3, column 16") || !strings.Contains(stderr, "signer:   release (SHA256:") ||
		!strings.Contains(stderr, "attempt:  1") || !strings.Contains(stderr, "target:") {
		t.Fatalf("status of the failed upload: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := cli{}.run(t, "status", url, "--json")
	if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil || rep.Outcome != deploy.StatusDuplicate && rep.Outcome != deploy.StatusDeployed {
		t.Fatalf("status --json of the deployed upload: exit %d %v\n%s%s", code, err, stdout, stderr)
	}
	if code, _, stderr := (cli{}).run(t, "status", unwatched); code != 17 || !strings.Contains(stderr, "no result for") {
		t.Fatalf("status of an upload nobody deployed: exit %d\n%s", code, stderr)
	}

	// pgmi history shows them from the database's ledger, newest first.
	conn := []string{"history", "--connection", cluster.ConnString("postgres"), "-d", f.db}
	code, stdout, stderr = cli{}.run(t, conn...)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) < 4 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], "failed (13)") ||
		!strings.Contains(lines[1], "app/2.tgz") || !strings.Contains(lines[2], "relation \"no_such_table\" does not exist") ||
		!strings.Contains(lines[3], "succeeded") || !strings.Contains(lines[3], "app/1.tgz") || !strings.Contains(lines[3], "release (SHA256:") {
		t.Fatalf("history: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = cli{}.run(t, append(conn, "--json", "--limit", "1")...)
	var rows []deploy.HistoryEntry
	if err := json.Unmarshal([]byte(stdout), &rows); code != 0 || err != nil || len(rows) != 1 || rows[0].Status != "failed" || rows[0].ExitCode != 13 || rows[0].SHA256 == "" {
		t.Fatalf("history --json --limit 1: exit %d %v\n%s%s", code, err, stdout, stderr)
	}
	empty := freshName(t)
	dropAfter(t, empty)
	cluster.CreateDatabase(t, empty)
	if code, _, stderr := (cli{}).run(t, "history", "--connection", cluster.ConnString("postgres"), "-d", empty); code != 0 || !strings.Contains(stderr, "no deploys recorded") {
		t.Fatalf("history of a database without a ledger: exit %d\n%s", code, stderr)
	}
}

// The results of a file:// upload are looked for in every enclosing folder,
// nearest first, since the URL does not say which one a deployer watches;
// a cloud URL has one bucket.
func TestResultPlaces(t *testing.T) {
	p, err := resultPlaces("file:///srv/drop/app/1.tgz", "pgmi-results/", "", strings.Repeat("ab", 32))
	if err != nil || len(p) != 4 {
		t.Fatalf("%v %v", p, err)
	}
	if p[0].bucketURL != "file:///srv/drop/app" || p[0].key != "pgmi-results/1.tgz.abababababab.json" ||
		p[1].bucketURL != "file:///srv/drop" || p[1].key != "pgmi-results/app/1.tgz.abababababab.json" ||
		p[3].bucketURL != "file:///" || p[3].key != "pgmi-results/srv/drop/app/1.tgz.abababababab.json" {
		t.Fatalf("file places: %+v", p)
	}
	p, err = resultPlaces("s3://rel/app/1.tgz?region=eu-west-1", "r/", "v9", "")
	if err != nil || len(p) != 1 || p[0].bucketURL != "s3://rel?region=eu-west-1" || p[0].key != "r/app/1.tgz.v9.json" {
		t.Fatalf("s3 places: %+v %v", p, err)
	}
}

// A retryable failure is not the end of an upload: the platform delivers
// it again and the run that executes replaces the result, which the wait
// follows; a retryable failure nothing replaces in time is what it ends on.
func TestAwaitFollowsRetries(t *testing.T) {
	dir := t.TempDir()
	place := resultPlace{bucketURL: "file://" + filepath.ToSlash(dir), key: "pgmi-results/app/1.tgz.v1.json", bundleKey: "app/1.tgz"}
	write := func(r deploy.Report) {
		t.Helper()
		data, _ := json.Marshal(r)
		p := filepath.Join(dir, filepath.FromSlash(place.key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	busy := deploy.Report{Outcome: deploy.StatusFailed, Retryable: true, ExitCode: 15, Action: deploy.ActionDeploy}
	write(busy)
	go func() {
		time.Sleep(700 * time.Millisecond)
		write(deploy.Report{Outcome: deploy.StatusDeployed, Attempt: 2, Action: deploy.ActionDeploy})
	}()
	s := streams{env: func(string) (string, bool) { return "", false }}
	got, err := awaitResult(t.Context(), s, []resultPlace{place}, "app/1.tgz", 30*time.Second)
	if err != nil || got.report.Outcome != deploy.StatusDeployed || got.report.Attempt != 2 {
		t.Fatalf("got %+v, %v; want the takeover's success", got, err)
	}

	write(busy)
	got, err = awaitResult(t.Context(), s, []resultPlace{place}, "app/1.tgz", time.Second)
	if err != nil || got.report.Outcome != deploy.StatusFailed || resultExitCode(got.report) != 15 {
		t.Fatalf("got %+v, %v; want the standing retryable failure", got, err)
	}
}
