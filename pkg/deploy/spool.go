package deploy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/pgmi-cloud/pgmi/pkg/bundle"
)

// SpoolLimit is the largest bundle held in memory after one download, so
// the verification pass and the engine's reads do not fetch it again; a
// larger one is streamed from the bucket for each pass (pinned to the same
// version), holding only the reader's buffers.
const SpoolLimit = 32 << 20

// teeSpool keeps one download of a bundle in memory while the first
// reader (verification) streams it, so the download overlaps verification
// instead of preceding it. Later opens read the memory, after downloading
// whatever the first reader left (it stops early when it refuses the
// bundle). An object that turns out longer than the limit is not held:
// later opens download it again through reopen (pinned to the same
// version).
type teeSpool struct {
	mu     sync.Mutex
	src    io.ReadCloser // the download; nil once read to its end or failed
	buf    []byte        // the bytes downloaded so far (nil when over)
	err    error         // the download's error, once it failed
	over   bool          // longer than limit: not held
	taken  bool          // the first reader was handed out
	limit  int
	reopen bundle.Opener
}

// newTeeSpool spools src, an object listed at size bytes (the buffer is
// sized from it; the object may still differ from its listing).
func newTeeSpool(src io.ReadCloser, size int64, limit int, reopen bundle.Opener) *teeSpool {
	return &teeSpool{src: src, buf: make([]byte, 0, min(size, int64(limit))+1), limit: limit, reopen: reopen}
}

// open is the spool's bundle.Opener.
func (s *teeSpool) open(ctx context.Context) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.taken {
		s.taken = true
		return &teeReader{s: s}, nil
	}
	if err := s.drainLocked(); err != nil {
		return nil, err
	}
	if s.over {
		return s.reopen(ctx)
	}
	return io.NopCloser(bytes.NewReader(s.buf)), nil
}

// all returns the whole object when the spool holds it (ok false when it
// is over the limit or its download failed).
func (s *teeSpool) all() (data []byte, ok bool) {
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drainLocked() != nil || s.over {
		return nil, false
	}
	return s.buf, true
}

// close stops the download when it is still open.
func (s *teeSpool) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.src != nil {
		s.src.Close()
		s.src = nil
	}
}

// readLocked downloads the next bytes into p and keeps them.
func (s *teeSpool) readLocked(p []byte) (int, error) {
	if s.src == nil {
		if s.err != nil {
			return 0, s.err
		}
		return 0, io.EOF
	}
	n, err := s.src.Read(p)
	if !s.over {
		if len(s.buf)+n > s.limit {
			s.over, s.buf = true, nil
		} else {
			s.buf = append(s.buf, p[:n]...)
		}
	}
	if err != nil {
		s.finishLocked(err)
	}
	return n, err
}

// drainLocked downloads the rest of the object: nothing after a
// verification pass that read it to its end, the rest after a refusal.
func (s *teeSpool) drainLocked() error {
	var chunk []byte
	for s.src != nil {
		if chunk == nil {
			chunk = make([]byte, 64<<10)
		}
		if _, err := s.readLocked(chunk); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	return s.err
}

func (s *teeSpool) finishLocked(err error) {
	if !errors.Is(err, io.EOF) {
		s.err = err
	}
	s.src.Close()
	s.src = nil
}

// teeReader is the first reader: it streams the download through the
// spool. Closing it leaves the download open for the spool's later opens,
// and does not wait for a read in progress (verification's read-ahead
// may still be in one).
type teeReader struct {
	s      *teeSpool
	closed atomic.Bool
}

func (r *teeReader) Read(p []byte) (int, error) {
	if r.closed.Load() {
		return 0, errors.New("read from a closed spool reader")
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.s.readLocked(p)
}

func (r *teeReader) Close() error {
	r.closed.Store(true)
	return nil
}
