package deploy_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// After an abort, the target that was deploying finishes: the rollout
// result object (what pgmi rollout status reads) shows it. It used to be
// rewritten only when a wave closed or 2 s had passed since the last
// rewrite, and an aborted rollout closes no wave, so the object said the
// target was still pending, for good.
func TestAbortedRolloutResultShowsInFlightTargets(t *testing.T) {
	ff := newFleetFixture(t, 2, `{"databases":$DBS,"waves":[1,"100%"],"concurrency":2}`)
	ff.serve(t)
	o := ff.run(ff.put("tenants/r1.tgz", ff.signed(stamped()+"\nSELECT pg_sleep(1);"), ""))
	want(t, o, deploy.StatusStarted, false)
	// Abort while the canary's deploy.sql runs (a deploy is never cut short).
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		var n int
		if err := queryIn(t, pg, "postgres", "SELECT count(*)::int FROM pg_stat_activity WHERE datname = '"+ff.dbs[0]+"' AND query LIKE '%pg_sleep(1)%' AND state = 'active'", &n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the canary never started")
		}
	}
	if _, err := ff.d.AbortRollout(context.Background(), o.Report.Bundle.URL, ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var state *deploy.RolloutReport
	for {
		var err error
		if state, err = ff.d.RolloutState(context.Background(), o.Report.Bundle.URL, ""); err != nil {
			t.Fatal(err)
		}
		if state.Deployed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the canary never finished: %+v", state.Targets)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The object is written just after the completion commits.
	rep := ff.rollout(t, o)
	for end := time.Now().Add(10 * time.Second); rep.Deployed != state.Deployed && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
		rep = ff.rollout(t, o)
	}
	if rep.Status != "aborted" || rep.Deployed != state.Deployed || rep.Pending != state.Pending {
		t.Fatalf("rollout result object: %s, %d deployed, %d pending; control tables: %s, %d deployed, %d pending",
			rep.Status, rep.Deployed, rep.Pending, state.Status, state.Deployed, state.Pending)
	}
}

// A fleet message naming a target of a later wave (never published: its
// wave has not started) is ignored and deploys nothing: it used to be
// honoured, so the target deployed before the canary wave had run.
func TestFleetMessageForLaterWaveIsIgnored(t *testing.T) {
	ff := newFleetFixture(t, 3, `{"databases":$DBS,"waves":[1,"100%"]}`)
	ff.subscribe(t) // nothing serves the queue: wave 1 stays queued
	req := ff.put("tenants/r1.tgz", ff.signed(stamped()), "")
	o := ff.run(req)
	want(t, o, deploy.StatusStarted, false)
	late := ff.dbs[2] // wave 2, pending
	body, _ := json.Marshal(deploy.FleetMessage{Action: deploy.ActionDeploy, Rollout: o.Report.Rollout, Database: late, Bundle: req.Bundle, Bucket: req.Bucket})
	r, err := deploy.ParseFleetMessage(body, deploy.Trigger{Source: "fleet"})
	if err != nil {
		t.Fatal(err)
	}
	o2 := ff.run(r)
	if n, _ := ff.runsIn(t, late); n != 0 || o2.Status == deploy.StatusDeployed {
		t.Fatalf("%s (wave 2) deployed (%s, %d run(s)) while wave 1 had not started", late, o2.Status, n)
	}
}
