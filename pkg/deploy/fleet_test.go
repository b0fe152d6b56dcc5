package deploy_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/pubsub"
	_ "gocloud.dev/pubsub/mempubsub"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// fleetFixture is a deployer with one fleet route over n new databases
// (fleet order = creation order) and a worker serving its mem:// queue.
type fleetFixture struct {
	*fixture
	dbs    []string
	topic  string
	mu     sync.Mutex
	seen   []*deploy.Outcome
	cancel context.CancelFunc
	done   chan struct{}
	// maxDeliveries is the worker's MaxDeliveries (0: its default).
	maxDeliveries int
}

func newFleetFixture(t *testing.T, n int, fleet string) *fleetFixture {
	t.Helper()
	suffix := make([]byte, 4)
	rand.Read(suffix)
	ff := &fleetFixture{topic: "mem://fleet-" + hex.EncodeToString(suffix)}
	for i := range n {
		db := fmt.Sprintf("tenant_%s_%02d", hex.EncodeToString(suffix), i+1)
		pg.CreateDatabase(t, db)
		ff.dbs = append(ff.dbs, db)
	}
	list, _ := json.Marshal(ff.dbs)
	fleet = strings.ReplaceAll(fleet, "$DBS", string(list))
	fleet = strings.ReplaceAll(fleet, "$SUFFIX", hex.EncodeToString(suffix))
	ff.fixture = newFixtureTB(t, func(e env) {
		e["PGMI_ROUTES"] = `[{"prefix":"tenants/","fleet":` + fleet + `}]`
		e["PGMI_FLEET_TOPIC"] = ff.topic
	})
	return ff
}

// serve starts the worker (the platform's queue trigger).
func (ff *fleetFixture) serve(t *testing.T) { ff.serveTB(t) }

func (ff *fleetFixture) serveTB(t testing.TB) { ff.subscribe(t)() }

// subscribe opens the queue's subscription now (mem:// keeps only what is
// published after a subscription exists) and returns the func that starts
// the worker on it.
func (ff *fleetFixture) subscribe(t testing.TB) (start func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	topic, err := pubsub.OpenTopic(ctx, ff.topic) // the queue exists before anything subscribes
	if err != nil {
		t.Fatal(err)
	}
	sub, err := pubsub.OpenSubscription(ctx, ff.topic)
	if err != nil {
		t.Fatal(err)
	}
	ff.cancel, ff.done = cancel, make(chan struct{})
	w := &deploy.FleetWorker{Deployer: ff.d, Sub: sub, RetryDelay: 50 * time.Millisecond, MaxDeliveries: ff.maxDeliveries,
		Trigger: deploy.Trigger{Platform: "local", Source: "fleet"},
		Outcome: func(o *deploy.Outcome) { ff.mu.Lock(); ff.seen = append(ff.seen, o); ff.mu.Unlock() }}
	started := false
	t.Cleanup(func() {
		cancel()
		if started {
			<-ff.done
		}
		sub.Shutdown(context.Background())
		topic.Shutdown(context.Background())
	})
	return func() {
		started = true
		go func() {
			defer close(ff.done)
			if err := w.Serve(ctx); err != nil {
				t.Errorf("worker: %v", err)
			}
		}()
	}
}

// rollout reads the rollout result of an upload's outcome.
func (ff *fleetFixture) rollout(t *testing.T, o *deploy.Outcome) *deploy.RolloutReport {
	return ff.rolloutNowTB(t, o)
}

