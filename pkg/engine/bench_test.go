package engine_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// BenchmarkSessionPrepare loads a project of n files of ~10 KB in 50 folders
// into a session and reports the time against a raw COPY of the same bytes
// into a plain temp table on the same connection, measured in the same run
// (target ≤ 1.5×), and the peak heap (target < 2 × largest file + 32 MiB,
// independent of the project's size).
func BenchmarkSessionPrepare(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) { benchPrepare(b, n) })
	}
}

func benchPrepare(b *testing.B, n int) {
	testpg.Require(b, clusterErr)
	dir := writeBenchProject(b, n)
	fsys := os.DirFS(dir)
	project, err := engine.Scan(fsys, engine.ScanOptions{})
	if err != nil {
		b.Fatal(err)
	}
	db := cluster.NewDatabase(b)
	conn := cluster.Connect(b, db)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE TEMP TABLE raw_copy (path text, content text)"); err != nil {
		b.Fatal(err)
	}
	var ours, raw time.Duration
	peak := &heapPeak{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := rawCopy(ctx, conn, fsys); err != nil {
			b.Fatal(err)
		}
		raw += time.Since(start)

		runtime.GC()
		stop := peak.watch()
		start = time.Now()
		if _, err := engine.DeployProject(ctx, conn, project, engine.Options{}); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
		stop()
	}
	b.StopTimer()
	b.ReportMetric(float64(ours)/float64(raw), "x-raw-copy")
	b.ReportMetric(float64(raw.Milliseconds())/float64(b.N), "raw-ms/op")
	b.ReportMetric(float64(peak.max.Load())/(1<<20), "peak-heap-MiB")
}

// rawCopy is the physical baseline: the same files, streamed from the same
// fs.FS, COPYed as (path, content) rows in text format, one round trip.
func rawCopy(ctx context.Context, conn *pgx.Conn, fsys fs.FS) error {
	if _, err := conn.Exec(ctx, "TRUNCATE raw_copy"); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			_, err = io.WriteString(pw, name+"\t"+copyEscape(string(data))+"\n")
			return err
		}))
	}()
	_, err := conn.PgConn().CopyFrom(ctx, pr, "COPY raw_copy (path, content) FROM STDIN")
	return err
}

var copyEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`)

func copyEscape(s string) string { return copyEscaper.Replace(s) }

// heapPeak samples the live heap while a run is in progress.
type heapPeak struct{ max atomic.Uint64 }

func (h *heapPeak) watch() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			for cur := h.max.Load(); ms.HeapAlloc > cur && !h.max.CompareAndSwap(cur, ms.HeapAlloc); cur = h.max.Load() {
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// writeBenchProject writes n SQL files of ~10 KB spread over 50 folders.
func writeBenchProject(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	if err := os.WriteFile(filepath.Join(dir, "deploy.sql"), []byte("SELECT 1;\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		folder := filepath.Join(dir, fmt.Sprintf("schema_%02d", i%50))
		if err := os.MkdirAll(folder, 0o755); err != nil {
			b.Fatal(err)
		}
		var sb strings.Builder
		for sb.Len() < 10_000 {
			fmt.Fprintf(&sb, "INSERT INTO t%d (id, note) VALUES (%d, 'row\t%x');\n-- comment %d\n", i, rng.IntN(1e6), rng.Uint64(), i)
		}
		if err := os.WriteFile(filepath.Join(folder, fmt.Sprintf("file_%05d.sql", i)), []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}
