package bundle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"sort"
	"time"
)

// Bundle is a verified bundle opened for reading. It is an fs.FS (with
// ReadDir, Stat and ReadFile) for the engine: directories and sizes come from
// the signed manifest; file contents stream from the archive and are checked
// against the manifest's size and SHA-256 as they are read, the last Read of
// a tampered file failing with an *Error. Reading in bundle order (deploy.sql,
// then walk order) is one forward pass; a file behind the read position is
// served from a bounded cache of verified contents or by re-opening the
// source. A Bundle is safe for concurrent use, but concurrent readers of
// different files make it re-read the source.
type Bundle struct {
	manifest *Manifest
	signer   *Signer
	index    map[string]int           // file path → manifest index
	dirs     map[string][]fs.DirEntry // directory → entries, sorted by name
	mtime    time.Time
	content  content
}

// content serves verified file contents by manifest index.
type content interface {
	open(i int) (io.ReadCloser, error)
	held(i int) ([]byte, bool) // verified contents kept in memory, if any
	passes() int
	close() error
}

// Open reads a bundle's head through open: the manifest and signature are
// checked against opts before anything else is read, then the manifest
// becomes the bundle's directory index. zip bundles need open to return an
// io.ReaderAt with a Size or Stat method (an *os.File does); tar.gz streams
// from any reader. Close the Bundle when done.
func Open(ctx context.Context, open Opener, opts *ReadOptions) (*Bundle, error) {
	opts = opts.orDefault()
	src, err := open(ctx)
	if err != nil {
		return nil, err
	}
	if ra, size, ok := zipSource(src); ok {
		return openZip(ctx, src, ra, size, opts)
	}
	ts, err := openTar(ctx, src, open, opts)
	if err != nil {
		return nil, err
	}
	return newBundle(ts.manifest, ts.signer, ts), nil
}

func newBundle(m *Manifest, signer *Signer, c content) *Bundle {
	b := &Bundle{manifest: m, signer: signer, index: make(map[string]int, len(m.Files)),
		dirs: map[string][]fs.DirEntry{}, mtime: zeroTime, content: c}
	if m.Created != nil {
		b.mtime = *m.Created
	}
	seen := map[string]bool{}
	for i, f := range m.Files {
		b.index[f.Path] = i
		child := f.Path
		b.addEntry(path.Dir(child), fileInfo{name: path.Base(child), size: f.Size, mtime: b.mtime})
		for d := path.Dir(child); d != "." && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			b.addEntry(path.Dir(d), fileInfo{name: path.Base(d), dir: true, mtime: b.mtime})
		}
	}
	for _, entries := range b.dirs {
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	}
	return b
}

func (b *Bundle) addEntry(dir string, fi fileInfo) {
	b.dirs[dir] = append(b.dirs[dir], fs.FileInfoToDirEntry(fi))
}

// Manifest is the verified manifest.
func (b *Bundle) Manifest() *Manifest { return b.manifest }

// Signer is the trusted key that signed the bundle, nil when the bundle was
// accepted unsigned or unchecked (ReadOptions.AllowUnsigned).
func (b *Bundle) Signer() *Signer { return b.signer }

// Passes is how many times the source has been opened so far.
func (b *Bundle) Passes() int { return b.content.passes() }

// Close releases the source.
func (b *Bundle) Close() error { return b.content.close() }

// Open implements fs.FS.
func (b *Bundle) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if entries, ok := b.dirs[name]; ok || name == "." {
		return &dirFile{info: b.dirInfo(name), entries: entries}, nil
	}
	i, ok := b.index[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	rc, err := b.content.open(i)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &file{rc: rc, info: b.fileInfo(i)}, nil
}

// Content returns the contents of file name when the Bundle holds them in
// memory (what VerifyOpen verified and kept, up to Limits.CacheSize), with
// their SHA-256 from the manifest they were verified against. The slice is
// the Bundle's own: callers must not modify it. ok is false for a file not
// held (read it with Open). It implements engine.ContentFS.
func (b *Bundle) Content(name string) (data []byte, sha256Hex string, ok bool) {
	i, found := b.index[name]
	if !found {
		return nil, "", false
	}
	if data, ok = b.content.held(i); !ok {
		return nil, "", false
	}
	return data, b.manifest.Files[i].SHA256, true
}

// Stat implements fs.StatFS from the manifest alone.
func (b *Bundle) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	if _, ok := b.dirs[name]; ok || name == "." {
		return b.dirInfo(name), nil
	}
	if i, ok := b.index[name]; ok {
		return b.fileInfo(i), nil
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

// ReadDir implements fs.ReadDirFS from the manifest alone.
func (b *Bundle) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	entries, ok := b.dirs[name]
	if !ok && name != "." {
		if _, isFile := b.index[name]; isFile {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
		}
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return append([]fs.DirEntry(nil), entries...), nil
}

// ReadFile implements fs.ReadFileFS.
func (b *Bundle) ReadFile(name string) ([]byte, error) {
	f, err := b.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	data := make([]byte, 0, fi.Size()+1)
	buf := bytes.NewBuffer(data)
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return buf.Bytes(), nil
}

func (b *Bundle) fileInfo(i int) fileInfo {
	f := b.manifest.Files[i]
	return fileInfo{name: path.Base(f.Path), size: f.Size, mtime: b.mtime}
}

func (b *Bundle) dirInfo(name string) fileInfo {
	return fileInfo{name: path.Base(name), dir: true, mtime: b.mtime}
}

type fileInfo struct {
	name  string
	size  int64
	dir   bool
	mtime time.Time
}

func (fi fileInfo) Name() string       { return fi.name }
func (fi fileInfo) Size() int64        { return fi.size }
func (fi fileInfo) ModTime() time.Time { return fi.mtime }
func (fi fileInfo) IsDir() bool        { return fi.dir }
func (fi fileInfo) Sys() any           { return nil }
func (fi fileInfo) Mode() fs.FileMode {
	if fi.dir {
		return fs.ModeDir | dirMode
	}
	return fileMode
}

type file struct {
	rc     io.ReadCloser
	info   fileInfo
	closed bool
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Read(p []byte) (int, error) {
	if f.closed {
		return 0, fs.ErrClosed
	}
	return f.rc.Read(p)
}
func (f *file) Close() error {
	if f.closed {
		return fs.ErrClosed
	}
	f.closed = true
	return f.rc.Close()
}

type dirFile struct {
	info    fileInfo
	entries []fs.DirEntry
	off     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return append([]fs.DirEntry(nil), rest...), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(n, len(rest))]
	d.off += len(rest)
	return append([]fs.DirEntry(nil), rest...), nil
}

var _ interface {
	fs.ReadDirFS
	fs.StatFS
	fs.ReadFileFS
} = (*Bundle)(nil)
