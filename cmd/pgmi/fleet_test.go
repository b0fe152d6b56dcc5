package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// fleetSize is how many tenant databases the fleet tests deploy to.
const fleetSize = 40

// tenantQuery is the fleet's databases query.
const tenantQuery = `SELECT datname FROM pg_database WHERE datname LIKE 'tenant\\_%' ORDER BY 1`

// fleetFixture is a bucket folder, a signing key and 40 tenant databases
// (tenant_01 … tenant_40) on the test cluster.
type fleetFixture struct {
	*localFixture
	tenants []string
	env     map[string]string
}

func newFleetFixture(t *testing.T, fleet string) *fleetFixture {
	t.Helper()
	f := &fleetFixture{localFixture: newLocalFixture(t)}
	admin := cluster.Connect(t, "postgres")
	start := time.Now()
	defer func() { t.Logf("%d tenant databases created in %s", fleetSize, time.Since(start)) }()
	for i := 1; i <= fleetSize; i++ {
		db := fmt.Sprintf("tenant_%02d", i)
		if _, err := admin.Exec(t.Context(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+db+" STRATEGY FILE_COPY"); err != nil {
			t.Fatal(err)
		}
		f.tenants = append(f.tenants, db)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), cluster.ConnString("postgres"))
		if err != nil {
			t.Errorf("dropping the tenant databases: %v", err)
			return
		}
		defer conn.Close(context.Background())
		for _, db := range f.tenants {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		}
	})
	f.env = map[string]string{"PGMI_ROUTES": `[{"prefix":"tenants/","fleet":` + fleet + `}]`}
	return f
}

// stampedSQL records when it ran in each database (started, finished), and
// raises in the databases named until they have a table fleet_fixed.
func stampedSQL(failIn ...string) string {
	fail := ""
	for _, db := range failIn {
		fail += fmt.Sprintf("IF current_database() = '%s' AND to_regclass('fleet_fixed') IS NULL THEN RAISE EXCEPTION 'planted failure in %%', current_database(); END IF;\n", db)
	}
	return `CREATE TABLE IF NOT EXISTS fleet_runs (started timestamptz, finished timestamptz DEFAULT clock_timestamp());
SELECT set_config('fleet.started', clock_timestamp()::text, false);
DO $$ BEGIN ` + fail + ` END $$;
SELECT pg_sleep(0.02);
INSERT INTO fleet_runs (started) VALUES (current_setting('fleet.started')::timestamptz);
`
}

// runs is how often deploy.sql ran in db, and when the first run started
// and the last finished.
func runs(t *testing.T, db string) (n int, started, finished time.Time) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), cluster.ConnString(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(t.Context(), `SELECT count(*)::int, coalesce(min(started), 'epoch'), coalesce(max(finished), 'epoch') FROM fleet_runs`).Scan(&n, &started, &finished)
	if err != nil && strings.Contains(err.Error(), "42P01") {
		return 0, time.Time{}, time.Time{}
	}
	if err != nil {
		t.Fatal(err)
	}
	return n, started, finished
}

func (f *fleetFixture) url(key string) string {
	return "file://" + filepath.ToSlash(f.bucket) + "/" + key
}

// localOnce runs pgmi local --once on the fixture's folder with its env.
func (f *fleetFixture) localOnce(t *testing.T) (int, string) {
	t.Helper()
	c := cli{env: f.env}
	code, out, errOut := c.run(t, "local", "--bucket", f.bucket, "--trusted-signers", f.signers,
		"--connection", cluster.ConnString("postgres"), "--once", "--interval", "50ms")
	return code, out + errOut
}

