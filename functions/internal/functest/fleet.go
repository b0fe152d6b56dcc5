package functest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FleetHarness is a Harness whose platform carries fleet messages: the
// queue a function publishes to (PGMI_FLEET_TOPIC, through the real
// gocloud driver of the platform) and the trigger that delivers them back.
type FleetHarness interface {
	// FleetQueue creates an emulated fleet queue and returns the
	// environment that points a function at it (PGMI_FLEET_TOPIC and what
	// its driver needs).
	FleetQueue(t *testing.T) (env map[string]string, q FleetQueue)
}

// FleetQueue is an emulated fleet queue and its trigger.
type FleetQueue interface {
	// Serve delivers every message published to the queue to in, in the
	// platform's shape (an SQS record, a Pub/Sub push CloudEvent, a
	// Service Bus trigger invocation), at most concurrency at once,
	// delivering again what the function asks to retry, until stop.
	Serve(t *testing.T, in Instance, concurrency int) (stop func())
}

// fleetTargets is how many databases the fleet scenario rolls out to.
const fleetTargets = 10

// fleet rolls one upload out to ten databases in three waves through the
// platform's queue: every target deployed once, no wave started before the
// previous one finished, and the upload delivered again changes nothing.
func fleet(t *testing.T, s *Setup, h Harness) {
	fh, ok := h.(FleetHarness)
	if !ok {
		t.Fatalf("%T does not emulate the platform's fleet queue (FleetHarness)", h)
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	var dbs []string
	for i := range fleetTargets {
		db := fmt.Sprintf("tenant_%s_%02d", hex.EncodeToString(suffix), i+1)
		s.PG.CreateDatabase(t, db)
		dbs = append(dbs, db)
	}
	list, _ := json.Marshal(dbs)
	env, q := fh.FleetQueue(t)
	env["PGMI_ROUTES"] = `[{"prefix":"tenants/","fleet":{"databases":` + string(list) + `,"waves":[1,"50%","100%"],"concurrency":3}}]`
	in := h.Start(t, Options{Env: env, Concurrency: 3})
	stop := q.Serve(t, in, 3)
	defer stop()

	obj := h.Upload(t, "tenants/release-1.tgz", bundle(s, t, `CREATE TABLE IF NOT EXISTS fleet_runs (at timestamptz DEFAULT clock_timestamp());
INSERT INTO fleet_runs DEFAULT VALUES; SELECT pg_sleep(0.05);`))
	// The upload's own lines are the ones without a database: every
	// target's line names the same bundle, and targets may log before the
	// upload's line is read, or after the rollout result says complete.
	uploadLines := func(n int) []Line {
		return linesWhere(t, in, n, func(l Line) bool {
			return strings.HasSuffix(l.str("bundle"), "/"+obj.Key) && l.str("database") == ""
		})
	}
	expectAck(t, in.Deliver(t, obj))
	ls := uploadLines(1)
	if len(ls) != 1 {
		t.Fatalf("the upload logged %d outcome lines, want 1; logs:\n%s", len(ls), dump(in.Logs(t)))
	}
	l := ls[0]
	if l.Outcome() != "started" {
		t.Fatalf("the upload to a fleet route: outcome %q, want started: %v", l.Outcome(), l)
	}
	started := result(t, h, l)
	rolloutURL, _ := started["rolloutResult"].(string)
	if rolloutURL == "" {
		t.Fatalf("the upload's result names no rollout result: %v", started)
	}
	var rep struct {
		Status   string `json:"status"`
		Deployed int    `json:"deployed"`
		Waves    []struct {
			Size int `json:"size"`
		} `json:"waves"`
		Targets []struct {
			Database, Status string
			Wave             int
		} `json:"targets"`
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if err := json.Unmarshal(h.ReadResult(t, rolloutURL), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Status != "running" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if rep.Status != "complete" || rep.Deployed != fleetTargets || len(rep.Waves) != 3 {
		t.Fatalf("rollout %s with %d of %d deployed in %d waves; logs:\n%s", rep.Status, rep.Deployed, fleetTargets, len(rep.Waves), dump(in.Logs(t)))
	}
	var end, start [3]time.Time
	for _, tg := range rep.Targets {
		conn := s.PG.Connect(t, tg.Database)
		var n int
		var at time.Time
		if err := conn.QueryRow(t.Context(), "SELECT count(*)::int, min(at) FROM fleet_runs").Scan(&n, &at); err != nil || n != 1 {
			t.Fatalf("%s: deploy.sql ran %d times (%v)", tg.Database, n, err)
		}
		conn.Close(t.Context())
		w := tg.Wave - 1
		if start[w].IsZero() || at.Before(start[w]) {
			start[w] = at
		}
		if at.After(end[w]) {
			end[w] = at
		}
	}
	for w := 1; w < 3; w++ {
		if !start[w].After(end[w-1]) {
			t.Fatalf("wave %d started before wave %d finished", w+1, w)
		}
	}
	// The upload delivered again: the same rollout, no target deployed again.
	expectAck(t, in.Deliver(t, obj))
	lines := uploadLines(2)
	if last := lines[len(lines)-1]; last.Outcome() != "duplicate" {
		t.Fatalf("the upload delivered again: outcome %q, want duplicate", last.Outcome())
	}
	time.Sleep(500 * time.Millisecond)
	for _, db := range dbs {
		if n := s.count(t, db, "SELECT count(*)::int FROM fleet_runs"); n != 1 {
			t.Fatalf("%s ran %d times after the upload was delivered again", db, n)
		}
	}
	for _, line := range in.Logs(t) {
		if line.Outcome() == "failed" && strings.Contains(line.str("bundle"), "tenants/") {
			t.Fatalf("a fleet delivery failed: %v", line)
		}
	}
}
