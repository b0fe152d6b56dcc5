package bundle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	// Inflates literal-heavy data (hex, base64, anything already
	// compressed) about 1.4× faster than compress/gzip.
	"github.com/klauspost/compress/gzip"
)

// stream is one forward pass over a gzip-compressed tar bundle, enforcing
// the limits that do not depend on the manifest: compression ratio, header
// size, entry types and names.
type stream struct {
	src    io.ReadCloser
	in     *counter // compressed bytes read from the source
	br     *bufio.Reader
	out    *counter // uncompressed bytes read from gzip (producer side)
	ahead  *aheadReader
	budget *budgetReader // what the tar reader may read while it looks for a header
	gz     *gzip.Reader
	tr     *tar.Reader
	lim    Limits
	remain int64 // padding owed by the previous entry, for header accounting
}

// counter counts bytes through a reader and enforces the compression ratio
// when ratio is set (on the uncompressed side).
type counter struct {
	r     io.Reader
	n     int64
	ratio int64
	other *counter
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.ratio > 0 && c.n > ratioGrace && c.n/c.ratio > c.other.n {
		return n, reject(ErrRatio, "", "%d bytes from %d compressed, limit %d:1", c.n, c.other.n, c.ratio)
	}
	return n, err
}

func newStream(src io.ReadCloser, lim Limits) (*stream, error) {
	in := &counter{r: src}
	br := bufio.NewReaderSize(in, 64<<10)
	if magic, err := br.Peek(2); err != nil || magic[0] != 0x1f || magic[1] != 0x8b {
		src.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, corrupt("", err)
		}
		return nil, reject(ErrNotBundle, "", "no gzip header")
	}
	gz, err := gzip.NewReader(br)
	if err != nil {
		src.Close()
		return nil, corrupt("", err)
	}
	gz.Multistream(false)
	out := &counter{r: gz, ratio: lim.MaxRatio, other: in}
	ahead := newAheadReader(out)
	budget := &budgetReader{r: ahead}
	return &stream{src: src, in: in, br: br, out: out, ahead: ahead, budget: budget, gz: gz, tr: tar.NewReader(budget), lim: lim}, nil
}

func (s *stream) Close() error {
	s.ahead.Close()
	return s.src.Close()
}

// next reads the next entry header and checks everything a header alone
// can break. It returns io.EOF at the end of the archive.
func (s *stream) next() (*tar.Header, error) {
	start := s.ahead.n + s.remain
	// archive/tar reads a whole chain of PAX or GNU long-name headers in one
	// Next: the budget stops it past MaxHeaderSize, not after the chain.
	s.budget.limit(s.remain, s.lim.MaxHeaderSize)
	hdr, err := s.tr.Next()
	s.budget.off()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, corrupt("", err)
	}
	if size := s.ahead.n - start; size > s.lim.MaxHeaderSize {
		return nil, reject(ErrHeaderTooLarge, hdr.Name, "%d bytes, limit %d", size, s.lim.MaxHeaderSize)
	}
	s.remain = (512 - hdr.Size%512) % 512
	if err := checkHeader(hdr, s.lim); err != nil {
		return nil, err
	}
	return hdr, nil
}

// budgetReader passes reads through, refusing (ErrHeaderTooLarge) to read
// more than its limit while one is set.
type budgetReader struct {
	r       io.Reader
	on      bool
	left    int64
	maxSize int64
}

// limit allows the padding owed by the previous entry and maxSize bytes
// of headers.
func (b *budgetReader) limit(padding, maxSize int64) {
	b.on, b.left, b.maxSize = true, maxSize, maxSize
	if maxSize < unlimited-padding {
		b.left += padding
	}
}

func (b *budgetReader) off() { b.on = false }

