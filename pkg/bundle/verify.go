package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
)

// Verified is the outcome of Verify.
type Verified struct {
	Manifest *Manifest
	Signer   *Signer // nil when accepted unsigned or unchecked
	// ArchiveSHA256 and ArchiveSize identify the exact archive bytes read
	// (for a deploy ledger).
	ArchiveSHA256 string
	ArchiveSize   int64
}

// Verify reads a whole tar.gz bundle from r in one pass and checks it
// completely: the signature over the manifest against opts, then every entry
// against the manifest in order (no extra entry, none missing, same sizes and
// digests), then that nothing follows the archive. It keeps only the
// manifest and a fixed-size buffer in memory. A zip bundle is verified when r
// is an io.ReaderAt with a size (such as an *os.File). Errors are *Error.
func Verify(ctx context.Context, r io.Reader, opts *ReadOptions) (*Verified, error) {
	o := *opts.orDefault()
	o.Limits.CacheSize = -1 // keep nothing
	src, ok := r.(io.ReadCloser)
	if !ok {
		src = io.NopCloser(r)
	}
	if ra, size, isZip := zipSource(src); isZip {
		b, err := readZip(ra, size, &o)
		if err != nil {
			return nil, err
		}
		return verifyZip(ctx, b, ra, size)
	}
	// The caller's reader is the caller's to close.
	v, t, err := verifyTar(ctx, io.NopCloser(r), nil, &o)
	if t != nil {
		t.close()
	}
	return v, err
}

// VerifyOpen verifies the bundle behind open completely, exactly as Verify
// does, and returns it opened for reading: the verification pass is also the
// first read. The tar.gz contents it verifies are kept, up to
// Limits.CacheSize, and served from memory, so a bundle within that size is
// inflated once; a file not kept is read again through open when asked for.
// A refused bundle returns no Bundle. Close the Bundle when done.
func VerifyOpen(ctx context.Context, open Opener, opts *ReadOptions) (*Verified, *Bundle, error) {
	opts = opts.orDefault()
	src, err := open(ctx)
	if err != nil {
		return nil, nil, err
	}
	if ra, size, ok := zipSource(src); ok {
		b, err := openZip(ctx, src, ra, size, opts)
		if err != nil {
			return nil, nil, err
		}
		v, err := verifyZip(ctx, b, ra, size)
		if err != nil {
			b.Close()
			return nil, nil, err
		}
		return v, b, nil
	}
	v, t, err := verifyTar(ctx, src, open, opts)
	if err != nil {
		if t != nil {
			t.close()
		}
		return nil, nil, err
	}
	// The pass is at its end: release the source now. A file the cache
	// did not take starts a new pass (tarContent.seek).
	t.close()
	return v, newBundle(t.manifest, t.signer, t), nil
}

// verifyTar reads a tar.gz bundle from src through a tarContent, reading
// every file through its verifier (which keeps what the cache takes), then
// checks the archive ends as it should. The tarContent is returned even on
// failure, for the caller to close.
func verifyTar(ctx context.Context, src io.ReadCloser, open Opener, opts *ReadOptions) (*Verified, *tarContent, error) {
	hc := &hashCounter{r: src, h: sha256.New()}
	t, err := openTar(ctx, struct {
		io.Reader
		io.Closer
	}{hc, src}, open, opts)
	if err != nil {
		return nil, nil, err
	}
	buf := make([]byte, 256<<10)
	for i := range t.manifest.Files {
		f, err := t.open(i)
		if err == nil {
			_, err = io.CopyBuffer(discard{}, f, buf)
		}
		if err != nil {
			return nil, t, err
		}
	}
	// Reading the last file read the header after it (no extra entry);
	// what remains is the end of the archive.
	t.mu.Lock()
	err = t.cur.checkEnd(t.lim.MaxTotalSize - t.manifest.TotalSize())
	t.mu.Unlock()
	if err != nil {
		return nil, t, err
	}
	return &Verified{Manifest: t.manifest, Signer: t.signer, ArchiveSHA256: hex.EncodeToString(hc.h.Sum(nil)), ArchiveSize: hc.n}, t, nil
}

type hashCounter struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (c *hashCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// verifyZip reads every file of an opened zip bundle through its verifier
// and hashes the archive.
func verifyZip(ctx context.Context, b *Bundle, ra io.ReaderAt, size int64) (*Verified, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(ra, 0, size)); err != nil {
		return nil, rejectErr(ErrCorrupt, "", err)
	}
	buf := make([]byte, 256<<10)
	for i := range b.manifest.Files {
		if err := ctxErr(ctx); err != nil {
			return nil, err
		}
		rc, err := b.content.open(i)
		if err != nil {
			return nil, err
		}
		_, err = io.CopyBuffer(discard{}, rc, buf)
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	return &Verified{Manifest: b.manifest, Signer: b.signer, ArchiveSHA256: hex.EncodeToString(h.Sum(nil)), ArchiveSize: size}, nil
}

// discard is io.Discard without ReadFrom, so io.CopyBuffer uses our buffer.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
