package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
)

// tarContent serves a tar.gz bundle's files from forward passes over the
// source. pos is the manifest index of the next entry in the current pass.
type tarContent struct {
	ctx      context.Context
	opener   Opener
	opts     *ReadOptions
	lim      Limits
	manifest *Manifest
	signer   *Signer
	rawMan   []byte // manifest bytes, to recognize the same bundle on re-open
	rawSig   []byte

	mu      sync.Mutex
	cur     *stream
	pending bool // the header of entry pos has been read (hdr)
	pos     int
	active  *tarFile // the file being read from the stream
	npasses int
	cache   map[int][]byte
	cached  int64
}

func openTar(ctx context.Context, src io.ReadCloser, open Opener, opts *ReadOptions) (*tarContent, error) {
	lim := opts.Limits.withDefaults()
	s, err := newStream(src, lim)
	if err != nil {
		return nil, err
	}
	man, sig, first, err := s.head()
	if err != nil {
		s.Close()
		return nil, err
	}
	m, signer, err := opts.trust(man, sig)
	if err != nil {
		s.Close()
		return nil, err
	}
	t := &tarContent{ctx: ctx, opener: open, opts: opts, lim: lim, manifest: m, signer: signer,
		rawMan: man, rawSig: sig, cur: s, npasses: 1, cache: map[int][]byte{}}
	if err := t.expect(first); err != nil {
		s.Close()
		return nil, err
	}
	return t, nil
}

// expect checks the header just read is manifest entry t.pos.
func (t *tarContent) expect(hdr *tar.Header) error {
	if t.pos >= len(t.manifest.Files) {
		if hdr == nil {
			return nil
		}
		if n := len(t.manifest.Files); hdr.Name == ManifestPath || hdr.Name == SignaturePath || hdr.Name == t.manifest.Files[n-1].Path {
			return reject(ErrDuplicate, hdr.Name, "")
		}
		return reject(ErrExtraEntry, hdr.Name, "")
	}
	if hdr == nil {
		return reject(ErrMissingEntry, t.manifest.Files[t.pos].Path, "")
	}
	if hdr.Typeflag == tar.TypeDir {
		return reject(ErrExtraEntry, hdr.Name, "directory entries are not part of the format")
	}
	if err := entryMatches(hdr, t.manifest.Files, t.pos); err != nil {
		return err
	}
	t.pending = true
	return nil
}

func (t *tarContent) passes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.npasses
}

func (t *tarContent) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur == nil {
		return nil
	}
	err := t.cur.Close()
	t.cur = nil
	return err
}

func (t *tarContent) held(i int) ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	data, ok := t.cache[i]
	return data, ok
}

