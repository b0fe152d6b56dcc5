package archtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkBinarySizes builds the three function binaries and the CLI (which
// links every cloud) as they ship (-trimpath, stripped, static) and reports
// their sizes. A function binary that is not under 0.8 × the CLI links more
// than its own cloud; the benchmark fails then. (Google's function is the
// largest, ~0.75 × on 2026-11: cloud.google.com/go/storage, under gcsblob,
// links gRPC with xDS, envoy and S2A, which is also most of the CLI.)
func BenchmarkBinarySizes(b *testing.B) {
	dir := b.TempDir()
	build := func(name, pkg string, tags ...string) float64 {
		out := filepath.Join(dir, name)
		args := []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", out}
		if len(tags) > 0 {
			args = append(args, "-tags", tags[0])
		}
		cmd := exec.Command("go", append(args, module+"/"+pkg)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, msg)
		}
		info, err := os.Stat(out)
		if err != nil {
			b.Fatal(err)
		}
		return float64(info.Size()) / (1 << 20)
	}
	for i := 0; i < b.N; i++ {
		all := build("pgmi", "cmd/pgmi")
		b.ReportMetric(all, "MiB/pgmi-all-clouds")
		for _, fn := range []struct{ name, pkg, tag string }{
			{"aws", "functions/aws", "lambda.norpc"},
			{"gcp", "functions/gcp", ""},
			{"azure", "functions/azure", ""},
		} {
			var size float64
			if fn.tag != "" {
				size = build(fn.name, fn.pkg, fn.tag)
			} else {
				size = build(fn.name, fn.pkg)
			}
			b.ReportMetric(size, "MiB/"+fn.name)
			b.ReportMetric(size/all, "x/pgmi-"+fn.name)
			if size > 0.8*all {
				b.Errorf("%s is %.1f MiB, %.0f%% of the all-clouds CLI (%.1f MiB): it links more than its own cloud", fn.pkg, size, 100*size/all, all)
			}
		}
	}
}
