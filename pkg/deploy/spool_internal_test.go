package deploy

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// The spool reads an object into a buffer sized from its listing, and
// still returns exactly the bytes the object has when the listing was
// wrong either way, stopping one byte past SpoolLimit.
func TestReadSpoolKeepsExactlyTheObject(t *testing.T) {
	data := bytes.Repeat([]byte("pgmi"), 3000)
	for _, listed := range []int64{0, 1, 11999, 12000, 12001, 50000} {
		got, err := readSpool(iotest.OneByteReader(bytes.NewReader(data)), listed)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("listed %d: %d bytes, %v", listed, len(got), err)
		}
	}
	big := io.MultiReader(bytes.NewReader(data), bytes.NewReader(make([]byte, SpoolLimit)))
	got, err := readSpool(big, int64(len(data)))
	if err != nil || len(got) != SpoolLimit+1 {
		t.Fatalf("over the limit: %d bytes, %v (want %d)", len(got), err, SpoolLimit+1)
	}
	boom := errors.New("connection reset")
	if _, err := readSpool(iotest.ErrReader(boom), 10); !errors.Is(err, boom) {
		t.Fatalf("read error: %v", err)
	}
}