func (t *tarContent) open(i int) (io.ReadCloser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if data, ok := t.cache[i]; ok {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	if err := t.seek(i); err != nil {
		t.fail()
		return nil, err
	}
	tf := t.newFile(i)
	t.active, t.pending = tf, false
	t.pos = i + 1
	return tf, nil
}

// newFile starts reading entry i from the current pass, keeping its
// contents for the cache when they fit and are not cached already (a
// later pass only re-verifies what it skips over).
func (t *tarContent) newFile(i int) *tarFile {
	f := t.manifest.Files[i]
	tf := &tarFile{t: t, v: newVerifier(t.cur.tr, f), index: i}
	if _, cached := t.cache[i]; !cached && f.Size <= t.lim.CacheSize-t.cached {
		tf.keep = make([]byte, 0, f.Size)
	}
	return tf
}

// seek positions the stream at the header of entry i, re-opening the source
// when i is behind, verifying (and caching) the entries it skips.
func (t *tarContent) seek(i int) error {
	if err := ctxErr(t.ctx); err != nil {
		return err
	}
	if t.cur == nil || i < t.pos {
		if err := t.restart(); err != nil {
			return err
		}
	}
	if t.active != nil {
		if err := t.drain(t.active); err != nil {
			return err
		}
	}
	for t.pos < i {
		if !t.pending {
			if err := t.advance(); err != nil {
				return err
			}
		}
		tf := t.newFile(t.pos)
		t.pending, t.active = false, tf
		t.pos++
		if err := t.drain(tf); err != nil {
			return err
		}
	}
	if !t.pending {
		return t.advance()
	}
	return nil
}

// advance reads the next header and checks it is entry pos.
func (t *tarContent) advance() error {
	hdr, err := t.cur.next()
	if err == io.EOF {
		hdr, err = nil, nil
	}
	if err != nil {
		return err
	}
	return t.expect(hdr)
}

// drain reads the rest of the active file through its verifier.
func (t *tarContent) drain(tf *tarFile) error {
	cut := tf.err == nil // its reader had not come to the end itself
	_, err := io.CopyBuffer(discard{}, readerFunc(tf.readLocked), make([]byte, 64<<10))
	tf.superseded, tf.cut = true, cut
	t.active = nil
	return err
}

// restart opens a new pass and checks it carries the same manifest and
// signature as the verified one.
func (t *tarContent) restart() error {
	if t.cur != nil {
		t.cur.Close()
		t.cur = nil
	}
	if t.active != nil {
		t.active.superseded = true
		t.active = nil
	}
	src, err := t.opener(t.ctx)
	if err != nil {
		return err
	}
	s, err := newStream(src, t.lim)
	if err != nil {
		return err
	}
	t.npasses++
	man, sig, first, err := s.head()
	if err == nil && (!bytes.Equal(man, t.rawMan) || !bytes.Equal(sig, t.rawSig)) {
		err = reject(ErrManifest, ManifestPath, "the source changed between passes (not the bundle first verified)")
	}
	if err != nil {
		s.Close()
		return err
	}
	t.cur, t.pos, t.pending = s, 0, false
	return t.expect(first)
}

// fail drops the current pass after an error, so the next Open starts over.
func (t *tarContent) fail() {
	if t.cur != nil {
		t.cur.Close()
		t.cur = nil
	}
	if t.active != nil {
		t.active.superseded = true // its stream is gone: a Read must not wait on it
	}
	t.active, t.pending = nil, false
}

// tarFile is one file streamed from the current pass.
type tarFile struct {
	t          *tarContent
	v          *verifier
	index      int
	keep       []byte // contents kept for the cache, nil when over budget
	superseded bool
	cut        bool // a later Open read the rest of the file off the stream (drain)
	delivered  int  // bytes Read returned
	err        error
}

func (f *tarFile) Read(p []byte) (int, error) {
	f.t.mu.Lock()
	defer f.t.mu.Unlock()
	if f.cut {
		return f.readCut(p)
	}
	if f.superseded && f.err == nil {
		return 0, reject(ErrStreamSuperseded, f.v.f.Path, "")
	}
	n, err := f.readLocked(p)
	f.delivered += n
	return n, err
}

// readCut serves a reader whose rest a later Open read off the stream: from
// the cache when the file verified and was kept, else ErrStreamSuperseded
// (open the file again), never a short file without an error.
func (f *tarFile) readCut(p []byte) (int, error) {
	if !errors.Is(f.err, io.EOF) {
		return 0, f.err
	}
	kept, ok := f.t.cache[f.index]
	if !ok {
		return 0, reject(ErrStreamSuperseded, f.v.f.Path, "")
	}
	if f.delivered >= len(kept) {
		return 0, io.EOF
	}
	n := copy(p, kept[f.delivered:])
	f.delivered += n
	return n, nil
}

func (f *tarFile) readLocked(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.v.Read(p)
	if f.keep != nil {
		f.keep = append(f.keep, p[:n]...)
	}
	if err == io.EOF {
		err = f.finish()
	}
	if err != nil {
		f.err = err
		if !errors.Is(err, io.EOF) {
			f.t.fail()
		}
	}
	return n, err
}

// finish runs when the file verified: cache it, and at the last entry check
// the archive ends there.
func (f *tarFile) finish() error {
	t := f.t
	if f.keep != nil && int64(len(f.keep)) <= t.lim.CacheSize-t.cached {
		t.cache[f.index] = f.keep
		t.cached += int64(len(f.keep))
	}
	f.keep = nil
	if t.active == f {
		t.active = nil
	}
	if f.index == len(t.manifest.Files)-1 && t.pos == len(t.manifest.Files) && t.cur != nil {
		if err := t.advance(); err != nil {
			return err
		}
	}
	return io.EOF
}

func (f *tarFile) Close() error { return nil }

type readerFunc func([]byte) (int, error)

func (r readerFunc) Read(p []byte) (int, error) { return r(p) }
