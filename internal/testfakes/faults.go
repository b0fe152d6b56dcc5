package testfakes

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// Fault is a failure injected into the requests it matches.
type Fault struct {
	// Match selects the requests; nil matches every request.
	Match func(*http.Request) bool
	// Times is how many matching requests fail, the first ones; 0 or less
	// fails every one.
	Times int
	// Status, when set, answers the request with this status, Header and
	// Body instead of passing it to the server.
	Status int
	Header http.Header
	Body   string
	// CutAfter, when positive and Status is 0, passes the request to the
	// server but breaks the connection after CutAfter bytes of the response
	// body, as a network failure mid-download does.
	CutAfter int64
}

// acts is false for a fault with neither Status nor CutAfter: it only
// counts the requests it matches (Injected.Seen).
func (f *Fault) acts() bool { return f.Status != 0 || f.CutAfter > 0 }

// Injected is one fault in place; it counts what it saw. Every fault
// matching a request counts it, whichever fault (if any) makes it fail.
type Injected struct {
	f      Fault
	seen   atomic.Int64
	failed atomic.Int64
}

// Seen is how many requests the fault matched, failed or not.
func (i *Injected) Seen() int { return int(i.seen.Load()) }

// Failed is how many requests the fault made fail.
func (i *Injected) Failed() int { return int(i.failed.Load()) }

// claim reports whether this matching request should fail.
func (i *Injected) claim() bool {
	if i.f.Times > 0 && i.failed.Load() >= int64(i.f.Times) {
		return false
	}
	i.failed.Add(1)
	return true
}

// Faults is an http.Handler that serves through next, except for the
// requests an injected fault claims: the first matching fault, in the order
// injected, that still has failures to give. Safe for concurrent use.
type Faults struct {
	next   http.Handler
	mu     sync.Mutex
	faults []*Injected
}

// NewFaults wraps next.
func NewFaults(next http.Handler) *Faults { return &Faults{next: next} }

// Inject adds a fault and returns it, so the test can count its requests.
func (f *Faults) Inject(ft Fault) *Injected {
	in := &Injected{f: ft}
	f.mu.Lock()
	f.faults = append(f.faults, in)
	f.mu.Unlock()
	return in
}

// Clear removes every fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	f.faults = nil
	f.mu.Unlock()
}

// pick counts r on every fault it matches and returns the first active
// fault that still has failures to give.
func (f *Faults) pick(r *http.Request) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	var chosen *Fault
	for _, in := range f.faults {
		if in.f.Match != nil && !in.f.Match(r) {
			continue
		}
		in.seen.Add(1)
		if chosen == nil && in.f.acts() && in.claim() {
			chosen = &in.f
		}
	}
	return chosen
}

func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ft := f.pick(r)
	switch {
	case ft == nil:
		f.next.ServeHTTP(w, r)
	case ft.Status != 0:
		for k, vs := range ft.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(ft.Status)
		w.Write([]byte(ft.Body))
	default:
		f.next.ServeHTTP(&cutWriter{ResponseWriter: w, left: ft.CutAfter}, r)
	}
}

// cutWriter lets left bytes of body through, then aborts the connection;
// the client has been promised more (Content-Length) and sees it break.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= c.left {
		c.left -= int64(len(p))
		return c.ResponseWriter.Write(p)
	}
	c.ResponseWriter.Write(p[:c.left])
	if fl, ok := c.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
	panic(http.ErrAbortHandler)
}

// ObjectReads matches reads of the object key: GET and HEAD requests whose
// path ends with /key, as S3 (path-style), the GCS XML and JSON media APIs
// and Azure Blob all name the object. (The GCS client probes a zero-length
// read with HEAD.)
func ObjectReads(key string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasSuffix(r.URL.Path, "/"+key)
	}
}
