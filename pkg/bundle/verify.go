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
	opts = opts.orDefault()
	if rc, ok := r.(io.ReadCloser); ok {
		if ra, size, isZip := zipSource(rc); isZip {
			return verifyZip(ctx, ra, size, opts)
		}
	}
	h := sha256.New()
	cr := &hashCounter{r: r, h: h}
	s, err := newStream(io.NopCloser(cr), opts.Limits.withDefaults())
	if err != nil {
		return nil, err
	}
	defer s.Close()
	man, sig, hdr, err := s.head()
	if err != nil {
		return nil, err
	}
	m, signer, err := opts.trust(man, sig)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 256<<10)
	for i, f := range m.Files {
		if err := ctxErr(ctx); err != nil {
			return nil, err
		}
		if hdr == nil {
			return nil, reject(ErrMissingEntry, f.Path, "")
		}
		if err := entryMatches(hdr, m.Files, i); err != nil {
			return nil, err
		}
		if _, err := io.CopyBuffer(discard{}, newVerifier(s.tr, f), buf); err != nil {
			return nil, err
		}
		if hdr, err = s.next(); err == io.EOF {
			hdr = nil
		} else if err != nil {
			return nil, err
		}
	}
	if hdr != nil {
		if n := len(m.Files); hdr.Name == ManifestPath || hdr.Name == SignaturePath || hdr.Name == m.Files[n-1].Path {
			return nil, reject(ErrDuplicate, hdr.Name, "")
		}
		return nil, reject(ErrExtraEntry, hdr.Name, "")
	}
	if err := s.checkEnd(s.lim.MaxTotalSize - m.TotalSize()); err != nil {
		return nil, err
	}
	return &Verified{Manifest: m, Signer: signer, ArchiveSHA256: hex.EncodeToString(h.Sum(nil)), ArchiveSize: cr.n}, nil
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

func verifyZip(ctx context.Context, ra io.ReaderAt, size int64, opts *ReadOptions) (*Verified, error) {
	b, err := readZip(ra, size, opts)
	if err != nil {
		return nil, err
	}
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
