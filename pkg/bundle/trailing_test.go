package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
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

// A chain of empty PAX extended headers before an entry is refused once it
// passes MaxHeaderSize (16 KiB of headers per entry). The limit used to be
// checked only after archive/tar had read the whole chain, so the reader
// inflated all of it (bounded only by MaxRatio × the object size) before
// refusing, unlike the zeros after the archive
// (TestZerosAfterTheArchiveCountAgainstTheSizeLimit).
func TestPAXHeaderChainStopsAtTheHeaderLimit(t *testing.T) {
	k := newKey(t)
	deploy := regular(DeployPath, []byte("SELECT 1;\n"))
	var prefix bytes.Buffer
	tw := tar.NewWriter(&prefix)
	for _, e := range head(t, manifestFor(deploy), &k) {
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.body)
	}
	tw.Flush()
	const chain = 64 << 20 // bytes of PAX headers
	pax := rawHeader("PaxHeaders/deploy.sql", 0, tar.TypeXHeader)
	pr, pw := io.Pipe()
	var written atomic.Int64
	go func() {
		gz, _ := gzip.NewWriterLevel(pw, gzip.HuffmanOnly)
		_, err := gz.Write(prefix.Bytes())
		block := bytes.Repeat(pax, 128)
		for err == nil && written.Load() < chain {
			_, err = gz.Write(block)
			written.Add(int64(len(block)))
		}
		if err == nil {
			hdr := rawHeader(DeployPath, int64(len(deploy.body)), tar.TypeReg)
			gz.Write(hdr)
			gz.Write(deploy.body)
			gz.Write(make([]byte, 512-len(deploy.body)+1024))
			err = gz.Close()
		}
		pw.CloseWithError(err)
	}()
	_, err := Verify(context.Background(), pr, &ReadOptions{Trusted: k.allowed(t, "release@example.com")})
	pr.Close()
	wantRule(t, err, ErrHeaderTooLarge)
	if n := written.Load(); n > 4<<20 {
		t.Fatalf("the reader inflated %d bytes of headers for one entry before refusing (limit %d bytes)", n, DefaultLimits.MaxHeaderSize)
	}
}

// Verify checks that nothing follows the archive: bytes appended to a zip
// after its end-of-central-directory record (and comment) are refused with
// ErrTrailingData, as they are after a tar.gz bundle. They used to be
// accepted.
func TestZipTrailingDataRefused(t *testing.T) {
	k := newKey(t)
	data, _ := pack(t, testProject(), &PackOptions{Signer: k.signer})
	zipped := append(tarToZip(t, data, nil), []byte("trailing junk that is not part of the archive")...)
	p := writeTemp(t, "b.zip", zipped)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = Verify(context.Background(), f, &ReadOptions{Trusted: k.allowed(t, "*")})
	wantRule(t, err, ErrTrailingData)
}
