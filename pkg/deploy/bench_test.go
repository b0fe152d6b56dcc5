package deploy_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// BenchmarkPipeline1MB measures one upload event through the whole pipeline
// (fetch from a folder bucket, verify, scan, connect, lock, ledger, engine,
// ledger, result object) for a 1 MiB bundle, against the baseline of the
// engine alone deploying the same project the way pgmi deploy does: a new
// session (connected and probed) and the engine over it, in the same run,
// alternating with the events. x/engine-only is the target
// (≤ 1.2); ms/engine-warm is the engine alone over a session kept open
// between runs, for reference. Each event deploys a new object, so none is
// a duplicate. It measures the steady state: one untimed event first
// creates the database's ledger (once per database), and every timed run
// starts once the previous session's backend has left (settle).
func BenchmarkPipeline1MB(b *testing.B) { benchPipeline(b, false) }

// BenchmarkPipelinePhases runs the same events as BenchmarkPipeline1MB
// through deploy.RunPhases (the pipeline's own steps, timed one by one) and
// reports each phase's ms per event and its share of the event, next to
// the baselines of the same run. Steady state, as above.
func BenchmarkPipelinePhases(b *testing.B) { benchPipeline(b, true) }

type phaseTotals [16]time.Duration

func benchPipeline(b *testing.B, phases bool) {
	testpg.Require(b, pgErr)
	files := testbundle.Project1MB(b, "CREATE TABLE IF NOT EXISTS bench_runs (n int); INSERT INTO bench_runs VALUES (1);")
	f := newBenchFixture(b)
	event := func(req deploy.Request, pt *phaseTotals) *deploy.Outcome {
		if !phases {
			return f.d.Run(context.Background(), req)
		}
		o, ph := deploy.RunPhases(context.Background(), f.d, req)
		for i, d := range ph {
			pt[i] += d
		}
		return o
	}
	data := testbundle.Pack(b, f.key, "bench", files)

	fsys := fstest.MapFS{}
	for p, d := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(d), Mode: 0o644}
	}
	ctx := context.Background()
	target, err := connect.Resolve(connect.Flags{ConnString: pg.ConnString(f.db)}, nil, pgmiyaml.Connection{})
	if err != nil {
		b.Fatal(err)
	}
	defer target.Close()
	warmConn := pg.Connect(b, f.db)
	// settle waits, untimed, until the server is at rest: no other session
	// of the database, and no backend process but those running now (its
	// own processes, the warm session's). A closed session's backend goes on
	// exiting for ~10 ms of CPU after pg_stat_activity stopped listing it;
	// on 2 cores that teardown was charged to whichever run came next (the
	// event, which followed engine-only).
	atRest := map[int]bool{}
	kids, kidsErr := pg.Children()
	for _, pid := range kids {
		atRest[pid] = true
	}
	if kidsErr != nil {
		b.Logf("settle cannot see the server's processes (%v): it waits for pg_stat_activity only", kidsErr)
	}
	settle := func() {
		for {
			var others int
			if err := warmConn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").Scan(&others); err != nil {
				b.Fatal(err)
			}
			if others == 0 {
				break
			}
		}
		for deadline := time.Now().Add(10 * time.Second); kidsErr == nil; time.Sleep(100 * time.Microsecond) {
			kids, err := pg.Children()
			if err != nil {
				b.Fatal(err)
			}
			if !slices.ContainsFunc(kids, func(pid int) bool { return !atRest[pid] }) {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("the server's processes %v did not come to rest (as %v) within 10 s", kids, atRest)
			}
		}
	}
	// engineOnly is what pgmi deploy does with the project: connect (and
	// probe), deploy, close.
	var baseConnect time.Duration
	engineOnly := func() time.Duration {
		settle()
		start := time.Now()
		c, err := (&connect.Lifecycle{Target: target}).Open(ctx)
		if err != nil {
			b.Fatal(err)
		}
		baseConnect += time.Since(start)
		if _, err := engine.Deploy(ctx, c, fsys, engine.Options{LockWait: 10 * time.Second}); err != nil {
			b.Fatal(err)
		}
		c.Close(ctx)
		return time.Since(start)
	}
	engineWarm := func() time.Duration {
		settle()
		start := time.Now()
		if _, err := engine.Deploy(ctx, warmConn, fsys, engine.Options{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var warm phaseTotals
	run := func(i int, pt *phaseTotals) time.Duration {
		req := f.put(fmt.Sprintf("bench/%d-%d.tgz", time.Now().UnixNano(), i), data, "")
		settle()
		start := time.Now()
		o := event(req, pt)
		d := time.Since(start)
		if o.Status != deploy.StatusDeployed || o.ResultErr != nil {
			b.Fatalf("outcome %s: %v (result: %v)", o.Status, o.Err, o.ResultErr)
		}
		return d
	}
	// Warm-up, untimed: the first event creates the ledger.
	engineWarm()
	run(-1, &warm)

	var base, full, warmBase, scanRef, verifyAlone, scanAlone time.Duration
	var pt phaseTotals
	baseConnect = 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		base += engineOnly()
		full += run(i, &pt)
		warmBase += engineWarm()
		if phases {
			start := time.Now()
			if _, err := engine.Scan(fsys, engine.ScanOptions{}); err != nil {
				b.Fatal(err)
			}
			scanRef += time.Since(start)
			v, sc, err := deploy.PiecesAlone(ctx, f.d, data)
			if err != nil {
				b.Fatal(err)
			}
			verifyAlone, scanAlone = verifyAlone+v, scanAlone+sc
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(full.Microseconds())/1e3/n, "ms/event")
	b.ReportMetric(float64(base.Microseconds())/1e3/n, "ms/engine-only")
	b.ReportMetric(float64(full)/float64(base), "x/engine-only")
	b.ReportMetric(float64(warmBase.Microseconds())/1e3/n, "ms/engine-warm")
	b.ReportMetric(float64(len(data))/(1<<20), "MiB/bundle")
	if pt == (phaseTotals{}) || (b.N == 1 && !testing.Verbose()) { // the table of the sized run only
		return
	}
	var sum time.Duration
	for i := range deploy.PhaseNames {
		sum += pt[i]
	}
	// Two phases a line: go test shows at most 10 lines of a benchmark's log.
	table := fmt.Sprintf("steady state (ledger created before timing), %d events:", b.N)
	for i, name := range deploy.PhaseNames {
		ms := float64(pt[i].Microseconds()) / 1e3 / n
		share := 100 * float64(pt[i]) / float64(sum)
		if i%2 == 0 {
			table += "\n"
		}
		table += fmt.Sprintf("%-18s %8.2f ms %5.1f%%    ", name, ms, share)
		b.ReportMetric(ms, "ms/"+strings.ReplaceAll(name, " ", "_"))
	}
	table += fmt.Sprintf("\n%-18s %8.2f ms 100.0%%    %-18s %8.2f ms (connect + engine on a new session; event / this = %.2f)", "sum of phases",
		float64(sum.Microseconds())/1e3/n, "engine-only", float64(base.Microseconds())/1e3/n, float64(full)/float64(base))
	table += fmt.Sprintf("\n%-18s %8.2f ms    %-18s %8.2f ms (the two parts of verify+scan, each alone)", "alone: verify",
		float64(verifyAlone.Microseconds())/1e3/n, "alone: scan", float64(scanAlone.Microseconds())/1e3/n)
	table += fmt.Sprintf("\n%-18s %8.2f ms    %-18s %8.2f ms (the parts of engine-only: connect and probe, the rest)", "ref: its connect",
		float64(baseConnect.Microseconds())/1e3/n, "ref: its engine", float64((base-baseConnect).Microseconds())/1e3/n)
	table += fmt.Sprintf("\n%-18s %8.2f ms (engine.Scan of the project in memory, inside engine-only)", "ref: engine scan",
		float64(scanRef.Microseconds())/1e3/n)
	table += fmt.Sprintf("\n%-18s %8.2f ms (the engine alone over a session kept open; engine phase / this = %.2f)", "ref: engine warm",
		float64(warmBase.Microseconds())/1e3/n, float64(pt[deploy.PhEngine])/float64(warmBase))
	b.Log(table)
}
