package deploy_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// BenchmarkFleet rolls one upload out to a fleet of 200 databases
// (PGMI_BENCH_FLEET_TARGETS) at concurrency 8 through a mem:// queue and
// a FleetWorker, and, in the same run, deploys the same bundle to the same
// databases without a fleet: 200 single-database events through the same
// pipeline at the same concurrency (the baseline). It reports targets per
// minute of each, and the control tables' cost per target: the extra
// worker time a target takes inside a rollout (recording it, closing its
// wave, publishing the next), (rollout wall − baseline wall) × concurrency
// ÷ targets. waves=1 is one wave of everything; waves=3 is [1,"10%","100%"],
// whose two wave boundaries also wait for each wave's slowest target.
func BenchmarkFleet(b *testing.B) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("PGMI_BENCH_FLEET_TARGETS")); err == nil && v > 0 {
		n = v
	}
	const concurrency = 8
	suffix := make([]byte, 4)
	rand.Read(suffix)
	dbs := make([]string, n)
	for i := range dbs {
		dbs[i] = fmt.Sprintf("bench_%s_%03d", hex.EncodeToString(suffix), i+1)
	}
	createDatabases(b, dbs)
	for _, waves := range []string{`["100%"]`, `[1,"10%","100%"]`} {
		name := "waves=1"
		if strings.Count(waves, ",") > 0 {
			name = "waves=3"
		}
		b.Run(name, func(b *testing.B) {
			list, _ := json.Marshal(dbs)
			var routes []string
			for _, db := range dbs {
				routes = append(routes, fmt.Sprintf(`{"prefix":"direct/%s/","database":"%s"}`, db, db))
			}
			routes = append(routes, fmt.Sprintf(`{"prefix":"tenants/","fleet":{"databases":%s,"waves":%s,"concurrency":%d}}`, list, waves, concurrency))
			// A topic of its own for every invocation: the testing package
			// runs this function again for the sized run, and closing a
			// Deployer shuts its mem:// topic, which gocloud shares by name.
			ff := &fleetFixture{topic: fmt.Sprintf("mem://bench-%s-%s-%d", hex.EncodeToString(suffix), name, time.Now().UnixNano())}
			ff.fixture = newFixtureTB(b, func(e env) {
				e["PGMI_ROUTES"] = "[" + strings.Join(routes, ",") + "]"
				e["PGMI_FLEET_TOPIC"] = ff.topic
			})
			ff.serveTB(b)
			var fleetWall, directWall time.Duration
			b.ResetTimer()
			for i := range b.N {
				sql := fmt.Sprintf("CREATE TABLE IF NOT EXISTS bench_fleet (n int); INSERT INTO bench_fleet VALUES (%d);", i)
				data := ff.signed(sql)
				// Baseline: every database its own event, 8 at a time.
				start := time.Now()
				sem := make(chan struct{}, concurrency)
				var wg sync.WaitGroup
				for _, db := range dbs {
					req := ff.put(fmt.Sprintf("direct/%s/%d-%d.tgz", db, i, time.Now().UnixNano()), data, "")
					sem <- struct{}{}
					wg.Add(1)
					go func() {
						defer func() { <-sem; wg.Done() }()
						if o := ff.d.Run(context.Background(), req); o.Status != deploy.StatusDeployed {
							b.Errorf("direct deploy to %s: %s %v", db, o.Status, o.Err)
						}
					}()
				}
				wg.Wait()
				directWall += time.Since(start)
				// The rollout: one upload.
				start = time.Now()
				o := ff.d.Run(context.Background(), ff.put(fmt.Sprintf("tenants/%d-%d.tgz", i, time.Now().UnixNano()), data, ""))
				if o.Status != deploy.StatusStarted {
					b.Fatalf("upload: %s %v", o.Status, o.Err)
				}
				// A rollout that stops moving (a target given up after
				// MaxDeliveries retryable failures waits for a resume) fails
				// the benchmark with its state instead of hanging it.
				progress, moved := -1, time.Now()
				for {
					rep := ff.rolloutNowTB(b, o)
					if rep.Done() {
						if rep.Status != "complete" || rep.Deployed != n {
							b.Fatalf("rollout %s: %d of %d deployed", rep.Status, rep.Deployed, n)
						}
						break
					}
					if done := rep.Deployed + rep.Failed; done != progress {
						progress, moved = done, time.Now()
					} else if time.Since(moved) > time.Minute {
						stuck, _ := json.MarshalIndent(rep, "", "  ")
						b.Fatalf("the rollout has not moved for a minute:\n%s", stuck)
					}
					time.Sleep(5 * time.Millisecond)
				}
				fleetWall += time.Since(start)
			}
			b.StopTimer()
			per := func(d time.Duration) float64 { return float64(n*b.N) / d.Minutes() }
			b.ReportMetric(per(fleetWall), "targets/min")
			b.ReportMetric(per(directWall), "targets/min-direct")
			b.ReportMetric(float64(fleetWall)/float64(directWall), "x/direct")
			b.ReportMetric(float64((fleetWall-directWall)*concurrency)/float64(n*b.N)/1e6, "ms-control/target")
		})
	}
}

// createDatabases creates the databases four at a time (a file copy of the
// template: fsync is off in the test cluster) and drops them at the end.
func createDatabases(b *testing.B, dbs []string) {
	ctx := context.Background()
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, db := range dbs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			conn, err := pgx.Connect(ctx, pg.ConnString("postgres"))
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()+" STRATEGY = FILE_COPY"); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	b.Cleanup(func() {
		conn, err := pgx.Connect(ctx, pg.ConnString("postgres"))
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		for _, db := range dbs {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
		}
	})
}
