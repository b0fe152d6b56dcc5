// Package sbqueue stands in for an Azure Service Bus queue in tests, at the
// gocloud.dev/pubsub level: no Service Bus emulator runs here (Service Bus
// speaks AMQP, and Microsoft's emulator is a container this machine cannot
// run), so the publishing side of the fleet queue is a test driver.
//
// Importing the package registers the URL scheme "testsb" on
// pubsub.DefaultURLMux(): a topic testsb://127.0.0.1:PORT/<queue> POSTs
// every message it sends (body and metadata, which Service Bus carries as
// application properties) to the Queue listening there, which holds it for
// the test to deliver, as the Functions host's Service Bus trigger would.
//
// A shipped binary never links this package: tests build the Azure custom
// handler with `go build -overlay` adding one file to its package main that
// imports it (functions/azure's harness), so the deployer publishes through
// the real gocloud pubsub API to PGMI_FLEET_TOPIC=testsb://…, and only the
// driver under it differs from production's azuresb.
package sbqueue

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/batcher"
	"gocloud.dev/pubsub/driver"
)

// Scheme is the URL scheme the driver registers.
const Scheme = "testsb"

func init() {
	pubsub.DefaultURLMux().RegisterTopic(Scheme, opener{})
}

// envelope is what the driver POSTs for one message.
type envelope struct {
	Body       []byte            `json:"body"`
	Properties map[string]string `json:"properties,omitempty"`
}

// opener opens testsb://<host:port>/<queue>.
type opener struct{}

func (opener) OpenTopicURL(_ context.Context, u *url.URL) (*pubsub.Topic, error) {
	for param := range u.Query() {
		return nil, fmt.Errorf("open topic %v: invalid query parameter %q", u, param)
	}
	queue := strings.Trim(u.Path, "/")
	if u.Host == "" || queue == "" || strings.Contains(queue, "/") {
		return nil, fmt.Errorf("open topic %v: want %s://<host:port>/<queue>", u, Scheme)
	}
	t := &topic{endpoint: (&url.URL{Scheme: "http", Host: u.Host, Path: "/" + queue}).String(),
		client: &http.Client{Timeout: 10 * time.Second}}
	return pubsub.NewTopic(t, &batcher.Options{MaxBatchSize: 1, MaxHandlers: 16}), nil
}

// topic is the driver.Topic: one POST per message.
type topic struct {
	endpoint string
	client   *http.Client
}

// statusError is a non-2xx answer of the Queue.
type statusError struct{ code int }

func (e *statusError) Error() string {
	return fmt.Sprintf("testsb: the queue answered HTTP %d", e.code)
}

func (t *topic) SendBatch(ctx context.Context, ms []*driver.Message) error {
	for _, m := range ms {
		if m.BeforeSend != nil {
			if err := m.BeforeSend(func(any) bool { return false }); err != nil {
				return err
			}
		}
		body, err := json.Marshal(envelope{Body: m.Body, Properties: m.Metadata})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := t.client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return &statusError{code: resp.StatusCode}
		}
		if m.AfterSend != nil {
			if err := m.AfterSend(func(any) bool { return false }); err != nil {
				return err
			}
		}
	}
	return nil
}

// IsRetryable: a 5xx answer (the Queue's injected failures); a refused
// connection is not retried here, the deployer's delivery is.
func (t *topic) IsRetryable(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.code >= 500
}

func (t *topic) As(any) bool             { return false }
func (t *topic) ErrorAs(error, any) bool { return false }
func (t *topic) Close() error            { return nil }

func (t *topic) ErrorCode(err error) gcerrors.ErrorCode {
	var se *statusError
	switch {
	case errors.As(err, &se) && se.code == http.StatusNotFound:
		return gcerrors.NotFound
	case errors.As(err, &se) && se.code >= 500:
		return gcerrors.Internal
	case errors.Is(err, context.Canceled):
		return gcerrors.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return gcerrors.DeadlineExceeded
	}
	return gcerrors.Unknown
}

// Message is one message a Queue received, with what Service Bus assigns
// on enqueue.
type Message struct {
	ID             string            // MessageId: 32 hex digits (the sender set none)
	SequenceNumber int64             // from 1, in enqueue order
	EnqueuedTime   time.Time         // UTC
	Body           []byte            // as sent
	Properties     map[string]string // the message's metadata: Service Bus application properties
}

// Queue is the collector a testsb:// topic sends to: an HTTP server on
// loopback holding what arrives for one queue name.
type Queue struct {
	name string
	srv  *httptest.Server

	mu     sync.Mutex
	seq    int64
	ready  []Message
	signal chan struct{} // receives a token when ready grows
	sent   int
}

// NewQueue starts a Queue named name, closed at the test's cleanup.
func NewQueue(tb testing.TB, name string) *Queue {
	tb.Helper()
	if name == "" || strings.Contains(name, "/") {
		tb.Fatalf("sbqueue: queue name %q", name)
	}
	q := &Queue{name: name, signal: make(chan struct{}, 1)}
	q.srv = httptest.NewServer(http.HandlerFunc(q.serve))
	tb.Cleanup(q.srv.Close)
	return q
}

// URL is the topic URL that publishes to the queue, for PGMI_FLEET_TOPIC.
func (q *Queue) URL() string {
	return Scheme + "://" + strings.TrimPrefix(q.srv.URL, "http://") + "/" + q.name
}

// Name is the queue's name.
func (q *Queue) Name() string { return q.name }

// Sent is how many messages the queue has received so far.
func (q *Queue) Sent() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.sent
}

func (q *Queue) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || strings.Trim(r.URL.Path, "/") != q.name {
		http.Error(w, "no such queue", http.StatusNotFound)
		return
	}
	var env envelope
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&env); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	q.mu.Lock()
	q.seq++
	q.sent++
	q.ready = append(q.ready, Message{ID: hex.EncodeToString(id), SequenceNumber: q.seq,
		EnqueuedTime: time.Now().UTC(), Body: env.Body, Properties: env.Properties})
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusCreated)
}

// Receive takes the oldest message waiting, blocking until one arrives or
// ctx ends. A message received is the caller's to deliver (again, if the
// delivery asks for a retry).
func (q *Queue) Receive(ctx context.Context) (Message, error) {
	for {
		q.mu.Lock()
		if len(q.ready) > 0 {
			m := q.ready[0]
			q.ready = q.ready[1:]
			more := len(q.ready) > 0
			q.mu.Unlock()
			if more {
				select {
				case q.signal <- struct{}{}:
				default:
				}
			}
			return m, nil
		}
		q.mu.Unlock()
		select {
		case <-q.signal:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}
