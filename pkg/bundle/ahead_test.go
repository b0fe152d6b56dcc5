package bundle

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// The ahead reader delivers exactly its source, in order, whether it stays
// on the caller's goroutine (up to aheadAfter bytes) or hands the rest to
// its producer, and whatever sizes the reader asks for.
func TestAheadReaderDeliversTheSource(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{0, 1, aheadAfter - 1, aheadAfter, aheadAfter + 1, aheadAfter + 3*aheadChunkSize + 17} {
		src := make([]byte, size)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		a := newAheadReader(iotest.HalfReader(bytes.NewReader(src)))
		var got bytes.Buffer
		buf := make([]byte, 100_000)
		for {
			n, err := a.Read(buf[:1+rng.IntN(len(buf))])
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
		}
		a.Close()
		if !bytes.Equal(got.Bytes(), src) {
			t.Fatalf("size %d: got %d bytes, not the source", size, got.Len())
		}
		if a.n != int64(size) {
			t.Errorf("size %d: counted %d bytes delivered", size, a.n)
		}
		if want := size >= aheadAfter; a.started != want { // at exactly aheadAfter, the read that finds the end starts it
			t.Errorf("size %d: read ahead = %v, want %v", size, a.started, want)
		}
	}
}

// A source error reaches the reader after the bytes before it, and stays.
func TestAheadReaderKeepsTheSourceError(t *testing.T) {
	broken := errors.New("broken off")
	for _, at := range []int{10, aheadAfter + 10} {
		a := newAheadReader(io.MultiReader(bytes.NewReader(make([]byte, at)), iotest.ErrReader(broken)))
		n, err := io.Copy(io.Discard, a)
		if n != int64(at) || !errors.Is(err, broken) {
			t.Fatalf("at %d: read %d bytes, then %v; want %d, then %v", at, n, err, at, broken)
		}
		if _, err := a.Read(make([]byte, 1)); !errors.Is(err, broken) {
			t.Errorf("at %d: the next read: %v, want %v again", at, err, broken)
		}
		a.Close()
	}
}
