package bundle

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/fstest"
)

// seedProject holds a 7.8 MB seed of repeated INSERTs: it compresses far
// beyond 200:1.
func seedProject() fstest.MapFS {
	seed := strings.Repeat("INSERT INTO seed (id, name) VALUES (1, 'same row again');\n", 7_800_000/58)
	return fstest.MapFS{
		"deploy.sql": {Data: []byte("\\i seed.sql\n")},
		"seed.sql":   {Data: []byte(seed)},
	}
}

// Pack refuses what a reader with the same limits refuses: a bundle over
// the compression ratio is not written "fine" to be refused by every
// deploy.
func TestPackRefusesWhatTheReaderRefuses(t *testing.T) {
	var buf bytes.Buffer
	_, err := Pack(context.Background(), seedProject(), &buf, nil)
	wantRule(t, err, ErrRatio)

	// The same limit raised on both sides: packed and read.
	lim := Limits{MaxRatio: 5000}
	buf.Reset()
	if _, err := Pack(context.Background(), seedProject(), &buf, &PackOptions{Limits: lim}); err != nil {
		t.Fatalf("Pack with MaxRatio 5000: %v", err)
	}
	if _, err := Verify(context.Background(), bytes.NewReader(buf.Bytes()), &ReadOptions{AllowUnsigned: true, Limits: lim}); err != nil {
		t.Fatalf("Verify with the limits it was packed with: %v", err)
	}
	if _, err := Verify(context.Background(), bytes.NewReader(buf.Bytes()), &ReadOptions{AllowUnsigned: true}); err == nil {
		t.Fatal("the default reader accepted a bundle over its ratio")
	}
}

// The manifest's own size limit holds for Pack too.
func TestPackRefusesAnOversizeManifest(t *testing.T) {
	var buf bytes.Buffer
	_, err := Pack(context.Background(), testProject(), &buf, &PackOptions{Limits: Limits{MaxManifestSize: 200}})
	wantRule(t, err, ErrManifestTooBig)
}
