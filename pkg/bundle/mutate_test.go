package bundle

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"testing"
	"time"
)

// TestMutatedArchives feeds randomly damaged bundles to both readers and
// fails on a hang (with a goroutine dump) or a panic.
func TestMutatedArchives(t *testing.T) {
	data, _ := pack(t, testProject(), &PackOptions{Created: fixedTime})
	opts := &ReadOptions{AllowUnsigned: true, Limits: Limits{MaxTotalSize: 8 << 20, MaxFileSize: 1 << 20}}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		in := append([]byte(nil), data...)
		for j := 0; j < 1+rng.IntN(3); j++ {
			k := rng.IntN(len(in))
			switch rng.IntN(3) {
			case 0:
				in[k] = byte(rng.IntN(256))
			case 1:
				in = append(in[:k], in[k+1:]...)
			case 2:
				in = append(in[:k], append([]byte{byte(rng.IntN(256))}, in[k:]...)...)
			}
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Verify(context.Background(), bytes.NewReader(in), opts)
			b, err := Open(context.Background(), bytesOpener(in, nil), opts)
			if err == nil {
				readEverything(b)
				b.Close()
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
			t.Fatalf("hang on input %d", i)
		}
	}
}