func (ff *fleetFixture) rolloutNowTB(t testing.TB, o *deploy.Outcome) *deploy.RolloutReport {
	t.Helper()
	url := f2path(o.Report.RolloutResult)
	data, err := os.ReadFile(url)
	if err != nil {
		t.Fatalf("rollout result: %v", err)
	}
	var rep deploy.RolloutReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

func f2path(u string) string { return strings.TrimPrefix(u, "file://") }

// wait polls the rollout result until the rollout is done.
func (ff *fleetFixture) wait(t *testing.T, o *deploy.Outcome) *deploy.RolloutReport {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		rep := ff.rollout(t, o)
		if rep.Done() {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollout still %s after 90 s: %+v", rep.Status, rep.Waves)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stamped is deploy.sql recording when it ran in each database, and
// failing in the databases named until they have a table fleet_fixed.
func stamped(failIn ...string) string {
	fail := ""
	for _, db := range failIn {
		fail += fmt.Sprintf("IF current_database() = '%s' AND to_regclass('fleet_fixed') IS NULL THEN RAISE EXCEPTION 'planted failure in %%', current_database(); END IF;\n", db)
	}
	return `CREATE TABLE IF NOT EXISTS fleet_runs (at timestamptz DEFAULT clock_timestamp(), n int);
DO $$ BEGIN ` + fail + ` END $$;
INSERT INTO fleet_runs (n) VALUES (1);
SELECT pg_sleep(0.05);`
}

func (ff *fleetFixture) runsIn(t *testing.T, db string) (n int, at time.Time) {
	t.Helper()
	if err := queryIn(t, pg, db, `SELECT count(*)::int, coalesce(min(at), 'epoch') FROM fleet_runs`, &n, &at); err != nil {
		if strings.Contains(err.Error(), "42P01") {
			return 0, time.Time{}
		}
		t.Fatal(err)
	}
	return n, at
}

// One upload deploys every database of the fleet, wave by wave: no
// database of a wave starts before the previous wave finished. The upload
// delivered again changes nothing.
func TestFleetRolloutDeploysEveryTargetInWaves(t *testing.T) {
	ff := newFleetFixture(t, 8, `{"databases":$DBS,"waves":[1,"50%","100%"],"concurrency":3}`)
	ff.serve(t)
	req := ff.put("tenants/r1.tgz", ff.signed(stamped()), "")
	o := ff.run(req)
	want(t, o, deploy.StatusStarted, false)
	rep := ff.wait(t, o)
	if rep.Status != "complete" || rep.Deployed != 8 || rep.Failed != 0 || len(rep.Waves) != 3 || rep.ExitCode != 0 {
		t.Fatalf("rollout %s: %d deployed, %d failed, waves %+v", rep.Status, rep.Deployed, rep.Failed, rep.Waves)
	}
	if sizes := []int{rep.Waves[0].Size, rep.Waves[1].Size, rep.Waves[2].Size}; fmt.Sprint(sizes) != "[1 3 4]" {
		t.Fatalf("wave sizes %v, want [1 3 4] (1, 50%% of 8 cumulative, the rest)", sizes)
	}
	var waveEnd [3]time.Time
	var waveStart [3]time.Time
	for i, tg := range rep.Targets {
		if tg.Database != ff.dbs[i] || tg.Status != "deployed" || tg.Result == "" {
			t.Fatalf("target %d: %+v", i, tg)
		}
		n, at := ff.runsIn(t, tg.Database)
		if n != 1 {
			t.Fatalf("%s ran %d times", tg.Database, n)
		}
		w := tg.Wave - 1
		if waveStart[w].IsZero() || at.Before(waveStart[w]) {
			waveStart[w] = at
		}
		if at.After(waveEnd[w]) {
			waveEnd[w] = at
		}
	}
	for w := 1; w < 3; w++ {
		if !waveStart[w].After(waveEnd[w-1]) {
			t.Fatalf("wave %d started at %v, before wave %d's last target (%v)", w+1, waveStart[w], w, waveEnd[w-1])
		}
	}
	// The upload delivered again: the same rollout, nothing deployed again.
	o2 := ff.run(req)
	want(t, o2, deploy.StatusDuplicate, false)
	time.Sleep(200 * time.Millisecond)
	for _, db := range ff.dbs {
		if n, _ := ff.runsIn(t, db); n != 1 {
			t.Fatalf("%s ran %d times after the redelivery", db, n)
		}
	}
	// A fleet message delivered again answers duplicate.
	msg, _ := json.Marshal(deploy.FleetMessage{Action: deploy.ActionDeploy, Rollout: rep.Rollout, Database: ff.dbs[3], Bundle: req.Bundle, Bucket: req.Bucket})
	again, err := deploy.ParseFleetMessage(msg, deploy.Trigger{Source: "fleet"})
	if err != nil {
		t.Fatal(err)
	}
	want(t, ff.run(again), deploy.StatusDuplicate, false)
}

// A failing target with no failure budget halts the rollout after its
// wave; later waves never start. A fixed bundle rolls out completely.
func TestFleetRolloutHaltsOnFailureBudget(t *testing.T) {
	ff := newFleetFixture(t, 10, `{"databases":"SELECT datname FROM pg_database WHERE datname LIKE 'tenant\\_$SUFFIX\\_%' ORDER BY 1","waves":[1,"10%","50%","100%"],"maxFailures":0,"concurrency":4}`)
	ff.serve(t)
	// Waves of 10: 1; 10% → 1, which adds nothing and is dropped; 50% → 5;
	// 100%. The 4th target fails, in wave 2 (targets 2–5).
	bad := ff.dbs[3]
	o := ff.run(ff.put("tenants/r1.tgz", ff.signed(stamped(bad)), ""))
	want(t, o, deploy.StatusStarted, false)
	rep := ff.wait(t, o)
	if rep.Status != "halted" || rep.ExitCode != 13 || len(rep.FailedTargets()) != 1 || rep.FailedTargets()[0].Database != bad {
		t.Fatalf("rollout %s exit %d, failed %+v", rep.Status, rep.ExitCode, rep.FailedTargets())
	}
	if !strings.Contains(rep.Message, "halted after wave 2") {
		t.Fatalf("message %q", rep.Message)
	}
	for i, db := range ff.dbs {
		n, _ := ff.runsIn(t, db)
		switch {
		case i < 5 && i != 3 && n != 1, (i == 3 || i >= 5) && n != 0: // the failed one rolled back
			t.Fatalf("%s (target %d) ran %d times", db, i+1, n)
		}
	}
	// The database fixed, and a tenant onboarded meanwhile: resume
	// re-resolves the fleet and completes the rollout.
	pg.Exec(t, bad, "CREATE TABLE fleet_fixed ()")
	late := strings.TrimSuffix(ff.dbs[0], "01") + "11"
	pg.CreateDatabase(t, late)
	rep, err := ff.d.ResumeRollout(context.Background(), rep.Bundle.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "running" || rep.Total != 11 || rep.Failed != 0 {
		t.Fatalf("resumed: %s, %d targets, %d failed", rep.Status, rep.Total, rep.Failed)
	}
	rep = ff.wait(t, o)
	if rep.Status != "complete" || rep.Deployed != 11 || rep.ExitCode != 0 {
		t.Fatalf("after resume: rollout %s, %d deployed", rep.Status, rep.Deployed)
	}
	if n, _ := ff.runsIn(t, late); n != 1 {
		t.Fatalf("the tenant onboarded after the rollout started ran %d times after resume", n)
	}
	for _, db := range ff.dbs[:3] {
		if n, _ := ff.runsIn(t, db); n != 1 {
			t.Fatalf("%s ran %d times: resume deployed a done target again", db, n)
		}
	}
	// A fixed bundle rolls out completely too.
	o = ff.run(ff.put("tenants/r2.tgz", ff.signed(stamped()), ""))
	rep = ff.wait(t, o)
	if rep.Status != "complete" || rep.Deployed != 11 {
		t.Fatalf("fixed bundle: rollout %s, %d deployed", rep.Status, rep.Deployed)
	}
	// Abort stops a rollout while its first wave (one target, 1 s) runs:
	// no later wave starts.
	// The abort comes from a deployer configured with another results
	// prefix (pgmi rollout abort run with other settings): it rewrites the
	// rollout result where the rollout started it.
	o = ff.run(ff.put("tenants/r3.tgz", ff.signed(stamped()+"\nSELECT pg_sleep(1);"), ""))
	admin := maps.Clone(ff.env)
	admin["PGMI_RESULTS_PREFIX"] = "elsewhere/"
	cfg, err := deploy.LoadConfig(context.Background(), admin.lookup, nil)
	if err != nil {
		t.Fatal(err)
	}
	ad := deploy.New(cfg, nil)
	defer ad.Close()
	if _, err = ad.AbortRollout(context.Background(), o.Report.Bundle.URL, ""); err != nil {
		t.Fatal(err)
	}
	if rep := ff.rollout(t, o); rep.Status != "aborted" {
		t.Fatalf("right after the abort the rollout result says %s", rep.Status)
	}
	ff.wait(t, o)
	time.Sleep(1500 * time.Millisecond) // the canary finishes; nothing follows it
	rep = ff.rollout(t, o)
	if rep.Status != "aborted" || rep.Deployed > 1 {
		t.Fatalf("aborted rollout: %s with %d deployed", rep.Status, rep.Deployed)
	}
}

// A fleet message is honoured only as the rollout recorded it: another
// database, another bundle or an unknown rollout is refused and changes
// nothing.
func TestFleetMessageCannotSteer(t *testing.T) {
	ff := newFleetFixture(t, 2, `{"databases":$DBS,"waves":["100%"]}`)
	ff.serve(t)
	req := ff.put("tenants/r1.tgz", ff.signed(stamped()), "")
	rep := ff.wait(t, ff.run(req))
	other := pg.NewDatabase(t)
	for _, m := range []deploy.FleetMessage{
		{Rollout: rep.Rollout, Database: other, Bundle: req.Bundle, Bucket: req.Bucket},
		{Rollout: rep.Rollout + 1000, Database: ff.dbs[0], Bundle: req.Bundle, Bucket: req.Bucket},
		{Rollout: rep.Rollout, Database: ff.dbs[0], Bundle: req.Bundle + "x", Bucket: req.Bucket},
	} {
		m.Action = deploy.ActionDeploy
		body, _ := json.Marshal(m)
		r, err := deploy.ParseFleetMessage(body, deploy.Trigger{Source: "fleet"})
		if err != nil {
			t.Fatal(err)
		}
		o := ff.run(r)
		want(t, o, deploy.StatusFailed, false)
		if o.Status == deploy.StatusFailed && !strings.Contains(o.Err.Error(), "records no target") && !strings.Contains(o.Err.Error(), "no route") {
			t.Fatalf("refusal: %v", o.Err)
		}
	}
	if n, _ := ff.runsIn(t, other); n != 0 {
		t.Fatal("a fleet message deployed to a database its rollout does not list")
	}
}

// Uploads of one key out of order: an older upload arriving after a newer
// one's rollout starts none (stale), and a newer upload supersedes a
// rollout of the key still running (its queued messages deploy nothing).
func TestFleetOlderUploadsNeverWin(t *testing.T) {
	ff := newFleetFixture(t, 3, `{"databases":$DBS,"waves":[1,"100%"],"concurrency":2}`)
	version := func(v int) []byte {
		return ff.signed(fmt.Sprintf("CREATE TABLE IF NOT EXISTS fleet_versions (v int, at timestamptz DEFAULT clock_timestamp()); INSERT INTO fleet_versions (v) VALUES (%d);", v))
	}
	// v3 starts (nothing serves the queue yet), v4 supersedes it.
	start := ff.subscribe(t)
	o3 := ff.run(ff.put("tenants/app.tgz", version(3), "0003"))
	want(t, o3, deploy.StatusStarted, false)
	o4 := ff.run(ff.put("tenants/app.tgz", version(4), "0004"))
	want(t, o4, deploy.StatusStarted, false)
	if rep := ff.rollout(t, o3); rep.Status != "aborted" || !strings.Contains(rep.Message, "superseded") {
		t.Fatalf("the older rollout: %s %q", rep.Status, rep.Message)
	}
	start()
	if rep := ff.wait(t, o4); rep.Status != "complete" || rep.Deployed != 3 {
		t.Fatalf("the newer rollout: %s, %d deployed", rep.Status, rep.Deployed)
	}
	// v2 arrives late: stale, no rollout.
	o2 := ff.run(ff.put("tenants/app.tgz", version(2), "0002"))
	want(t, o2, deploy.StatusStale, false)
	time.Sleep(300 * time.Millisecond)
	for _, db := range ff.dbs {
		var got []int
		if err := queryIn(t, pg, db, "SELECT coalesce(array_agg(v ORDER BY at), '{}') FROM fleet_versions", &got); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != "[4]" {
			t.Fatalf("%s deployed versions %v, want [4]", db, got)
		}
	}
}

// A target that keeps failing retryably (its database's deploy lock is held
// elsewhere) is given up after MaxDeliveries, as a dead-letter queue would;
// the wave waits for it, and pgmi rollout resume publishes it again.
func TestFleetDeadLetteredTargetResumes(t *testing.T) {
	ff := newFleetFixture(t, 2, `{"databases":$DBS,"waves":["100%"],"concurrency":2}`)
	ff.env["PGMI_LOCK_WAIT"] = "200ms"
	cfg, err := deploy.LoadConfig(context.Background(), ff.env.lookup, nil)
	if err != nil {
		t.Fatal(err)
	}
	ff.d = deploy.New(cfg, nil)
	t.Cleanup(func() { ff.d.Close() })
	holder := pg.Connect(t, ff.dbs[1])
	if ok, err := engine.TryLock(context.Background(), holder); err != nil || !ok {
		t.Fatalf("taking the deploy lock of %s: %v %v", ff.dbs[1], ok, err)
	}
	ff.maxDeliveries = 2
	ff.serve(t)
	o := ff.run(ff.put("tenants/r1.tgz", ff.signed(stamped()), ""))
	want(t, o, deploy.StatusStarted, false)
	retried := func() int {
		ff.mu.Lock()
		defer ff.mu.Unlock()
		n := 0
		for _, s := range ff.seen {
			if s.Retryable && s.Report != nil && s.Report.Target.Database == ff.dbs[1] {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for retried() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%s was delivered %d times retryably, want 2", ff.dbs[1], retried())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Ten retry delays later there is still no third delivery.
	time.Sleep(500 * time.Millisecond)
	if n := retried(); n != 2 {
		t.Fatalf("%s was delivered %d times, want MaxDeliveries (2)", ff.dbs[1], n)
	}
	// The control tables, not the result object (rewritten at most every 2 s).
	rep, err := ff.d.RolloutState(context.Background(), o.Report.Bundle.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "running" || rep.Deployed != 1 || rep.Pending != 1 {
		t.Fatalf("after the dead letter: %s, %d deployed, %d pending", rep.Status, rep.Deployed, rep.Pending)
	}
	if err := engine.Unlock(context.Background(), holder); err != nil {
		t.Fatal(err)
	}
	if _, err := ff.d.ResumeRollout(context.Background(), o.Report.Bundle.URL, ""); err != nil {
		t.Fatal(err)
	}
	if rep := ff.wait(t, o); rep.Status != "complete" || rep.Deployed != 2 {
		t.Fatalf("after resume: %s, %d deployed", rep.Status, rep.Deployed)
	}
}
