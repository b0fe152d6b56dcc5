package bundle

import (
	"io"
	"sync"
)

// aheadReader decompresses in its own goroutine, a few chunks ahead of the
// reader, so gzip inflation overlaps tar parsing and SHA-256 hashing on a
// second core, once the reader has had aheadAfter bytes. Before that it
// reads on the caller's goroutine: a bundle that small is verified in a
// few milliseconds, while the deploy pipeline opens the database session
// on the other core (with a local server, the new backend starts there
// too), and a second verifying goroutine slowed that more than it saved.
// Memory is bounded by aheadChunks × aheadChunkSize, allocated when the
// goroutine starts.
type aheadReader struct {
	full    chan chunk
	free    chan []byte
	stop    chan struct{}
	once    sync.Once
	cur     []byte
	buf     []byte
	err     error
	n       int64 // bytes delivered to the reader
	started bool
	src     io.Reader
}

type chunk struct {
	buf  []byte
	data []byte
	err  error
}

const (
	aheadChunks    = 4
	aheadChunkSize = 256 << 10
	aheadAfter     = 4 << 20
)

func newAheadReader(src io.Reader) *aheadReader {
	return &aheadReader{stop: make(chan struct{}), src: src}
}

// start hands the rest of the source to the producer goroutine.
func (a *aheadReader) start() {
	a.started = true
	a.full, a.free = make(chan chunk, aheadChunks), make(chan []byte, aheadChunks)
	for range aheadChunks {
		a.free <- make([]byte, aheadChunkSize)
	}
	go a.produce()
}

// readDirect reads on the caller's goroutine, up to aheadAfter bytes in
// all; the error is kept, as the producer's is.
func (a *aheadReader) readDirect(p []byte) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	if room := aheadAfter - a.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := a.src.Read(p)
	a.n += int64(n)
	a.err = err
	return n, err
}

func (a *aheadReader) produce() {
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		case <-a.stop:
			return
		}
		// Fill the whole chunk: inflate returns at most its 32 KiB window per
		// Read, and a hand-off per window costs more than it overlaps.
		// Data and error travel together, in order.
		var n int
		var err error
		for n < len(buf) && err == nil {
			var m int
			m, err = a.src.Read(buf[n:])
			n += m
		}
		select {
		case a.full <- chunk{buf: buf, data: buf[:n], err: err}:
		case <-a.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (a *aheadReader) Read(p []byte) (int, error) {
	if !a.started {
		if a.n < aheadAfter || a.err != nil {
			return a.readDirect(p)
		}
		a.start()
	}
	for len(a.cur) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		if a.buf != nil {
			a.free <- a.buf
			a.buf = nil
		}
		c := <-a.full
		a.buf, a.cur, a.err = c.buf, c.data, c.err
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	a.n += int64(n)
	return n, nil
}

// Close stops the producer; it exits at its next chunk boundary (closing the
// source unblocks a read in progress).
func (a *aheadReader) Close() {
	a.once.Do(func() { close(a.stop) })
}