// One upload to a fleet route deploys all 40 tenants through pgmi local's
// in-process queue, wave by wave; the rollout result and pgmi rollout
// status show every target; the upload delivered again changes nothing.
func TestLocalFleetRolloutDeploysEveryTenantInWaves(t *testing.T) {
	testpg.Require(t, clusterErr)
	f := newFleetFixture(t, `{"databases":"`+tenantQuery+`","waves":[1,"10%","50%","100%"],"concurrency":8}`)
	f.drop(t, "tenants/r1.tgz", testbundle.Pack(t, f.key, "tenants", testbundle.Project(stampedSQL())))
	start := time.Now()
	code, out := f.localOnce(t)
	took := time.Since(start)
	t.Logf("pgmi local --once (exit %d) in %s:\n%s", code, took, out)
	if code != 0 || !strings.Contains(out, "serving the fleet queue mem://pgmi-fleet with 8 worker(s)") ||
		!regexp.MustCompile(`started: tenants/r1\.tgz: rollout \d+ started: 40 target\(s\) in 4 wave\(s\)`).MatchString(out) ||
		!strings.Contains(out, "  rollout result: ") || !regexp.MustCompile(`rollout \d+ complete: tenants/r1\.tgz: 40 deployed, 0 failed`).MatchString(out) {
		t.Fatalf("exit %d, want 0, the rollout's start and its completion", code)
	}
	if n := strings.Count(out, "deployed: tenants/r1.tgz → tenant_"); n != fleetSize {
		t.Fatalf("%d target lines, want one per tenant", n)
	}
	// Waves of 40: 1; 10% → 4; 50% → 20; 100%. No target of a wave
	// started before every target of the wave before it finished.
	bounds := []int{0, 1, 4, 20, 40}
	var prevEnd time.Time
	for w := 0; w < 4; w++ {
		var first, last time.Time
		for _, db := range f.tenants[bounds[w]:bounds[w+1]] {
			n, started, finished := runs(t, db)
			if n != 1 {
				t.Fatalf("%s ran %d times", db, n)
			}
			if first.IsZero() || started.Before(first) {
				first = started
			}
			if finished.After(last) {
				last = finished
			}
		}
		if w > 0 && !first.After(prevEnd) {
			t.Fatalf("wave %d started at %s, before wave %d finished (%s)", w+1, first.Format(time.RFC3339Nano), w, prevEnd.Format(time.RFC3339Nano))
		}
		prevEnd = last
	}

	// The rollout result, and pgmi rollout status.
	code, stdout, stderr := cli{}.run(t, "rollout", "status", f.url("tenants/r1.tgz"), "--json")
	var rep deploy.RolloutReport
	if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil {
		t.Fatalf("rollout status --json: exit %d %v\n%s%s", code, err, stdout, stderr)
	}
	if rep.Status != "complete" || rep.Deployed != fleetSize || len(rep.Targets) != fleetSize || len(rep.Waves) != 4 ||
		fmt.Sprint(waveSizes(&rep)) != "[1 3 16 20]" {
		t.Fatalf("rollout result: %s, %d deployed, %d targets, waves %v", rep.Status, rep.Deployed, len(rep.Targets), waveSizes(&rep))
	}
	t.Logf("rollout %d: started %s, last update %s later", rep.Rollout, rep.StartedAt.Format(time.RFC3339Nano), rep.UpdatedAt.Sub(rep.StartedAt))
	for i, tg := range rep.Targets {
		if i%10 == 0 {
			if data, err := os.ReadFile(strings.TrimPrefix(tg.Result, "file://")); err == nil {
				var r deploy.Report
				_ = json.Unmarshal(data, &r)
				t.Logf("%s: %d ms (engine %v ms)", tg.Database, r.DurationMS, r.Deploy["durationMs"])
			}
		}
		if tg.Database != f.tenants[i] || tg.Status != "deployed" || tg.Result == "" {
			t.Fatalf("target %d: %+v", i+1, tg)
		}
	}
	code, stdout, stderr = cli{}.run(t, "rollout", "status", f.url("tenants/r1.tgz"))
	if code != 0 || !strings.Contains(stdout, "complete: tenants/r1.tgz: 40 deployed, 0 failed, 0 pending of 40") ||
		!regexp.MustCompile(`(?m)^3\s+16\s+16\s+0\s+0\s+done$`).MatchString(stdout) {
		t.Fatalf("rollout status: exit %d\n%s%s", code, stdout, stderr)
	}
	code, _, stderr = cli{}.run(t, "status", f.url("tenants/r1.tgz"))
	if code != 0 || !strings.Contains(stderr, "tenants/r1.tgz: started: rollout") || !strings.Contains(stderr, "40 deployed") {
		t.Fatalf("status of the fleet upload: exit %d\n%s", code, stderr)
	}

	// The same upload delivered again (picked up anew): the rollout it
	// started answers, and no database runs the bundle again.
	later := time.Now().Add(time.Second)
	if err := os.Chtimes(filepath.Join(f.bucket, "tenants", "r1.tgz"), later, later); err != nil {
		t.Fatal(err)
	}
	code, out = f.localOnce(t)
	if code != 0 || !regexp.MustCompile(`duplicate: tenants/r1\.tgz.*rollout \d+ of this upload is already complete`).MatchString(out) ||
		strings.Contains(out, "deployed: tenants/r1.tgz → ") {
		t.Fatalf("the upload delivered again: exit %d\n%s", code, out)
	}
	for _, db := range f.tenants {
		if n, _, _ := runs(t, db); n != 1 {
			t.Fatalf("%s ran %d times after the upload was delivered again", db, n)
		}
	}
	t.Logf("40-target rollout through pgmi local: %s (including its start and stop)", took)
}

func waveSizes(r *deploy.RolloutReport) []int {
	var out []int
	for _, w := range r.Waves {
		out = append(out, w.Size)
	}
	return out
}

