package bundle

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

// benchProject makes n SQL-like files of about size bytes each, with enough
// variety that they compress like real data (about 4:1).
func benchProject(n, size int) fstest.MapFS {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"customer", "order", "invoice", "amount", "status", "created_at", "region", "product", "price", "quantity"}
	fsys := fstest.MapFS{DeployPath: {Data: []byte("SELECT 1;\n")}}
	for i := range n {
		var b bytes.Buffer
		for b.Len() < size {
			fmt.Fprintf(&b, "INSERT INTO %s (id, %s, %s) VALUES (%d, '%s-%x', %d.%02d);\n",
				words[rng.IntN(len(words))], words[rng.IntN(len(words))], words[rng.IntN(len(words))],
				rng.IntN(1_000_000), words[rng.IntN(len(words))], rng.Uint32(), rng.IntN(10_000), rng.IntN(100))
		}
		fsys[fmt.Sprintf("data/%02d/file_%05d.sql", i%50, i)] = &fstest.MapFile{Data: b.Bytes()}
	}
	return fsys
}

// peakHeap samples the live heap while fn runs and returns the peak above
// the heap in use before it started.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			var s runtime.MemStats
			runtime.ReadMemStats(&s)
			if s.HeapAlloc > base && s.HeapAlloc-base > peak.Load() {
				peak.Store(s.HeapAlloc - base)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return peak.Load()
}

// BenchmarkReadVerify verifies a signed bundle of 5,000 files (~100 MB
// uncompressed) in one pass, reading it from a file, and reports its
// throughput as a ratio to plain gzip decompression of the same file measured
// in the same run (target ≥ 0.8), and the peak heap of a separate, sampled run
// for a quarter-size and the full-size bundle: the heap holds the manifest
// (about 200 bytes per file) and fixed buffers, never file contents.
func BenchmarkReadVerify(b *testing.B) {
	k := newKey(b)
	trusted := k.allowed(b, "*")
	for _, files := range []int{1250, 5000} {
		b.Run(fmt.Sprintf("files=%d", files), func(b *testing.B) {
			data, m := pack(b, benchProject(files, 20_000), &PackOptions{Signer: k.signer})
			path := writeTemp(b, "bench.tgz", data)
			archiveMiB := float64(len(data)) / (1 << 20)
			data = nil
			total := m.TotalSize()
			opts := &ReadOptions{Trusted: trusted}
			verify := func() {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				if _, err := Verify(context.Background(), bufio.NewReaderSize(f, 256<<10), opts); err != nil {
					b.Fatal(err)
				}
			}
			plain := func() {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				gz, err := gzip.NewReader(bufio.NewReaderSize(f, 256<<10))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(discard{}, gz, make([]byte, 256<<10)); err != nil {
					b.Fatal(err)
				}
			}
			var verifyTime, gzipTime time.Duration
			b.SetBytes(total)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				plain()
				gzipTime += time.Since(start)
				start = time.Now()
				verify()
				verifyTime += time.Since(start)
			}
			b.StopTimer()
			peak := peakHeap(verify)
			b.ReportMetric(float64(gzipTime)/float64(verifyTime), "ratio-vs-gzip")
			b.ReportMetric(float64(total)*float64(b.N)/verifyTime.Seconds()/1e6, "verify-MB/s")
			b.ReportMetric(float64(total)*float64(b.N)/gzipTime.Seconds()/1e6, "gzip-MB/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(total)/(1<<20), "bundle-MiB")
			b.ReportMetric(archiveMiB, "archive-MiB")
		})
	}
}

// BenchmarkOpenEngineRead reads every file of the same bundle through the
// fs.FS the engine uses, in walk order (one pass).
func BenchmarkOpenEngineRead(b *testing.B) {
	k := newKey(b)
	data, m := pack(b, benchProject(5000, 20_000), &PackOptions{Signer: k.signer})
	opts := &ReadOptions{Trusted: k.allowed(b, "*")}
	b.SetBytes(m.TotalSize())
	b.ResetTimer()
	var peak uint64
	for range b.N {
		peak = max(peak, peakHeap(func() {
			bn, err := Open(context.Background(), bytesOpener(data, nil), opts)
			if err != nil {
				b.Fatal(err)
			}
			if err := readEverything(bn); err != nil {
				b.Fatal(err)
			}
			if bn.Passes() != 1 {
				b.Fatalf("%d passes", bn.Passes())
			}
			bn.Close()
		}))
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
