package deploy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/testfakes/azurite"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// brokenSQL fails on its third line, inside a transaction.
const brokenSQL = "BEGIN;\nCREATE TABLE half (id int);\nSELECT * FROM no_such_table;\nCOMMIT;\n"

// A redelivered event never replaces the result of the run that executed:
// after a failed deploy the result keeps saying so (exit 13, the line),
// however often the event comes again, on every storage service. With the
// result gone, the duplicate's own record carries the failure of the row
// it duplicates, never a success.
func TestRedeliveryKeepsTheResult(t *testing.T) {
	for _, m := range storeMakers() {
		t.Run(m.name, func(t *testing.T) {
			s := m.make(t, false)
			f := newFixture(t).over(s)
			req := s.upload(t, "app/broken.tgz", f.signed(brokenSQL))
			o := f.run(req)
			want(t, o, deploy.StatusFailed, false)
			first := s.report(t, o.ResultURL)
			if first.Outcome != deploy.StatusFailed || first.ExitCode != 13 || first.Deploy["line"] != float64(3) {
				t.Fatalf("the failed run's result: %+v", first)
			}
			for range 2 {
				again := f.run(req)
				want(t, again, deploy.StatusDuplicate, false)
				if again.ResultURL != o.ResultURL || !again.ResultKept {
					t.Errorf("the duplicate points at %q (kept %v), not at the result that stands (%q)", again.ResultURL, again.ResultKept, o.ResultURL)
				}
				if r := s.report(t, o.ResultURL); r.Outcome != deploy.StatusFailed || r.ExitCode != 13 || !r.StartedAt.Equal(first.StartedAt) {
					t.Fatalf("a redelivery replaced the failed run's result: %+v", r)
				}
			}
			s.remove(t, o.ResultURL)
			dup := f.run(req)
			want(t, dup, deploy.StatusDuplicate, false)
			r := s.report(t, dup.ResultURL)
			if dup.ResultKept || dup.ResultURL != o.ResultURL {
				t.Errorf("the duplicate's own record: %s (kept %v)", dup.ResultURL, dup.ResultKept)
			}
			if r.Outcome != deploy.StatusDuplicate || r.ExitCode == 0 || r.Retryable || r.Previous == nil || r.Previous.Status != "failed" {
				t.Fatalf("a duplicate of a failed deploy reads as success: %+v", r)
			}
		})
	}
}

// The result is replaced by a later attempt that executed (a takeover of
// the row), and by nothing that did not execute.
func TestTakeoverReplacesTheResult(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/later.tgz", f.signed(
		"DO $$ BEGIN IF to_regclass('public.go_ok') IS NULL THEN RAISE EXCEPTION 'not yet'; END IF; END $$;\nCREATE TABLE done (id int);\n"), "")
	o := f.run(req)
	want(t, o, deploy.StatusFailed, false)
	if r := f.result(o); r.Outcome != deploy.StatusFailed || r.Attempt != 1 {
		t.Fatalf("first result: %+v", r)
	}
	// The row as a deployer that died leaves it: its next delivery takes it over.
	conn := pg.Connect(t, f.db)
	if _, err := conn.Exec(context.Background(), "UPDATE pgmi_ledger.deployments SET status = 'running'; CREATE TABLE go_ok ()"); err != nil {
		t.Fatal(err)
	}
	taken := f.run(req)
	want(t, taken, deploy.StatusDeployed, false)
	if taken.ResultURL != o.ResultURL {
		t.Fatalf("the takeover wrote %s, not %s", taken.ResultURL, o.ResultURL)
	}
	if r := f.result(taken); r.Outcome != deploy.StatusDeployed || r.Attempt != 2 || r.ExitCode != 0 {
		t.Fatalf("the takeover did not replace the result: %+v", r)
	}
	want(t, f.run(req), deploy.StatusDuplicate, false)
	if r := f.result(taken); r.Outcome != deploy.StatusDeployed || r.Attempt != 2 {
		t.Fatalf("a duplicate replaced the takeover's result: %+v", r)
	}
}

// A stale delivery leaves the result of the version it names alone.
func TestStaleKeepsTheResult(t *testing.T) {
	f := newFixture(t)
	data := f.signed(brokenSQL)
	o := f.run(f.put("app/current.tgz", data, "0055AED6DCD90281E5"))
	want(t, o, deploy.StatusFailed, false)
	// As if it had failed for a reason worth retrying, so that its next
	// delivery is not a duplicate but goes on to the stale check.
	conn := pg.Connect(t, f.db)
	if _, err := conn.Exec(context.Background(), "UPDATE pgmi_ledger.deployments SET retryable = true"); err != nil {
		t.Fatal(err)
	}
	want(t, f.run(f.put("app/current.tgz", f.signed("CREATE TABLE v2 (id int);"), "0055AED6DCD90281E6")), deploy.StatusDeployed, false)
	stale := f.run(f.put("app/current.tgz", data, "0055AED6DCD90281E5"))
	want(t, stale, deploy.StatusStale, false)
	if r := f.result(o); r.Outcome != deploy.StatusFailed || r.ExitCode != 13 {
		t.Fatalf("the stale delivery replaced the result of the run that executed: %+v", r)
	}
}