// A bundle failing in tenant_07, with no failure budget: the rollout halts
// after wave 3 (targets 5–20), wave 4 never starts, publish --wait exits 13
// naming tenant_07. Fixed, resume completes the rollout; a fixed bundle
// completes a new one.
func TestFleetRolloutHaltsThenResumes(t *testing.T) {
	testpg.Require(t, clusterErr)
	f := newFleetFixture(t, `{"databases":"`+tenantQuery+`","waves":[1,"10%","50%","100%"],"maxFailures":0,"concurrency":8}`)
	f.env["PGMI_FLEET_TOPIC"] = "mem://fleet-halts"
	keyFile, allowed := signingKey(t, t.TempDir(), "release")
	f.signers = allowed
	w := watchLocalEnv(t, f)

	proj := project(t, "deploy.sql", stampedSQL("tenant_07"))
	pw := startPublishWait(t, proj, f.url("tenants/r1.tgz"), "--sign-key", keyFile, "--wait", "--wait-timeout", "60s")
	pw.wait(t)
	if pw.code != 13 || !strings.Contains(pw.stderr, "rollout") || !strings.Contains(pw.stderr, "halted") ||
		!strings.Contains(pw.stderr, "tenant_07") || !strings.Contains(pw.stderr, "planted failure in tenant_07") {
		t.Fatalf("publish --wait: exit %d, want 13 naming tenant_07 and its error\n%s", pw.code, w.out.String())
	}
	for i, db := range f.tenants {
		n, _, _ := runs(t, db)
		switch {
		case db == "tenant_07" && n != 0, i >= 20 && n != 0:
			t.Fatalf("%s (target %d) ran %d times: the halted rollout went on", db, i+1, n)
		case i < 20 && db != "tenant_07" && n != 1:
			t.Fatalf("%s (target %d) ran %d times, want once", db, i+1, n)
		}
	}
	code, stdout, _ := cli{}.run(t, "rollout", "status", f.url("tenants/r1.tgz"))
	if code != 13 || !regexp.MustCompile(`(?m)^tenant_07\s+3\s+13\s+.*planted failure in tenant_07`).MatchString(stdout) ||
		!regexp.MustCompile(`(?m)^4\s+20\s+0\s+0\s+20\s+waiting$`).MatchString(stdout) {
		t.Fatalf("rollout status of the halted rollout: exit %d\n%s", code, stdout)
	}

	// Usage and configuration mistakes.
	conn := []string{"--connection", cluster.ConnString("postgres")}
	if code, _, stderr := (cli{}).run(t, append([]string{"rollout", "resume", "not a url"}, conn...)...); code != 2 {
		t.Fatalf("resume of a non-URL: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := (cli{}).run(t, append([]string{"rollout", "resume", f.url("tenants/r1.tgz")}, conn...)...); code != 10 || !strings.Contains(stderr, "PGMI_FLEET_TOPIC") {
		t.Fatalf("resume without a fleet queue: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := (cli{}).run(t, append([]string{"rollout", "abort", f.url("tenants/none.tgz")}, conn...)...); code != 10 || !strings.Contains(stderr, "no rollout") {
		t.Fatalf("abort of an upload without a rollout: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := (cli{}).run(t, "rollout", "status", f.url("tenants/none.tgz")); code != 17 {
		t.Fatalf("status of an upload without a rollout: exit %d\n%s", code, stderr)
	}

	// Fixed in tenant_07: resume (through a queue of its own, as pgmi
	// local's lives in pgmi local) completes the rollout.
	if _, err := cluster.Connect(t, "tenant_07").Exec(t.Context(), "CREATE TABLE fleet_fixed ()"); err != nil {
		t.Fatal(err)
	}
	rc := cli{env: f.env}
	code, stdout, stderr := rc.run(t, append([]string{"rollout", "resume", f.url("tenants/r1.tgz"), "--fleet-topic", "mem://resume", "--trusted-signers", f.signers}, conn...)...)
	t.Logf("rollout resume (exit %d):\n%s%s", code, stdout, stderr)
	if code != 0 || !strings.Contains(stdout, "complete: tenants/r1.tgz: 40 deployed, 0 failed") {
		t.Fatalf("resume: exit %d", code)
	}
	for _, db := range f.tenants {
		if n, _, _ := runs(t, db); n != 1 {
			t.Fatalf("%s ran %d times after resume, want once", db, n)
		}
	}

	// A fixed bundle rolls out completely.
	pw = startPublishWait(t, project(t, "deploy.sql", stampedSQL()), f.url("tenants/r2.tgz"), "--sign-key", keyFile, "--wait", "--wait-timeout", "60s")
	pw.wait(t)
	if pw.code != 0 || !strings.Contains(pw.stderr, "complete: tenants/r2.tgz: 40 deployed, 0 failed") {
		t.Fatalf("the fixed bundle: exit %d\n%s", pw.code, w.out.String())
	}
	for _, db := range f.tenants {
		if n, _, _ := runs(t, db); n != 2 {
			t.Fatalf("%s ran %d times after the fixed bundle, want twice", db, n)
		}
	}

	// Abort: a complete rollout stays complete.
	code, stdout, stderr = cli{}.run(t, append([]string{"rollout", "abort", f.url("tenants/r2.tgz")}, conn...)...)
	if code != 0 || !strings.Contains(stdout, "complete") {
		t.Fatalf("abort of a complete rollout: exit %d\n%s%s", code, stdout, stderr)
	}
}

// watchLocalEnv runs pgmi local on the fixture's folder, with its env,
// beside the test until it ends.
func watchLocalEnv(t *testing.T, f *fleetFixture) *localWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &localWatch{out: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	args := []string{"local", "--bucket", f.bucket, "--trusted-signers", f.signers,
		"--connection", cluster.ConnString("postgres"), "--interval", localTestInterval.String()}
	env := map[string]string{}
	for k, v := range f.env {
		env[k] = v
	}
	go func() {
		w.done <- run(ctx, args, streams{in: strings.NewReader(""), out: w.out, err: w.out,
			env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, setenv: func(string, string) error { return nil }})
	}()
	t.Cleanup(func() { w.stop(t) })
	return w
}

// The rollout commands' usage mistakes exit 2, and they complete.
func TestRolloutUsageAndCompletion(t *testing.T) {
	for _, args := range [][]string{
		{"rollout", "nosuch"},
		{"rollout", "status"},
		{"rollout", "status", "s3://b/k.tgz", "extra"},
		{"rollout", "status", "not-a-url"},
		{"rollout", "resume"},
		{"rollout", "abort", "s3://b/k.tgz", "--no-such-flag"},
	} {
		code, stdout, stderr := cli{}.run(t, args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, "Run 'pgmi --help'") {
			t.Errorf("%v: exit %d, want 2\nstdout %q\nstderr %s", args, code, stdout, stderr)
		}
	}
	_, stdout, _ := cli{}.run(t, "__complete", "rollout", "")
	for _, sub := range []string{"status", "resume", "abort"} {
		if !strings.Contains(stdout, sub) {
			t.Errorf("rollout completion lacks %s:\n%s", sub, stdout)
		}
	}
	_, stdout, _ = cli{}.run(t, "__complete", "rollout", "resume", "s3://b/k.tgz", "--fleet")
	if !strings.Contains(stdout, "--fleet-topic") {
		t.Errorf("flag completion:\n%s", stdout)
	}
	code, _, stderr := cli{}.run(t, "rollout", "abort", "s3://b/k.tgz", "--connection", "postgresql://u@127.0.0.1:1/app?connect_timeout=2")
	if code != 11 || !strings.Contains(stderr, "maintenance database") {
		t.Errorf("abort without a server: exit %d, want 11\n%s", code, stderr)
	}
	code, stdout, _ = cli{}.run(t, "rollout", "resume", "--help")
	if code != 0 || !strings.Contains(stdout, "--fleet-topic") || !strings.Contains(stdout, "--connection") || !strings.Contains(stdout, "-h, --host") {
		t.Errorf("resume --help: exit %d\n%s", code, stdout)
	}
}

// What publish --wait and the rollout commands exit with, per rollout.
func TestRolloutExitCodes(t *testing.T) {
	for _, c := range []struct {
		rep  deploy.RolloutReport
		want int
	}{
		{deploy.RolloutReport{Status: "running"}, 0},
		{deploy.RolloutReport{Status: "complete"}, 0},
		{deploy.RolloutReport{Status: "halted", ExitCode: 13}, 13},
		{deploy.RolloutReport{Status: "halted", ExitCode: 11}, 11},
		{deploy.RolloutReport{Status: "halted"}, 13},
		{deploy.RolloutReport{Status: "aborted"}, 13},
	} {
		if got := rolloutExitCode(&c.rep); got != c.want {
			t.Errorf("%s (exit code %d): %d, want %d", c.rep.Status, c.rep.ExitCode, got, c.want)
		}
	}
	// Complete within the failure budget, with a failed target: publish
	// --wait does not call that a success.
	s := streams{out: &syncBuffer{}, err: &syncBuffer{}, env: func(string) (string, bool) { return "", false }}
	rep := &deploy.RolloutReport{Status: "complete", Total: 2, Deployed: 1, Failed: 1,
		Targets: []deploy.TargetState{{Database: "a", Status: "deployed"}, {Database: "b", Status: "failed", ExitCode: 13, Error: "boom"}}}
	err := rolloutOutcome(s, &rolloutResult{rep: rep, where: "x"}, false)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 13 || !strings.Contains(s.err.(*syncBuffer).String(), "within its failure budget") {
		t.Fatalf("complete with a failed target: %v\n%s", err, s.err.(*syncBuffer).String())
	}
}
