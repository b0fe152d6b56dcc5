// Package lambdafake is a loopback fake of the AWS Lambda Runtime API, so a
// function binary built with aws-lambda-go runs unchanged in a test: the
// binary long-polls GET /2018-06-01/runtime/invocation/next, the fake hands
// it the events queued by Invoke, and the binary posts each result to
// …/{id}/response or …/{id}/error.
//
// Typical use:
//
//	bin := lambdafake.BuildBinary(t, "./functions/aws", "lambda.norpc")
//	rt := lambdafake.Start(t)
//	rt.Exec(t, bin, "AWS_REGION=us-east-1")
//	resp, err := rt.Invoke(ctx, payload, time.Now().Add(time.Minute))
//
// What the fake does, and what it leaves out:
//
//   - /next answers 200 with the event and the headers
//     Lambda-Runtime-Aws-Request-Id, Lambda-Runtime-Deadline-Ms (Unix epoch
//     milliseconds, which the client turns into the handler's ctx deadline),
//     Lambda-Runtime-Invoked-Function-Arn and Lambda-Runtime-Trace-Id;
//   - …/response, …/error and /2018-06-01/runtime/init/error answer 202,
//     the only status the client accepts (anything else makes it exit);
//   - a response or error for an unknown or already answered request id is
//     answered 400 and reported as a protocol violation when the test ends;
//   - the deadline is not enforced: the real service would stop the process
//     at the deadline, the fake waits for as long as Invoke's ctx allows;
//   - the Extensions API is not served (404), which aws-lambda-go only
//     calls with lambda.WithEnableSIGTERM and then just logs.
package lambdafake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The function identity the fake reports, and Exec puts in the environment.
const (
	FunctionName    = "pgmi-fake"
	FunctionVersion = "$LATEST"
	FunctionMemory  = "128"
	FunctionARN     = "arn:aws:lambda:us-east-1:000000000000:function:" + FunctionName
)

// DefaultTimeout is the invocation deadline Invoke uses when given none:
// Lambda's maximum function timeout.
const DefaultTimeout = 900 * time.Second

const apiPrefix = "/2018-06-01/runtime"

// Response is what the function posted for one invocation.
type Response struct {
	RequestID string
	// Body is the posted body: the handler's JSON result, or the error
	// document {"errorMessage","errorType","stackTrace"} when Error is set.
	Body []byte
	// Error is set when the function reported a failure: a POST to
	// …/error, or a response stream cut off with the error trailers.
	Error        bool
	ErrorType    string
	ErrorMessage string
}

// InitError is one POST to /2018-06-01/runtime/init/error.
type InitError struct {
	// Type is the Lambda-Runtime-Function-Error-Type header.
	Type string
	Body []byte
}

// Runtime is a fake Runtime API on 127.0.0.1. Its methods are safe for
// concurrent use.
type Runtime struct {
	// Addr is host:port, the value for AWS_LAMBDA_RUNTIME_API.
	Addr string

	srv       *httptest.Server
	queue     chan *invocation // unbuffered: senders wait in FIFO order
	stop      chan struct{}
	closeOnce sync.Once
	firstPoll chan time.Time
	pollOnce  sync.Once

	mu         sync.Mutex
	inflight   map[string]*invocation // handed out, not yet answered
	answered   map[string]bool
	initErrors []InitError
	violations []string
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan Response // buffered 1
}

// Start serves a fake Runtime API until the test ends. Protocol violations
// seen by then fail the test.
func Start(tb testing.TB) *Runtime {
	tb.Helper()
	r := New()
	tb.Cleanup(func() {
		r.Close()
		for _, v := range r.Violations() {
			tb.Errorf("lambdafake: runtime protocol violation: %s", v)
		}
	})
	return r
}

// New serves a fake Runtime API until Close. Tests use Start; New is for
// loops (benchmarks) that want one runtime per iteration.
func New() *Runtime {
	r := &Runtime{
		queue:     make(chan *invocation),
		stop:      make(chan struct{}),
		firstPoll: make(chan time.Time, 1),
		inflight:  map[string]*invocation{},
		answered:  map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"/invocation/next", r.next)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/response", r.response)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/error", r.invocationError)
	mux.HandleFunc("POST "+apiPrefix+"/init/error", r.initError)
	r.srv = httptest.NewServer(mux)
	r.Addr = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

// Close ends outstanding polls (the client then exits) and stops the
// server. It is safe to call more than once.
func (r *Runtime) Close() {
	r.closeOnce.Do(func() {
		close(r.stop)
		r.srv.CloseClientConnections()
		r.srv.Close()
	})
}

// FirstPoll receives, once, the time the first GET …/next arrived: the
// moment a freshly started function is ready for work.
func (r *Runtime) FirstPoll() <-chan time.Time { return r.firstPoll }

