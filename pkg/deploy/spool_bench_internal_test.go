package deploy

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/pkg/bundle"
)

// throttled serves data in 64 KiB reads at rate bytes per second, like a
// download from an object store (one S3 GET stream often gives 50–100
// MB/s, plus the time to its first byte).
// Each read returns when the bytes so far are due, so the sleeps'
// overshoot does not add up.
type throttled struct {
	r     io.Reader
	rate  float64
	start time.Time
	n     int
}

func (t *throttled) Read(p []byte) (int, error) {
	if t.start.IsZero() {
		t.start = time.Now()
	}
	n, err := t.r.Read(p[:min(len(p), 64<<10)])
	t.n += n
	time.Sleep(time.Until(t.start.Add(time.Duration(float64(t.n) / t.rate * float64(time.Second)))))
	return n, err
}

// BenchmarkSpoolSlowDownload verifies a 1 MiB bundle (2 MiB inflated)
// arriving at 50 MB/s, downloaded first and then verified (the spool
// before teeSpool) against verified while it downloads (teeSpool), in the
// same run. x/download-first is the share of the old time left.
func BenchmarkSpoolSlowDownload(b *testing.B) {
	key := testbundle.NewKey(b)
	files := testbundle.Project1MB(b, "SELECT 1;")
	data := testbundle.Pack(b, key, "bench", files)
	trusted, err := bundle.ParseAllowedSigners([]byte(key.AllowedSigners))
	if err != nil {
		b.Fatal(err)
	}
	opts := &bundle.ReadOptions{Trusted: trusted}
	ctx := context.Background()
	download := func() io.ReadCloser { return io.NopCloser(&throttled{r: bytes.NewReader(data), rate: 50e6}) }
	verify := func(open bundle.Opener) {
		_, bd, err := bundle.VerifyOpen(ctx, open, opts)
		if err != nil {
			b.Fatal(err)
		}
		bd.Close()
	}
	var first, tee time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		all, err := io.ReadAll(download())
		if err != nil {
			b.Fatal(err)
		}
		verify(func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(all)), nil })
		first += time.Since(start)

		start = time.Now()
		s := newTeeSpool(download(), int64(len(data)), SpoolLimit, nil)
		verify(s.open)
		s.close()
		tee += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(float64(first.Microseconds())/1e3/n, "ms/download-first")
	b.ReportMetric(float64(tee.Microseconds())/1e3/n, "ms/while-downloading")
	b.ReportMetric(float64(tee)/float64(first), "x/download-first")
}