// Nothing that did not execute replaces the result of a run that did: a
// redelivery that finds the database unreachable leaves "deployed" in place
// (and points at it), and a retry that executes would replace it.
func TestFailureBeforeExecutionKeepsTheResult(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/1.tgz", f.signed("CREATE TABLE t1 (id int);"), "")
	o := f.run(req)
	want(t, o, deploy.StatusDeployed, false)
	e := env{}
	for k, v := range f.env {
		e[k] = v
	}
	e["PGMI_CONNECTION_STRING"] = "postgresql://nobody@127.0.0.1:1/x?connect_timeout=2"
	cfg, err := deploy.LoadConfig(context.Background(), e.lookup, nil)
	if err != nil {
		t.Fatal(err)
	}
	down := deploy.New(cfg, nil)
	defer down.Close()
	again := down.Run(context.Background(), req)
	want(t, again, deploy.StatusFailed, true)
	if again.ResultErr != nil || again.ResultURL != o.ResultURL || !again.ResultKept {
		t.Fatalf("result %s kept=%v err=%v, want the deployed one kept", again.ResultURL, again.ResultKept, again.ResultErr)
	}
	if r := f.result(o); r.Outcome != deploy.StatusDeployed {
		t.Fatalf("a failure before the ledger replaced the deployed result: %+v", r)
	}
}