// InitErrors returns the init errors posted so far.
func (r *Runtime) InitErrors() []InitError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]InitError(nil), r.initErrors...)
}

// Violations returns what the function did against the protocol so far
// (answers for unknown or already answered request ids).
func (r *Runtime) Violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.violations...)
}

// Invoke queues one event and waits for the function's answer. Events are
// handed to polls in the order Invoke was called. A zero deadline means
// DefaultTimeout from now. Invoke returns ctx's error when ctx ends first,
// whether the event was still queued (it is then withdrawn) or already
// handed out (its late answer is still accepted with 202).
func (r *Runtime) Invoke(ctx context.Context, payload []byte, deadline time.Time) (Response, error) {
	if deadline.IsZero() {
		deadline = time.Now().Add(DefaultTimeout)
	}
	inv := &invocation{
		id:       newRequestID(),
		payload:  append([]byte(nil), payload...),
		deadline: deadline,
		done:     make(chan Response, 1),
	}
	select {
	case r.queue <- inv:
	case <-ctx.Done():
		return Response{}, fmt.Errorf("lambdafake: no poll took the event: %w", context.Cause(ctx))
	case <-r.stop:
		return Response{}, errors.New("lambdafake: runtime closed")
	}
	select {
	case resp := <-inv.done:
		return resp, nil
	case <-ctx.Done():
		return Response{}, fmt.Errorf("lambdafake: request %s got no answer: %w", inv.id, context.Cause(ctx))
	case <-r.stop:
		return Response{}, fmt.Errorf("lambdafake: runtime closed before request %s was answered", inv.id)
	}
}

// next is the long poll: it hands out the next queued event.
func (r *Runtime) next(w http.ResponseWriter, req *http.Request) {
	r.pollOnce.Do(func() { r.firstPoll <- time.Now() })
	var inv *invocation
	select {
	case inv = <-r.queue:
	case <-req.Context().Done():
		return
	case <-r.stop:
		http.Error(w, `{"errorMessage":"runtime closed","errorType":"lambdafake.Closed"}`, http.StatusGone)
		return
	}
	r.mu.Lock()
	r.inflight[inv.id] = inv
	r.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", FunctionARN)
	h.Set("Lambda-Runtime-Trace-Id", newTraceID())
	w.Write(inv.payload)
}

// response takes a function's result. A streamed response that failed part
// way carries the error in trailers, readable once the body is consumed.
func (r *Runtime) response(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	resp := Response{Body: body}
	if typ := req.Trailer.Get("Lambda-Runtime-Function-Error-Type"); typ != "" {
		resp.Error, resp.ErrorType = true, typ
		if doc, err := base64.StdEncoding.DecodeString(req.Trailer.Get("Lambda-Runtime-Function-Error-Body")); err == nil {
			resp.ErrorMessage = errorDocument(doc).Message
		}
	}
	r.answer(w, req.PathValue("id"), resp)
}

// invocationError takes a function's error document.
func (r *Runtime) invocationError(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	doc := errorDocument(body)
	typ := doc.Type
	if typ == "" {
		typ = req.Header.Get("Lambda-Runtime-Function-Error-Type")
	}
	r.answer(w, req.PathValue("id"), Response{Body: body, Error: true, ErrorType: typ, ErrorMessage: doc.Message})
}

func (r *Runtime) answer(w http.ResponseWriter, id string, resp Response) {
	resp.RequestID = id
	r.mu.Lock()
	inv, ok := r.inflight[id]
	if ok {
		delete(r.inflight, id)
		r.answered[id] = true
	} else if r.answered[id] {
		r.violations = append(r.violations, fmt.Sprintf("second answer for request %s", id))
	} else {
		r.violations = append(r.violations, fmt.Sprintf("answer for unknown request %q", id))
	}
	r.mu.Unlock()
	if !ok {
		http.Error(w, `{"errorMessage":"no invocation in flight with this request id","errorType":"InvalidRequestID"}`,
			http.StatusBadRequest)
		return
	}
	inv.done <- resp
	accepted(w)
}

func (r *Runtime) initError(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.initErrors = append(r.initErrors, InitError{Type: req.Header.Get("Lambda-Runtime-Function-Error-Type"), Body: body})
	r.mu.Unlock()
	accepted(w)
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	w.Write([]byte(`{"status":"OK"}`))
}

type errorDoc struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

// errorDocument decodes what it can of an error body; a body that is not
// the usual document leaves the fields empty (the raw body is kept).
func errorDocument(body []byte) errorDoc {
	var d errorDoc
	_ = json.Unmarshal(bytes.TrimSpace(body), &d)
	return d
}

// newRequestID makes a UUID-shaped request id, like the real ones.
func newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newTraceID makes an X-Ray trace header value.
func newTraceID() string {
	b := make([]byte, 20)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), h[:24], h[24:40])
}
