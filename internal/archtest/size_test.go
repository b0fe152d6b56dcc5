package archtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// buildShipped builds b as it ships (static, -trimpath, stripped, its tags,
// linux/amd64) into dir and returns its size in bytes.
func buildShipped(tb testing.TB, dir string, b binary) int64 {
	tb.Helper()
	out := filepath.Join(dir, b.name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-tags", b.tags, "-o", out, module+"/"+b.pkg)
	cmd.Env = append(os.Environ(), shippedEnv...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build -tags %s %s: %v\n%s", b.tags, b.pkg, err, msg)
	}
	info, err := os.Stat(out)
	if err != nil {
		tb.Fatal(err)
	}
	return info.Size()
}

func mib(size int64) float64 { return float64(size) / (1 << 20) }

// TestBinarySizes holds each shipped binary to its absolute budget. The four
// builds run in parallel and share the build cache; on a cold cache they
// compile the dependency graph once more than go test does (-trimpath,
// CGO off, other tags), which is minutes on two cores, so -short skips them.
func TestBinarySizes(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: building the four shipped binaries takes minutes on a cold cache")
	}
	dir := t.TempDir()
	for _, b := range shipped {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			size := buildShipped(t, dir, b)
			t.Logf("%s (-tags %s): %.2f MiB, budget %d MiB", b.pkg, b.tags, mib(size), b.budget)
			if size > b.budget<<20 {
				t.Errorf("%s is %.2f MiB, over its budget of %d MiB by %.2f MiB: see which packages grew with\n"+
					"  CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -tags %s -o /tmp/%s ./%s && go tool nm -size -sort size /tmp/%s | head -50\n"+
					"and which modules were added in internal/archtest/testdata/modules/%s.txt (TestModules)",
					b.pkg, mib(size), b.budget, mib(size-b.budget<<20), b.tags, b.name, b.pkg, b.name, b.name)
			}
		})
	}
}

// BenchmarkBinarySizes builds the three function binaries and the CLI (which
// links every cloud) as they ship and reports their sizes, and each
// function's as a fraction of the CLI's. It fails when a binary is over its
// budget, like TestBinarySizes. (Before the build tags, 2026-12: aws 26.8 MiB,
// azure 26.6, gcp 44.2, CLI 59.1; with them 18.1, 20.2, 31.1, 32.3.)
func BenchmarkBinarySizes(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		sizes := map[string]float64{}
		for _, bin := range shipped {
			size := buildShipped(b, dir, bin)
			sizes[bin.name] = mib(size)
			if size > bin.budget<<20 {
				b.Errorf("%s is %.2f MiB, over its budget of %d MiB", bin.pkg, mib(size), bin.budget)
			}
		}
		all := sizes["pgmi"]
		b.ReportMetric(all, "MiB/pgmi-all-clouds")
		for _, fn := range []string{"aws", "gcp", "azure"} {
			b.ReportMetric(sizes[fn], "MiB/"+fn)
			b.ReportMetric(sizes[fn]/all, "x/pgmi-"+fn)
		}
	}
}
