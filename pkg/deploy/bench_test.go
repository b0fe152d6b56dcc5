package deploy_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// project1MB is a project whose bundle is about 1 MiB: deploy.sql and sixteen 128 KiB (hex)
// data files of incompressible text, loaded into the session by the engine.
func project1MB(b *testing.B) map[string]string {
	files := testbundle.Project("CREATE TABLE IF NOT EXISTS bench_runs (n int); INSERT INTO bench_runs VALUES (1);")
	for i := range 16 {
		raw := make([]byte, 64<<10)
		if _, err := rand.Read(raw); err != nil {
			b.Fatal(err)
		}
		files[fmt.Sprintf("data/blob_%02d.txt", i)] = hex.EncodeToString(raw)
	}
	return files
}

// BenchmarkPipeline1MB measures one upload event through the whole pipeline
// (fetch from a folder bucket, verify, scan, connect, lock, ledger, engine,
// ledger, result object) for a 1 MiB bundle, against the baseline of the
// engine alone deploying the same project over an open connection in the
// same run. Each iteration deploys a new object, so none is a duplicate.
func BenchmarkPipeline1MB(b *testing.B) {
	testpg.Require(b, pgErr)
	files := project1MB(b)
	f := newBenchFixture(b)
	data := testbundle.Pack(b, f.key, "bench", files)

	fsys := fstest.MapFS{}
	for p, d := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(d), Mode: 0o644}
	}
	conn := pg.Connect(b, f.db)
	var base, full time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := engine.Deploy(context.Background(), conn, fsys, engine.Options{}); err != nil {
			b.Fatal(err)
		}
		base += time.Since(start)

		req := f.put(fmt.Sprintf("bench/%d-%d.tgz", time.Now().UnixNano(), i), data, "")
		start = time.Now()
		o := f.d.Run(context.Background(), req)
		full += time.Since(start)
		if o.Status != deploy.StatusDeployed {
			b.Fatalf("outcome %s: %v", o.Status, o.Err)
		}
	}
	b.ReportMetric(float64(full.Milliseconds())/float64(b.N), "ms/event")
	b.ReportMetric(float64(base.Milliseconds())/float64(b.N), "ms/engine-only")
	b.ReportMetric(float64(full)/float64(base), "x/engine-only")
	b.ReportMetric(float64(len(data))/(1<<20), "MiB/bundle")
}
