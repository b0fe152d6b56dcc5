package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"sync/atomic"
	"testing"
)

// signedTar is the uncompressed tar of a small signed bundle.
func signedTar(t *testing.T, k *testKey) []byte {
	t.Helper()
	deploy := regular(DeployPath, []byte("SELECT 1;\n"))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range append(head(t, manifestFor(deploy), k), deploy) {
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zeroTail streams tarBytes followed by zeros zero bytes through gzip (in
// the same member) into the returned reader, as a producer would upload
// it. written counts the zeros handed to gzip so far; the producer stops
// when the reader is closed.
func zeroTail(tarBytes []byte, zeros int64, level int) (io.ReadCloser, *atomic.Int64) {
	pr, pw := io.Pipe()
	var written atomic.Int64
	go func() {
		gz, _ := gzip.NewWriterLevel(pw, level)
		_, err := gz.Write(tarBytes)
		chunk := make([]byte, 64<<10)
		for err == nil && written.Load() < zeros {
			n := int(min(int64(len(chunk)), zeros-written.Load()))
			_, err = gz.Write(chunk[:n])
			written.Add(int64(n))
		}
		if err == nil {
			err = gz.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, &written
}

// A signed bundle followed by gigabytes of gzip'd zeros at a modest ratio
// (the attack: 2 GiB in 27 MB, 79:1) is refused at the size limit: the
// zeros after the tar end count against MaxTotalSize, and the reader stops
// there instead of inflating them all. Scaled down: a 2 MiB limit, 32 times
// that in zeros, compressed Huffman-only (about 8:1, under MaxRatio).
func TestZerosAfterTheArchiveCountAgainstTheSizeLimit(t *testing.T) {
	k := newKey(t)
	tarBytes := signedTar(t, &k)
	const limit = 2 << 20
	opts := &ReadOptions{Trusted: k.allowed(t, "release@example.com"), Limits: Limits{MaxTotalSize: limit}}
	src, written := zeroTail(tarBytes, 32*limit, gzip.HuffmanOnly)
	_, err := Verify(context.Background(), src, opts)
	src.Close()
	wantRule(t, err, ErrTooLarge)
	// What the reader pulled: the limit, plus its read-ahead (4 × 256 KiB
	// inflated, 64 KiB compressed) and gzip's buffers.
	if n := written.Load(); n > limit+3<<20 {
		t.Fatalf("the producer got %d bytes of zeros into the reader before it refused; it should stop near the %d-byte limit", n, limit)
	}
}

// Ordinary padding after the end marker (a tar record, 10 KiB) is fine.
func TestRecordPaddingAfterTheArchiveAccepted(t *testing.T) {
	k := newKey(t)
	src, _ := zeroTail(signedTar(t, &k), 10<<10, gzip.DefaultCompression)
	defer src.Close()
	if _, err := Verify(context.Background(), src, &ReadOptions{Trusted: k.allowed(t, "release@example.com")}); err != nil {
		t.Fatal(err)
	}
}