func (b *budgetReader) Read(p []byte) (int, error) {
	if !b.on {
		return b.r.Read(p)
	}
	if b.left <= 0 {
		return 0, reject(ErrHeaderTooLarge, "", "over %d bytes of headers before an entry", b.maxSize)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// corrupt classifies a read error: limit violations, context errors and
// the source's own failures (a download that broke off is a *FetchError,
// worth retrying) pass through; anything else is a corrupt or truncated
// archive.
func corrupt(entry string, err error) error {
	var be *Error
	var fe *FetchError
	if errors.As(err, &be) || errors.As(err, &fe) || isCanceled(err) || isDeadline(err) {
		return err
	}
	return rejectErr(ErrCorrupt, entry, err)
}

func checkHeader(hdr *tar.Header, lim Limits) error {
	name := hdr.Name
	switch hdr.Typeflag {
	case tar.TypeReg:
	case tar.TypeDir:
		name = strings.TrimSuffix(name, "/")
	case tar.TypeSymlink, tar.TypeLink:
		return reject(ErrLink, hdr.Name, "link to %q", hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return reject(ErrDevice, hdr.Name, "")
	default:
		return reject(ErrEntryType, hdr.Name, "tar type %q", hdr.Typeflag)
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse") || k == "linkpath" {
			return reject(ErrHeaderField, hdr.Name, "PAX record %q", k)
		}
	}
	if hdr.Size < 0 || (hdr.Typeflag == tar.TypeDir && hdr.Size != 0) {
		return reject(ErrCorrupt, hdr.Name, "bad size %d", hdr.Size)
	}
	if name == ManifestPath || name == SignaturePath {
		return nil
	}
	if strings.HasPrefix(name, ".pgmi/") || name == ".pgmi" {
		if hdr.Typeflag == tar.TypeDir && name == ".pgmi" {
			return nil
		}
		return reject(ErrReservedPath, hdr.Name, "")
	}
	return checkPath(name, lim)
}

// readSmall reads a whole entry of at most max bytes.
func (s *stream) readSmall(hdr *tar.Header, max int64, tooBig error) ([]byte, error) {
	if hdr.Typeflag != tar.TypeReg {
		return nil, reject(ErrEntryType, hdr.Name, "")
	}
	if hdr.Size > max {
		return nil, reject(tooBig, hdr.Name, "%d bytes, limit %d", hdr.Size, max)
	}
	data := make([]byte, hdr.Size)
	if _, err := io.ReadFull(s.tr, data); err != nil {
		return nil, corrupt(hdr.Name, err)
	}
	return data, nil
}

// head reads the manifest and the optional signature at the start of the
// archive and returns them with the first header after them (nil at the
// end of the archive).
func (s *stream) head() (manifest, sig []byte, first *tar.Header, err error) {
	hdr, err := s.next()
	if err == io.EOF || (err == nil && hdr.Name != ManifestPath) {
		return nil, nil, nil, reject(ErrNoManifest, "", "")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if manifest, err = s.readSmall(hdr, s.lim.MaxManifestSize, ErrManifestTooBig); err != nil {
		return nil, nil, nil, err
	}
	hdr, err = s.next()
	if err == nil && hdr.Name == SignaturePath {
		if sig, err = s.readSmall(hdr, sigMaxSize, ErrSignature); err != nil {
			return nil, nil, nil, err
		}
		hdr, err = s.next()
	}
	if err == io.EOF {
		return manifest, sig, nil, nil
	}
	return manifest, sig, hdr, err
}

// checkEnd verifies nothing but zero padding follows the archive's
// end-of-archive marker in the gzip member, and nothing follows the member.
// The padding counts against MaxTotalSize with the files: room is what the
// files left of it. Reading stops at the first byte past it, so a bundle
// trailed by gigabytes of compressed zeros is refused without inflating
// them.
func (s *stream) checkEnd(room int64) error {
	buf := make([]byte, 32<<10)
	var read int64
	for {
		want := int64(len(buf))
		if left := room - read; left < want {
			want = left + 1 // one byte past the limit is enough to refuse
		}
		n, err := s.ahead.Read(buf[:want])
		if bytes.ContainsFunc(buf[:n], func(r rune) bool { return r != 0 }) {
			return reject(ErrTrailingData, "", "non-zero bytes after the end of the tar archive")
		}
		if read += int64(n); read > room {
			return reject(ErrTooLarge, "", "zero padding after the end of the tar archive takes the bundle over %d bytes", s.lim.MaxTotalSize)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return corrupt("", err)
		}
	}
	if _, err := s.br.ReadByte(); err != io.EOF {
		return reject(ErrTrailingData, "", "bytes after the end of the gzip stream")
	}
	return nil
}

// verifier checks one entry's size and digest as it is read.
type verifier struct {
	r    io.Reader
	f    File
	n    int64
	h    hash.Hash
	done bool
}

func newVerifier(r io.Reader, f File) *verifier {
	return &verifier{r: r, f: f, h: sha256.New()}
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.done {
		return 0, io.EOF
	}
	if rest := v.f.Size - v.n; int64(len(p)) > rest+1 {
		p = p[:rest+1] // one extra byte detects a longer entry
	}
	n, err := v.r.Read(p)
	v.n += int64(n)
	v.h.Write(p[:n])
	switch {
	case v.n > v.f.Size:
		return 0, reject(ErrSizeMismatch, v.f.Path, "longer than the %d bytes in the manifest", v.f.Size)
	case err == io.EOF:
		return n, v.finish()
	case err != nil:
		return n, corrupt(v.f.Path, err)
	}
	return n, nil
}

func (v *verifier) finish() error {
	if v.n != v.f.Size {
		return reject(ErrSizeMismatch, v.f.Path, "%d bytes, manifest says %d", v.n, v.f.Size)
	}
	if got := hex.EncodeToString(v.h.Sum(nil)); got != v.f.SHA256 {
		return reject(ErrDigestMismatch, v.f.Path, "sha256 %s, manifest says %s", got, v.f.SHA256)
	}
	v.done = true
	return io.EOF
}

// entryMatches checks that an archive header is the manifest file expected
// at this position.
func entryMatches(hdr *tar.Header, files []File, pos int) error {
	f := files[pos]
	if hdr.Name == ManifestPath || hdr.Name == SignaturePath || (pos > 0 && hdr.Name == files[pos-1].Path) {
		return reject(ErrDuplicate, hdr.Name, "")
	}
	if hdr.Name != f.Path {
		return reject(ErrOrder, hdr.Name, "expected %q", f.Path)
	}
	if hdr.Typeflag != tar.TypeReg {
		return reject(ErrEntryType, hdr.Name, "")
	}
	if hdr.Size != f.Size {
		return reject(ErrSizeMismatch, hdr.Name, "header says %d bytes, manifest %d", hdr.Size, f.Size)
	}
	return nil
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
