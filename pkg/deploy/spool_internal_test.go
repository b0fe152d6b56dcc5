package deploy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func readAll(t *testing.T, open func(context.Context) (io.ReadCloser, error)) ([]byte, error) {
	t.Helper()
	rc, err := open(context.Background())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// The spool hands the download to its first reader and keeps what passes;
// a later open gets exactly the object, downloading what the first reader
// left, whether the listing was right or wrong either way.
func TestSpoolKeepsExactlyTheObject(t *testing.T) {
	data := bytes.Repeat([]byte("pgmi"), 3000)
	noReopen := func(context.Context) (io.ReadCloser, error) { return nil, errors.New("downloaded again") }
	for _, listed := range []int64{0, 1, 11999, 12000, 12001, 50000} {
		for _, firstReads := range []int{0, 1, 5000, len(data)} {
			s := newTeeSpool(io.NopCloser(iotest.OneByteReader(bytes.NewReader(data))), listed, 1<<20, noReopen)
			first, _ := s.open(context.Background())
			head := make([]byte, firstReads)
			if _, err := io.ReadFull(first, head); err != nil || !bytes.Equal(head, data[:firstReads]) {
				t.Fatalf("listed %d: first reader: %v", listed, err)
			}
			first.Close()
			for range 2 {
				if got, err := readAll(t, s.open); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("listed %d, first read %d: later open gives %d bytes, %v", listed, firstReads, len(got), err)
				}
			}
			if all, ok := s.all(); !ok || !bytes.Equal(all, data) {
				t.Fatalf("listed %d: all gives %d bytes, %v", listed, len(all), ok)
			}
			s.close()
		}
	}
}

// An object longer than the limit streams through the first reader but
// is not held: later opens download it again.
func TestSpoolOverTheLimitDownloadsAgain(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 5000)
	reopened := 0
	reopen := func(context.Context) (io.ReadCloser, error) {
		reopened++
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	s := newTeeSpool(io.NopCloser(bytes.NewReader(data)), 100, 4096, reopen)
	if got, err := readAll(t, s.open); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("first reader: %d bytes, %v", len(got), err)
	}
	if got, err := readAll(t, s.open); err != nil || !bytes.Equal(got, data) || reopened != 1 {
		t.Fatalf("later open: %d bytes, %v, reopened %d times", len(got), err, reopened)
	}
	if _, ok := s.all(); ok {
		t.Fatal("all holds an object over the limit")
	}
}

// A download that fails fails the reader that meets it, and every later
// open, with the download's error.
func TestSpoolDownloadError(t *testing.T) {
	boom := errors.New("connection reset")
	s := newTeeSpool(io.NopCloser(io.MultiReader(bytes.NewReader([]byte("abc")), iotest.ErrReader(boom))), 10, 1<<20, nil)
	if _, err := readAll(t, s.open); !errors.Is(err, boom) {
		t.Fatalf("first reader: %v", err)
	}
	if _, err := s.open(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("later open: %v", err)
	}
	s2 := newTeeSpool(io.NopCloser(io.MultiReader(bytes.NewReader([]byte("abc")), iotest.ErrReader(boom))), 10, 1<<20, nil)
	first, _ := s2.open(context.Background())
	first.Close() // refused before reading: the later open meets the error
	if _, err := s2.open(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("later open after an unread first reader: %v", err)
	}
	if _, ok := s2.all(); ok {
		t.Fatal("all holds a failed download")
	}
}
