package deploy_test

import (
	"context"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// A reset redeploys the database's bundle with the params of its key's
// route (PGMI_ROUTES), as the original deploy had: otherwise the database
// is dropped and the redeploy fails on a missing parameter.
func TestResetKeepsRouteParams(t *testing.T) {
	f := newFixture(t, func(e env) {
		e["PGMI_ROUTES"] = `[{"prefix":"app/","database":"` + e["PGMI_RESET_ALLOW"] + `","params":{"greeting":"hi"}}]`
	})
	want(t, f.run(f.put("app/1.tgz", f.signed("CREATE TABLE greet AS SELECT current_setting('pgmi.greeting') AS g;"), "")), deploy.StatusDeployed, false)
	reset := deploy.Request{Action: deploy.ActionReset, Database: f.db,
		Trigger: deploy.Trigger{Platform: "test", Source: "scheduler", Schedule: "nightly@2026-11-27T02:00:00Z"}}
	o := f.run(reset)
	if o.Status != deploy.StatusDeployed {
		t.Fatalf("reset of a routed database: %s (%v); the route's params were not applied", o.Status, o.Err)
	}
	if f.count("SELECT count(*) FROM greet WHERE g = 'hi'") != 1 {
		t.Fatal("the reset's deploy did not see the route's params")
	}
}

// A scheduled reset (naming no bundle) whose deploy failed for a
// retryable reason (the deadline) is retried by the scheduler: the retry
// redeploys the bundle the first attempt chose, rather than failing for
// good because the recreated database's ledger holds no succeeded row yet.
func TestRetriedResetAfterRetryableFailure(t *testing.T) {
	f := newFixture(t)
	role := "slow_" + f.db
	admin := pg.Connect(t, "postgres")
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), `DROP ROLE IF EXISTS "`+role+`"`) })
	slow := "CREATE TABLE seeded (id int);\nSELECT pg_sleep(CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" + role + "') THEN 30 ELSE 0 END);\n"
	want(t, f.run(f.put("app/1.tgz", f.signed(slow), "")), deploy.StatusDeployed, false)

	if _, err := admin.Exec(context.Background(), `CREATE ROLE "`+role+`"`); err != nil {
		t.Fatal(err)
	}
	reset := deploy.Request{Action: deploy.ActionReset, Database: f.db,
		Trigger: deploy.Trigger{Platform: "test", Source: "scheduler", Schedule: "nightly@2026-11-28T02:00:00Z"}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // margin 1s
	o := f.runCtx(ctx, reset)
	cancel()
	want(t, o, deploy.StatusFailed, true)

	if _, err := admin.Exec(context.Background(), `DROP ROLE "`+role+`"`); err != nil {
		t.Fatal(err)
	}
	again := f.run(reset) // the scheduler's retry of the same run
	if again.Status != deploy.StatusDeployed || !f.tableExists("seeded") {
		t.Fatalf("the retry of a retryable reset failure: %s retryable=%v (%v), want deployed", again.Status, again.Retryable, again.Err)
	}
}

// A redelivery of a scheduled reset whose deploy failed for good (a SQL
// error: acknowledged, not retried) is a duplicate, as a deploy's is: it
// does not drop the database and run the failing bundle again.
func TestRedeliveredFailedResetIsDuplicate(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/bad.tgz", f.signed("CREATE TABLE IF NOT EXISTS marker (id int);\nSELECT 1/0;\n"), "")
	reset := deploy.Request{Action: deploy.ActionReset, Database: f.db, Bucket: req.Bucket, Bundle: req.Bundle,
		Trigger: deploy.Trigger{Platform: "test", Source: "scheduler", Schedule: "nightly@2026-11-29T02:00:00Z"}}
	want(t, f.run(reset), deploy.StatusFailed, false)
	conn := pg.Connect(t, f.db)
	if _, err := conn.Exec(context.Background(), "CREATE TABLE survivor (id int)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	o := f.run(reset)
	if o.Status != deploy.StatusDuplicate || !f.tableExists("survivor") {
		t.Fatalf("redelivered failed reset: %s (%v); database dropped again: %v", o.Status, o.Err, !f.tableExists("survivor"))
	}
	if r := o.Report; r.Previous == nil || r.Previous.Status != "failed" || r.ExitCode != 13 {
		t.Fatalf("the duplicate does not read as the failure it repeats: %+v", r)
	}
}

// A reset reads the ledger of the database it drops whatever deployer
// version created it (olderLedgerDDL: before units_done and script_sha256),
// and redeploys the bundle of its last successful row.
func TestResetReadsOlderLedger(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/1.tgz", f.signed("CREATE TABLE seeded (id int);"), "")
	conn := pg.Connect(t, f.db)
	if _, err := conn.Exec(context.Background(), olderLedgerDDL); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `INSERT INTO pgmi_ledger.deployments (bundle, bucket, sha256, action, status, finished_at)
		VALUES ($1, $2, 'ab', 'deploy', 'succeeded', now())`, req.Bundle, req.Bucket); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	reset := deploy.Request{Action: deploy.ActionReset, Database: f.db,
		Trigger: deploy.Trigger{Platform: "test", Source: "scheduler", Schedule: "nightly@2026-11-30T02:00:00Z"}}
	o := f.run(reset)
	if o.Status != deploy.StatusDeployed || !f.tableExists("seeded") {
		t.Fatalf("reset of a database with an older ledger: %s (%v)", o.Status, o.Err)
	}
}
