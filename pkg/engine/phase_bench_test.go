package engine_test

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// BenchmarkPhases runs a whole deployment of a generated project (n files of
// ~10 KB in 50 folders, writeBenchProject) phase by phase and reports each
// phase as a share of the whole, and against its floor measured in the same
// iteration:
//
//	scan     engine.Scan (walk, read, checksums, metadata)
//	         vs reading the same files plus one SHA-256 each   → scan-x-floor
//	load     internal schema + loading the files into the session
//	         vs a raw COPY of the same bytes on the same conn  → load-x-copy
//	setup    server check and lock before loading, parameters,
//	         API v1 and macro expansion after it
//	exec     deploy.sql (a walk over pgmi_plan_view reading every
//	         file's content) and the session's clean-up
//	connect  opening and closing the connection
//
// Shares are share-<phase> (fractions of scan+connect+DeployProject); the
// times are <phase>-ms/op. By default n = 500 so that `make bench` stays
// quick; n = 5000 runs too with -benchtime of at least 10s, or list the
// sizes in PGMI_BENCH_PHASE_FILES (e.g. PGMI_BENCH_PHASE_FILES=5000).
func BenchmarkPhases(b *testing.B) {
	for _, n := range phaseSizes() {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) { benchPhases(b, n) })
	}
}

func phaseSizes() []int {
	if env := os.Getenv("PGMI_BENCH_PHASE_FILES"); env != "" {
		var sizes []int
		for _, f := range strings.Split(env, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
				sizes = append(sizes, n)
			}
		}
		return sizes
	}
	sizes := []int{500}
	if f := flag.Lookup("test.benchtime"); f != nil {
		if d, err := time.ParseDuration(f.Value.String()); err == nil && d >= 10*time.Second {
			sizes = append(sizes, 5000)
		}
	}
	return sizes
}

// phaseDeploySQL reads every file of the plan, as a deploy.sql that runs
// the files would, without needing their tables.
const phaseDeploySQL = `DO $$
DECLARE r record; n bigint := 0;
BEGIN
  FOR r IN SELECT path, content FROM pg_temp.pgmi_plan_view ORDER BY execution_order LOOP
    n := n + octet_length(r.content);
  END LOOP;
  RAISE DEBUG 'read % bytes', n;
END $$;
`

func benchPhases(b *testing.B, n int) {
	testpg.Require(b, clusterErr)
	dir := writeBenchProject(b, n)
	if err := os.WriteFile(filepath.Join(dir, "deploy.sql"), []byte(phaseDeploySQL), 0o644); err != nil {
		b.Fatal(err)
	}
	fsys := os.DirFS(dir)
	db := cluster.NewDatabase(b)
	connString := cluster.ConnString(db)
	ctx := context.Background()

	var t phaseTimes
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := readAndHash(fsys); err != nil {
			b.Fatal(err)
		}
		t.scanFloor += time.Since(start)

		start = time.Now()
		project, err := engine.Scan(fsys, engine.ScanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		t.scan += time.Since(start)

		start = time.Now()
		conn, err := pgx.Connect(ctx, connString)
		if err != nil {
			b.Fatal(err)
		}
		t.connect += time.Since(start)

		b.StopTimer()
		if _, err := conn.Exec(ctx, "CREATE TEMP TABLE raw_copy (path text, content text)"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start = time.Now()
		if err := rawCopy(ctx, conn, fsys); err != nil {
			b.Fatal(err)
		}
		t.loadFloor += time.Since(start)
		b.StopTimer()
		if _, err := conn.Exec(ctx, "DROP TABLE raw_copy"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		marks := &progressMarks{}
		start = time.Now()
		res, err := engine.DeployProject(ctx, conn, project, engine.Options{Log: slog.New(marks)})
		end := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		if res.FilesLoaded != n {
			b.Fatalf("loaded %d files, want %d", res.FilesLoaded, n)
		}
		prep, loaded, exec := marks.at("Preparing session"), marks.at("Loaded "), marks.at("Executing deploy.sql")
		if prep.IsZero() || loaded.IsZero() || exec.IsZero() {
			b.Fatalf("progress lines missing: %v", marks.msgs)
		}
		t.setup += prep.Sub(start) + exec.Sub(loaded)
		t.load += loaded.Sub(prep)
		t.exec += end.Sub(exec)

		start = time.Now()
		if err := conn.Close(ctx); err != nil {
			b.Fatal(err)
		}
		t.connect += time.Since(start)
	}
	b.StopTimer()
	t.report(b)
}

type phaseTimes struct {
	scan, scanFloor, load, loadFloor, setup, exec, connect time.Duration
}

func (t *phaseTimes) report(b *testing.B) {
	total := float64(t.scan + t.load + t.setup + t.exec + t.connect)
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"scan", t.scan}, {"load", t.load}, {"setup", t.setup}, {"exec", t.exec}, {"connect", t.connect}} {
		b.ReportMetric(float64(p.d)/total, "share-"+p.name)
		b.ReportMetric(float64(p.d.Microseconds())/1e3/float64(b.N), p.name+"-ms/op")
	}
	b.ReportMetric(float64(t.scan)/float64(t.scanFloor), "scan-x-floor")
	b.ReportMetric(float64(t.load)/float64(t.loadFloor), "load-x-copy")
	b.ReportMetric(total/1e6/float64(b.N), "total-ms/op")
}

// readAndHash is the scan's floor: the same walk, every file read and
// hashed once.
func readAndHash(fsys fs.FS) error {
	return fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sha256.Sum256(data)
		return nil
	})
}

// progressMarks is a slog.Handler that notes when each progress line of a
// deployment arrives; the lines mark the phase boundaries.
type progressMarks struct {
	mu    sync.Mutex
	msgs  []string
	times []time.Time
}

func (m *progressMarks) Enabled(context.Context, slog.Level) bool { return true }

func (m *progressMarks) Handle(_ context.Context, r slog.Record) error {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, r.Message)
	m.times = append(m.times, now)
	return nil
}

func (m *progressMarks) WithAttrs([]slog.Attr) slog.Handler { return m }
func (m *progressMarks) WithGroup(string) slog.Handler      { return m }

// at is when the first line starting with prefix arrived (zero if none did).
func (m *progressMarks) at(prefix string) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, msg := range m.msgs {
		if strings.HasPrefix(msg, prefix) {
			return m.times[i]
		}
	}
	return time.Time{}
}