// A failed run's secrets (a connection string, a password in deploy.sql's
// error) reach neither its ledger row nor a duplicate's result, whose
// "previous" is that row: the ledger records the error redacted, and a
// row that holds a secret all the same (an older deployer wrote it) is
// redacted on its way into the result.
func TestDuplicateResultRedactsPreviousError(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/leak.tgz", f.signed("DO $$ BEGIN RAISE EXCEPTION 'cannot reach postgresql://app:hunter2@db.example/x password=hunter2'; END $$;\n"), "")
	o := f.run(req)
	want(t, o, deploy.StatusFailed, false)
	if n := f.count("SELECT count(*) FROM pgmi_ledger.deployments WHERE error LIKE '%hunter2%'"); n != 0 {
		t.Fatal("the ledger row holds the secret")
	}
	path := strings.TrimPrefix(o.ResultURL, "file://")
	if data, _ := os.ReadFile(path); strings.Contains(string(data), "hunter2") {
		t.Fatalf("the failed run's own result holds the secret")
	}
	conn := pg.Connect(t, f.db)
	if _, err := conn.Exec(context.Background(), "UPDATE pgmi_ledger.deployments SET error = 'cannot reach postgresql://app:hunter2@db.example/x'"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	dup := f.run(req)
	want(t, dup, deploy.StatusDuplicate, false)
	r := f.result(dup)
	if r.Previous == nil || strings.Contains(r.Previous.Error, "hunter2") || strings.Contains(r.Message, "hunter2") {
		t.Fatalf("the duplicate's result object holds the secret: %+v", r.Previous)
	}
}

// Reset results name the database: a refused reset of another database,
// with the same bundle version and schedule, leaves the successful reset's
// result alone.
func TestResetResultsNameTheDatabase(t *testing.T) {
	s := s3Store(t, true)
	var other string
	f := newFixture(t, func(env) { other = pg.NewDatabase(t) }).over(s)
	req := s.upload(t, "app/seed.tgz", f.signed("CREATE TABLE seeded (id int);"))
	if req.Version == "" {
		t.Fatal("the versioned bucket gave no version")
	}
	want(t, f.run(req), deploy.StatusDeployed, false)
	reset := deploy.Request{Action: deploy.ActionReset, Database: f.db, Bundle: req.Bundle, Version: req.Version,
		Trigger: deploy.Trigger{Platform: "test", Source: "scheduler", Schedule: "nightly@2026-11-25T02:00:00Z"}}
	done := f.run(reset)
	want(t, done, deploy.StatusDeployed, false)
	if !strings.Contains(done.ResultURL, f.db) {
		t.Errorf("the reset result %s does not name the database %s", done.ResultURL, f.db)
	}
	refused := reset
	refused.Database = other
	no := f.run(refused)
	want(t, no, deploy.StatusFailed, false)
	if no.ResultURL == done.ResultURL || !strings.Contains(no.ResultURL, other) {
		t.Fatalf("the refused reset's result %s (the successful one: %s)", no.ResultURL, done.ResultURL)
	}
	if r := s.report(t, done.ResultURL); r.Outcome != deploy.StatusDeployed || r.Target.Database != f.db {
		t.Fatalf("the refused reset of %s replaced the reset result of %s: %+v", other, f.db, r)
	}
	if r := s.report(t, no.ResultURL); r.Outcome != deploy.StatusFailed || r.Target.Database != other {
		t.Fatalf("the refused reset's result: %+v", r)
	}
}

// A redelivered reset that names no bundle (the last one deployed there)
// leaves a result too: it points at the executed reset's, and writes its own
// from the ledger row's bundle when that is gone.
func TestRedeliveredResetWithoutBundle(t *testing.T) {
	f := newFixture(t)
	want(t, f.run(f.put("app/1.tgz", f.signed("CREATE TABLE seeded (id int);"), "")), deploy.StatusDeployed, false)
	reset := deploy.Request{Action: deploy.ActionReset, Database: f.db,
		Trigger: deploy.Trigger{Platform: "test", Source: "scheduler", Schedule: "nightly@2026-11-26T02:00:00Z"}}
	done := f.run(reset)
	want(t, done, deploy.StatusDeployed, false)
	again := f.run(reset)
	want(t, again, deploy.StatusDuplicate, false)
	if again.ResultURL != done.ResultURL || !again.ResultKept {
		t.Fatalf("the redelivered reset left no result: %q (kept %v), want %q", again.ResultURL, again.ResultKept, done.ResultURL)
	}
	if r := f.result(again); r.Outcome != deploy.StatusDeployed {
		t.Fatalf("the redelivery replaced the reset's result: %+v", r)
	}
	if err := os.Remove(strings.TrimPrefix(done.ResultURL, "file://")); err != nil {
		t.Fatal(err)
	}
	again = f.run(reset)
	want(t, again, deploy.StatusDuplicate, false)
	r := f.result(again)
	if r.Outcome != deploy.StatusDuplicate || r.ExitCode != 0 || r.Previous == nil || r.Previous.Status != "succeeded" ||
		r.Target.Database != f.db || r.Bundle.Key != "app/1.tgz" {
		t.Fatalf("the redelivered reset's own result: %+v", r)
	}
}

// When the result object cannot be written (here a reader-only SAS on
// Azurite, as a role with only Storage Blob Data Reader) the deploy's
// outcome stands and ResultErr says why: no panic.
func TestResultWriteRefusedOnAzure(t *testing.T) {
	srv := azurite.Start(t)
	srv.CreateContainer(t, "bundles")
	s := &store{name: "azure-reader", bucket: "azblob://bundles", mux: azuriteMux(t, srv, readOnlySAS(t, "bundles")),
		put: func(t testing.TB, key string, data []byte) string { srv.Put(t, "bundles", key, data); return "" }}
	f := newFixture(t).over(s)
	o := f.d.Run(context.Background(), s.upload(t, "app/1.tgz", f.signed("CREATE TABLE reader_only (id int);")))
	want(t, o, deploy.StatusDeployed, false)
	if o.ResultErr == nil || o.ResultURL != "" {
		t.Fatalf("result %q written through a reader-only SAS (err %v)", o.ResultURL, o.ResultErr)
	}
	if msg := o.ResultErr.Error(); !strings.Contains(msg, "AuthorizationPermissionMismatch") || strings.Contains(msg, "sig=") {
		t.Fatalf("the result error does not say why, or shows the SAS: %v", msg)
	}
	if !f.tableExists("reader_only") {
		t.Fatal("the deploy did not run")
	}
}

// Long keys get a result under a shortened name, and ResultURL is what a
// client reads it back by, through gocloud with the same bucket URL.
func TestLongKeysGetAResult(t *testing.T) {
	keys := map[string]string{
		// a file name that fits a folder but not with the result's suffix
		"folder": "app/" + strings.Repeat("n", 240) + ".tgz",
		// about 1000 bytes: over the services' 1024 with the suffix
		"cloud": "app/" + strings.Repeat(strings.Repeat("d", 199)+"/", 5) + "1.tgz",
	}
	for _, m := range storeMakers() {
		t.Run(m.name, func(t *testing.T) {
			s := m.make(t, false)
			f := newFixture(t).over(s)
			key := keys["cloud"]
			if m.name == "folder" {
				key = keys["folder"]
			}
			o := f.run(s.upload(t, key, f.signed("SELECT 1;")))
			want(t, o, deploy.StatusDeployed, false)
			r := s.report(t, o.ResultURL)
			if r.Bundle.Key != key || r.Outcome != deploy.StatusDeployed {
				t.Fatalf("result: %+v", r)
			}
			if n := len(o.ResultURL) - len(s.bucket); n > 600 {
				t.Errorf("result name of %d bytes: %s", n, o.ResultURL)
			}
		})
	}
}

// Keys that hold URL syntax or that a driver escapes: the result URL reads
// back through gocloud with the same bucket URL. (On Azure, gocloud
// escapes % ? # in blob names, so a bundle uploaded under such a name is
// not found; only the others are tried there.)
func TestResultURLReadsBack(t *testing.T) {
	for _, m := range storeMakers() {
		t.Run(m.name, func(t *testing.T) {
			s := m.make(t, false)
			f := newFixture(t).over(s)
			keys := []string{"app/with space.tgz", "app/ünï+plus.tgz", "app/..x/a.tgz"}
			if m.name != "azure" {
				keys = append(keys, "app/100%.tgz", "app/q?x=1#frag.tgz")
			}
			for _, key := range keys {
				o := f.run(s.upload(t, key, f.signed("SELECT 1;")))
				want(t, o, deploy.StatusDeployed, false)
				if r := s.report(t, o.ResultURL); r.Bundle.Key != key {
					t.Fatalf("result %s is for %q", o.ResultURL, r.Bundle.Key)
				}
			}
		})
	}
}

func TestResultName(t *testing.T) {
	const p = "pgmi-results/"
	sha := "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	deployOf := func(key, version string) *deploy.Report {
		return &deploy.Report{Action: deploy.ActionDeploy, Bundle: deploy.BundleInfo{Key: key, Version: version, SHA256: sha}}
	}
	resetOf := func(key, db, schedule string) *deploy.Report {
		return &deploy.Report{Action: deploy.ActionReset, Schedule: schedule, Bundle: deploy.BundleInfo{Key: key, Version: "v1"},
			Target: deploy.TargetInfo{Database: db}}
	}
	cases := map[string]struct {
		r    *deploy.Report
		want string
	}{
		"versioned":       {deployOf("app/1.tgz", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"), p + "app/1.tgz.3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY.json"},
		"unversioned":     {deployOf("app/1.tgz", ""), p + "app/1.tgz.abcdef012345.json"},
		"never read":      {&deploy.Report{Action: deploy.ActionDeploy, Bundle: deploy.BundleInfo{Key: "app/1.tgz"}}, p + "app/1.tgz.unknown.json"},
		"etag":            {deployOf("app/1.tgz", `"0x8DC9A1B2C3D4E5F"`), p + "app/1.tgz.0x8DC9A1B2C3D4E5F.json"},
		"reset":           {resetOf("app/1.tgz", "app_dev", ""), p + "app/1.tgz.v1.app_dev.reset.json"},
		"reset scheduled": {resetOf("app/1.tgz", "app_dev", "nightly@2026-11-25T02:00:00Z"), p + "app/1.tgz.v1.app_dev.nightly@2026-11-25T02:00:00Z.reset.json"},
		"reset arn": {resetOf("app/1.tgz", "a/b", "arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly@2026-11-25T02:00:00Z"),
			p + "app/1.tgz.v1.ab.arn:aws:scheduler:us-east-1:123456789012:scheduledefaultnightly@2026-11-25T02:00:00Z.reset.json"},
	}
	for name, c := range cases {
		if got := deploy.ResultName(p, c.r); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
	long := map[string]string{
		"long key":         "app/" + strings.Repeat("d/", 300) + "1.tgz",
		"long file name":   "app/" + strings.Repeat("n", 190) + ".tgz",
		"escaped on azure": "app/" + strings.Repeat("%", 70) + ".tgz",
	}
	for name, key := range long {
		r := deployOf(key, "")
		full := p + key + ".abcdef012345.json"
		sum := sha256.Sum256([]byte(full))
		got := deploy.ResultName(p, r)
		want := p + key[:min(len(key), 128)] + "~" + hex.EncodeToString(sum[:])[:24] + ".json"
		if name == "escaped on azure" {
			want = p + "app/" + strings.Repeat("%", 15) + "~" + hex.EncodeToString(sum[:])[:24] + ".json"
		}
		if got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	short := p + "app/" + strings.Repeat("n", 170) + ".tgz.abcdef012345.json"
	if got := deploy.ResultName(p, deployOf("app/"+strings.Repeat("n", 170)+".tgz", "")); got != short {
		t.Errorf("a name within the limits was shortened: %q", got)
	}
}
