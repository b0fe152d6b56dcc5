package deploy_test

import (
	"context"
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
