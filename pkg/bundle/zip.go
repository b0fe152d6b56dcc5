package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"io/fs"
	"strings"
)

var zipMagic = []byte("PK\x03\x04")

// zipSource reports whether src is a zip archive with random access (zip
// keeps its directory at the end, so it cannot be streamed).
func zipSource(src io.ReadCloser) (io.ReaderAt, int64, bool) {
	ra, ok := src.(io.ReaderAt)
	if !ok {
		return nil, 0, false
	}
	var size int64
	switch s := src.(type) {
	case interface{ Stat() (fs.FileInfo, error) }:
		fi, err := s.Stat()
		if err != nil {
			return nil, 0, false
		}
		size = fi.Size()
	case interface{ Size() int64 }:
		size = s.Size()
	default:
		return nil, 0, false
	}
	head := make([]byte, 4)
	if _, err := ra.ReadAt(head, 0); err != nil || !bytes.Equal(head, zipMagic) {
		return nil, 0, false
	}
	return ra, size, true
}

// zipContent serves a zip bundle's files by random access.
type zipContent struct {
	src   io.Closer
	files []*zip.File // by manifest index
	want  []File
}

func openZip(_ context.Context, src io.ReadCloser, ra io.ReaderAt, size int64, opts *ReadOptions) (*Bundle, error) {
	z, err := readZip(ra, size, opts)
	if err != nil {
		src.Close()
		return nil, err
	}
	z.content.(*zipContent).src = src
	return z, nil
}

func readZip(ra io.ReaderAt, size int64, opts *ReadOptions) (*Bundle, error) {
	lim := opts.Limits.withDefaults()
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, rejectErr(ErrCorrupt, "", err)
	}
	if err := checkZipEnd(ra, size); err != nil {
		return nil, err
	}
	byName := map[string]*zip.File{}
	for _, f := range zr.File {
		if err := checkZipEntry(f, lim); err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(f.Name, "/")
		if _, dup := byName[name]; dup {
			return nil, reject(ErrDuplicate, f.Name, "")
		}
		byName[name] = f
	}
	man, err := readZipSmall(byName[ManifestPath], lim.MaxManifestSize, ErrManifestTooBig)
	if err != nil {
		return nil, err
	}
	if man == nil {
		return nil, reject(ErrNoManifest, "", "")
	}
	sig, err := readZipSmall(byName[SignaturePath], sigMaxSize, ErrSignature)
	if err != nil {
		return nil, err
	}
	m, signer, err := opts.trust(man, sig)
	if err != nil {
		return nil, err
	}
	zc, err := matchZip(m, byName, lim)
	if err != nil {
		return nil, err
	}
	return newBundle(m, signer, zc), nil
}

func checkZipEntry(f *zip.File, lim Limits) error {
	mode := f.Mode()
	name := f.Name
	switch {
	case mode&fs.ModeSymlink != 0:
		return reject(ErrLink, name, "")
	case mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
		return reject(ErrDevice, name, "")
	case mode.IsDir():
		name = strings.TrimSuffix(name, "/")
	case !mode.IsRegular():
		return reject(ErrEntryType, name, "")
	}
	if f.Method != zip.Store && f.Method != zip.Deflate {
		return reject(ErrEntryType, name, "compression method %d", f.Method)
	}
	if name == ManifestPath || name == SignaturePath || name == ".pgmi" {
		return nil
	}
	if strings.HasPrefix(name, ".pgmi/") {
		return reject(ErrReservedPath, name, "")
	}
	return checkPath(name, lim)
}

func readZipSmall(f *zip.File, max int64, tooBig error) ([]byte, error) {
	if f == nil {
		return nil, nil
	}
	if f.Mode().IsDir() {
		return nil, reject(ErrEntryType, f.Name, "")
	}
	if f.UncompressedSize64 > uint64(max) {
		return nil, reject(tooBig, f.Name, "%d bytes, limit %d", f.UncompressedSize64, max)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, rejectErr(ErrCorrupt, f.Name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, rejectErr(ErrCorrupt, f.Name, err)
	}
	return data, nil
}

// matchZip requires the zip's files to be exactly the manifest's.
func matchZip(m *Manifest, byName map[string]*zip.File, lim Limits) (*zipContent, error) {
	zc := &zipContent{files: make([]*zip.File, len(m.Files)), want: m.Files}
	isFile := map[string]bool{ManifestPath: true, SignaturePath: true}
	listed := map[string]bool{ManifestPath: true, SignaturePath: true, ".pgmi": true}
	for i, mf := range m.Files {
		f := byName[mf.Path]
		if f == nil || f.Mode().IsDir() {
			return nil, reject(ErrMissingEntry, mf.Path, "")
		}
		if f.UncompressedSize64 != uint64(mf.Size) {
			return nil, reject(ErrSizeMismatch, mf.Path, "zip says %d bytes, manifest %d", f.UncompressedSize64, mf.Size)
		}
		if mf.Size > ratioGrace && f.CompressedSize64*uint64(lim.MaxRatio) < uint64(mf.Size) {
			return nil, reject(ErrRatio, mf.Path, "%d bytes from %d compressed, limit %d:1", mf.Size, f.CompressedSize64, lim.MaxRatio)
		}
		zc.files[i] = f
		listed[mf.Path], isFile[mf.Path] = true, true
		for _, d := range parentDirs(mf.Path) {
			listed[d] = true
		}
	}
	for name, f := range byName {
		if !listed[name] || f.Mode().IsDir() == isFile[name] {
			return nil, reject(ErrExtraEntry, f.Name, "")
		}
	}
	return zc, nil
}

func (z *zipContent) open(i int) (io.ReadCloser, error) {
	f := z.files[i]
	rc, err := f.Open()
	if err != nil {
		return nil, rejectErr(ErrCorrupt, f.Name, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{newVerifier(rc, z.want[i]), rc}, nil
}

func (z *zipContent) passes() int { return 1 }

// held: a zip bundle's files are read from the archive when opened.
func (z *zipContent) held(int) ([]byte, bool) { return nil, false }

func (z *zipContent) close() error {
	if z.src == nil {
		return nil
	}
	return z.src.Close()
}

// checkZipEnd refuses bytes after the end of a zip archive, as a tar.gz
// bundle's are refused: archive/zip takes the last end-of-central-directory
// record it finds in the file's tail and ignores what follows its comment.
func checkZipEnd(ra io.ReaderAt, size int64) error {
	const endLen = 22 // the record without its comment
	tail := make([]byte, min(size, endLen+0xffff))
	if _, err := ra.ReadAt(tail, size-int64(len(tail))); err != nil && err != io.EOF {
		return rejectErr(ErrCorrupt, "", err)
	}
	for i := len(tail) - endLen; i >= 0; i-- {
		if string(tail[i:i+4]) != "PK\x05\x06" {
			continue
		}
		end := i + endLen + int(binary.LittleEndian.Uint16(tail[i+endLen-2:]))
		if end != len(tail) {
			return reject(ErrTrailingData, "", "%d bytes after the end of the zip archive", len(tail)-end)
		}
		return nil
	}
	return reject(ErrCorrupt, "", "no end of central directory record")
}
