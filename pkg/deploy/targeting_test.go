package deploy_test

import (
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// A payload (scheduler, queue message) never steers a deploy: its database
// may only repeat the one the configuration routes the bundle to, and never
// names a template or the maintenance database.
func TestPayloadCannotSteerDeploy(t *testing.T) {
	f := newFixture(t)
	other := pg.NewDatabase(t)
	cases := []struct {
		name, database, setting string
	}{
		{"template", "template1", "PGMI_ROUTES"},
		{"template0", "template0", "PGMI_ROUTES"},
		{"maintenance", "postgres", "PGMI_ROUTES"},
		{"another database", other, "PGDATABASE"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := f.put("app/steer"+string(rune('a'+i))+".tgz", f.signed("CREATE TABLE steered (id int);"), "")
			req.Database, req.Trigger.Source = c.database, "sqs"
			o := f.run(req)
			want(t, o, deploy.StatusFailed, false)
			rep := f.result(o)
			if rep.ExitCode != 10 || rep.Retryable || !strings.Contains(o.Err.Error(), c.setting) || !strings.Contains(o.Err.Error(), c.database) {
				t.Fatalf("refusal exit %d retryable=%v: %v (want exit 10 naming %s and %q)", rep.ExitCode, rep.Retryable, o.Err, c.setting, c.database)
			}
		})
	}
	for _, db := range []string{"template1", "postgres", other, f.db} {
		if n := countIn(t, pg, db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgmi_ledger'"); n != 0 {
			t.Errorf("a refused payload reached database %q (it has a ledger)", db)
		}
	}
	// Naming the route's own database, or none, deploys there.
	req := f.put("app/named.tgz", f.signed("CREATE TABLE named (id int);"), "")
	req.Database = f.db
	want(t, f.run(req), deploy.StatusDeployed, false)
	if !f.tableExists("named") {
		t.Fatal("a payload naming its route's database did not deploy there")
	}
}

// With routes, a payload's database must be the route of its own key, not
// another route's database.
func TestPayloadDatabaseMustBeItsRoute(t *testing.T) {
	testpg.Require(t, pgErr)
	other := pg.NewDatabase(t)
	f := newFixture(t, func(e env) {
		e["PGMI_ROUTES"] = `[{"prefix":"app/","database":"` + e["PGMI_RESET_ALLOW"] + `"},{"prefix":"billing/","database":"` + other + `"}]`
	})
	req := f.put("app/1.tgz", f.signed("CREATE TABLE crossed (id int);"), "")
	req.Database = other
	o := f.run(req)
	want(t, o, deploy.StatusFailed, false)
	if msg := o.Err.Error(); !strings.Contains(msg, "PGMI_ROUTES") || !strings.Contains(msg, f.db) || f.result(o).ExitCode != 10 {
		t.Fatalf("refusal does not name PGMI_ROUTES and the route's database: %v", o.Err)
	}
	if n := countIn(t, pg, other, "SELECT count(*) FROM pg_class WHERE relname = 'crossed'"); n != 0 {
		t.Fatal("the payload deployed into another route's database")
	}
	req.Database = f.db
	want(t, f.run(req), deploy.StatusDeployed, false)
}

// A reset only drops a database listed in PGMI_RESET_ALLOW.
func TestResetPayloadOnlyAllowedDatabases(t *testing.T) {
	f := newFixture(t)
	req := f.put("app/1.tgz", f.signed("SELECT 1;"), "")
	for _, db := range []string{"template1", "postgres", pg.NewDatabase(t)} {
		o := f.run(deploy.Request{Action: deploy.ActionReset, Database: db, Bundle: req.Bundle, Bucket: req.Bucket,
			Trigger: deploy.Trigger{Platform: "test", Source: "scheduler"}})
		want(t, o, deploy.StatusFailed, false)
		if !strings.Contains(o.Err.Error(), "PGMI_RESET_ALLOW") || f.result(o).ExitCode != 10 {
			t.Fatalf("reset of %q: %v", db, o.Err)
		}
	}
}
