// Package sqsfake is an in-process fake of Amazon SQS on a loopback
// listener, behind testfakes.Faults, speaking the protocol today's SDKs use:
// AWS JSON 1.0 (POST /, X-Amz-Target: AmazonSQS.<Operation>, Content-Type
// application/x-amz-json-1.0). The real aws-sdk-go-v2 SQS client, and so
// gocloud's awssnssqs driver (which publishes with SendMessageBatch), run
// against it unchanged.
//
// What it serves: CreateQueue, GetQueueUrl, GetQueueAttributes,
// SendMessage, SendMessageBatch, ReceiveMessage (long polling with
// WaitTimeSeconds), DeleteMessage and ChangeMessageVisibility, on standard
// queues. Responses carry MD5OfMessageBody and MD5OfMessageAttributes as
// SQS computes them (the SDK checks the body's), errors the JSON error
// document with the x-amzn-query-error header SQS sends. The limits a
// publisher can trip are checked: at most 10 entries per batch with
// distinct ids, a non-empty body of at most 1 MiB in the characters SQS
// allows. Left out: FIFO queues, delays, dead-letter queues, queue
// attributes beyond the ARN and the counts, signature checks (any
// credentials pass), message retention.
//
// A test that plays an SQS trigger (Lambda's event source mapping) takes
// messages with Queue.Receive and settles them with Queue.Delete or
// Queue.Release, in Go rather than over HTTP.
package sqsfake

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pgmi-cloud/pgmi/internal/testfakes"
)

// The identity the fake reports (it checks no signatures).
const (
	Region    = "us-east-1"
	Account   = "000000000000"
	AccessKey = "AKIAPGMITESTSQSFAKE"
	SecretKey = "pgmi-test-secret-not-a-real-key"
)

// MaxBodyBytes is SQS's limit on a message (body and attributes; the fake
// counts the body): 1 MiB since August 2025.
const MaxBodyBytes = 1 << 20

// DefaultVisibilityTimeout is a queue's, as in SQS.
const DefaultVisibilityTimeout = 30 * time.Second

// Server is a running fake.
type Server struct {
	URL    string            // http://127.0.0.1:port, the SQS endpoint
	Faults *testfakes.Faults // in front of the fake

	mu     sync.Mutex
	queues map[string]*Queue // by name
}

// Start runs a fake for the duration of the test.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{queues: map[string]*Queue{}}
	s.Faults = testfakes.NewFaults(http.HandlerFunc(s.serve))
	srv := httptest.NewServer(s.Faults)
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Client is an SDK client for the fake, with static credentials.
func (s *Server) Client(opts ...func(*sqs.Options)) *sqs.Client {
	base := sqs.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	}
	return sqs.New(base, opts...)
}

// CreateQueue creates a standard queue (or returns the one of that name).
func (s *Server) CreateQueue(name string) *Queue {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[name]; q != nil {
		return q
	}
	q := &Queue{s: s, Name: name, visibility: DefaultVisibilityTimeout, changed: make(chan struct{}), inflight: map[string]*Message{}}
	s.queues[name] = q
	return q
}

// Queue is one standard queue.
type Queue struct {
	s    *Server
	Name string

	mu         sync.Mutex
	visibility time.Duration
	changed    chan struct{} // closed (and replaced) when a message may have become visible
	visible    []*Message
	inflight   map[string]*Message // by receipt handle
	sent       int
}

// URL is the queue URL as SQS returns it, on the fake's endpoint:
// http://127.0.0.1:port/<account>/<name>. The fake finds a queue by the
// path of a QueueUrl, so https://<any host>/<account>/<name> (what
// gocloud's awssqs:// URLs give) names it too.
func (q *Queue) URL() string { return q.s.URL + "/" + Account + "/" + q.Name }

// ARN is the queue's ARN, as an SQS event record's eventSourceARN.
func (q *Queue) ARN() string { return "arn:aws:sqs:" + Region + ":" + Account + ":" + q.Name }

// TopicURL is the gocloud pubsub URL that publishes to the queue through
// awssnssqs: awssqs://<fake host>/<account>/<name>?region=…&endpoint=….
func (q *Queue) TopicURL() string {
	u, _ := url.Parse(q.s.URL)
	v := url.Values{"region": {Region}, "endpoint": {q.s.URL}}
	return "awssqs://" + u.Host + "/" + Account + "/" + q.Name + "?" + v.Encode()
}

// Message is a message on a queue, as ReceiveMessage hands it out.
type Message struct {
	ID            string
	ReceiptHandle string // of the latest receive
	Body          string
	MD5OfBody     string
	// Attributes are the system attributes: SentTimestamp,
	// ApproximateReceiveCount, ApproximateFirstReceiveTimestamp, SenderId.
	Attributes             map[string]string
	MessageAttributes      map[string]Attribute
	MD5OfMessageAttributes string // "" without message attributes

	receives     int
	firstReceive time.Time
	visibleAt    time.Time
}

// Attribute is a message attribute in the JSON protocol's shape.
type Attribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"` // base64 on the wire
}

// Sent is how many messages were sent to the queue.
func (q *Queue) Sent() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.sent
}

// Len is how many messages the queue holds, visible or in flight.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.visible) + len(q.inflight)
}

// Receive waits for a visible message and hands it out as ReceiveMessage
// does: invisible for visibility (the queue's timeout when 0), with a new
// receipt handle and the receive count raised. It returns ctx's error when
// ctx ends first.
func (q *Queue) Receive(ctx context.Context, visibility time.Duration) (Message, error) {
	for {
		q.mu.Lock()
		msgs := q.take(1, visibility)
		changed := q.changed
		wait := q.untilVisible()
		q.mu.Unlock()
		if len(msgs) > 0 {
			return msgs[0], nil
		}
		if wait <= 0 {
			wait = time.Hour
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Message{}, ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// Delete deletes the message received with receiptHandle, as
// DeleteMessage does; false when no message in flight has it.
func (q *Queue) Delete(receiptHandle string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.inflight[receiptHandle]; !ok {
		return false
	}
	delete(q.inflight, receiptHandle)
	return true
}

// Release makes the message received with receiptHandle visible again
// after delay, as ChangeMessageVisibility does (a Lambda batch item
// failure leaves it until its visibility timeout ends); false when no
// message in flight has it.
func (q *Queue) Release(receiptHandle string, delay time.Duration) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, ok := q.inflight[receiptHandle]
	if !ok {
		return false
	}
	m.visibleAt = time.Now().Add(delay)
	q.notify()
	return true
}

// send stores a message and returns it. Callers hold q.mu.
func (q *Queue) send(body string, attrs map[string]Attribute) *Message {
	m := &Message{
		ID:         newID(),
		Body:       body,
		MD5OfBody:  md5Hex([]byte(body)),
		Attributes: map[string]string{"SentTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "SenderId": AccessKey},
	}
	if len(attrs) > 0 {
		m.MessageAttributes = attrs
		m.MD5OfMessageAttributes = AttributesMD5(attrs)
	}
	q.visible = append(q.visible, m)
	q.sent++
	q.notify()
	return m
}

// notify wakes the receivers. Callers hold q.mu.
func (q *Queue) notify() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// take hands out up to n visible messages. Callers hold q.mu.
func (q *Queue) take(n int, visibility time.Duration) []Message {
	now := time.Now()
	for h, m := range q.inflight { // visibility timeouts that ended
		if !m.visibleAt.After(now) {
			delete(q.inflight, h)
			q.visible = append(q.visible, m)
		}
	}
	if visibility <= 0 {
		visibility = q.visibility
	}
	var out []Message
	for len(out) < n && len(q.visible) > 0 {
		m := q.visible[0]
		q.visible = q.visible[1:]
		m.receives++
		if m.firstReceive.IsZero() {
			m.firstReceive = now
		}
		m.ReceiptHandle = "AQEB" + base64.RawURLEncoding.EncodeToString([]byte(m.ID+":"+newID()))
		m.visibleAt = now.Add(visibility)
		m.Attributes["ApproximateReceiveCount"] = strconv.Itoa(m.receives)
		m.Attributes["ApproximateFirstReceiveTimestamp"] = strconv.FormatInt(m.firstReceive.UnixMilli(), 10)
		q.inflight[m.ReceiptHandle] = m
		c := *m
		c.Attributes = make(map[string]string, len(m.Attributes))
		for k, v := range m.Attributes {
			c.Attributes[k] = v
		}
		out = append(out, c)
	}
	return out
}

// untilVisible is the time until the first in-flight message becomes
// visible again, 0 for none. Callers hold q.mu.
func (q *Queue) untilVisible() time.Duration {
	var first time.Time
	for _, m := range q.inflight {
		if first.IsZero() || m.visibleAt.Before(first) {
			first = m.visibleAt
		}
	}
	if first.IsZero() {
		return 0
	}
	return max(time.Until(first), time.Millisecond)
}

// AttributesMD5 is MD5OfMessageAttributes as SQS computes it: over the
// attributes sorted by name, each as the name, the data type (both
// length-prefixed, 4 bytes big-endian), a transport byte (1 string, 2
// binary) and the length-prefixed value.
func AttributesMD5(attrs map[string]Attribute) string {
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := md5.New()
	put := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, n := range names {
		a := attrs[n]
		put([]byte(n))
		put([]byte(a.DataType))
		if strings.HasPrefix(a.DataType, "Binary") {
			h.Write([]byte{2})
			put(a.BinaryValue)
		} else {
			h.Write([]byte{1})
			put([]byte(a.StringValue))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// apiError is an SQS error in the JSON protocol.
type apiError struct {
	status    int
	typ       string // the __type's shape name
	queryCode string // x-amzn-query-error's code
	message   string
}

func (e *apiError) Error() string { return e.typ + ": " + e.message }

func invalidParameter(format string, args ...any) *apiError {
	return &apiError{400, "InvalidParameterValue", "InvalidParameterValue", fmt.Sprintf(format, args...)}
}

var errNoQueue = &apiError{400, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist."}

// serve answers one request of the JSON protocol.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	target, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if r.Method != http.MethodPost || !ok || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.0") {
		writeError(w, &apiError{400, "InvalidAction", "InvalidAction", "want POST with X-Amz-Target AmazonSQS.<Action> and Content-Type application/x-amz-json-1.0 (the fake speaks only the JSON protocol)"})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	ops := map[string]func(context.Context, []byte) (any, error){
		"CreateQueue":             s.createQueue,
		"GetQueueUrl":             s.getQueueURL,
		"GetQueueAttributes":      s.getQueueAttributes,
		"SendMessage":             s.sendMessage,
		"SendMessageBatch":        s.sendMessageBatch,
		"ReceiveMessage":          s.receiveMessage,
		"DeleteMessage":           s.deleteMessage,
		"ChangeMessageVisibility": s.changeMessageVisibility,
	}
	op := ops[target]
	if op == nil {
		writeError(w, &apiError{400, "InvalidAction", "InvalidAction", "The action " + target + " is not valid for this endpoint (not served by sqsfake)."})
		return
	}
	out, err := op(r.Context(), body)
	if err != nil {
		ae, ok := err.(*apiError)
		if !ok {
			ae = &apiError{400, "InvalidParameterValue", "InvalidParameterValue", err.Error()}
		}
		writeError(w, ae)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-RequestId", newID())
	json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-RequestId", newID())
	w.Header().Set("x-amzn-query-error", e.queryCode+";Sender")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + e.typ, "message": e.message})
}

// decode reads a request document strictly enough to catch a wrong shape.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{400, "InvalidParameterValue", "InvalidParameterValue", "malformed request: " + err.Error()}
	}
	return nil
}

// queue finds a queue by its URL's path (/<account>/<name>).
func (s *Server) queue(queueURL string) (*Queue, error) {
	if queueURL == "" {
		return nil, &apiError{400, "MissingParameter", "MissingParameter", "The request must contain the parameter QueueUrl."}
	}
	u, err := url.Parse(queueURL)
	if err != nil {
		return nil, errNoQueue
	}
	acct, name := path.Split(strings.Trim(u.Path, "/"))
	if strings.Trim(acct, "/") != Account {
		return nil, errNoQueue
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[name]; q != nil {
		return q, nil
	}
	return nil, errNoQueue
}

func (s *Server) createQueue(_ context.Context, body []byte) (any, error) {
	var in struct {
		QueueName  string
		Attributes map[string]string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.QueueName == "" || strings.HasSuffix(in.QueueName, ".fifo") {
		return nil, invalidParameter("sqsfake: want the name of a standard queue, got %q", in.QueueName)
	}
	q := s.CreateQueue(in.QueueName)
	if v := in.Attributes["VisibilityTimeout"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 43200 {
			return nil, invalidParameter("Invalid value for the parameter VisibilityTimeout.")
		}
		q.mu.Lock()
		q.visibility = time.Duration(n) * time.Second
		q.mu.Unlock()
	}
	return map[string]string{"QueueUrl": q.URL()}, nil
}

func (s *Server) getQueueURL(_ context.Context, body []byte) (any, error) {
	var in struct{ QueueName string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	q := s.queues[in.QueueName]
	s.mu.Unlock()
	if q == nil {
		return nil, errNoQueue
	}
	return map[string]string{"QueueUrl": q.URL()}, nil
}

func (s *Server) getQueueAttributes(_ context.Context, body []byte) (any, error) {
	var in struct {
		QueueUrl       string
		AttributeNames []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	all := map[string]string{
		"QueueArn":                              q.ARN(),
		"ApproximateNumberOfMessages":           strconv.Itoa(len(q.visible)),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(len(q.inflight)),
		"VisibilityTimeout":                     strconv.Itoa(int(q.visibility / time.Second)),
	}
	q.mu.Unlock()
	out := map[string]string{}
	for _, n := range in.AttributeNames {
		if n == "All" {
			out = all
			break
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return map[string]any{"Attributes": out}, nil
}

// checkMessage checks a body and its attributes as SQS does.
func checkMessage(body string, attrs map[string]Attribute) error {
	if body == "" {
		return &apiError{400, "MissingParameter", "MissingParameter", "The request must contain the parameter MessageBody."}
	}
	if len(body) > MaxBodyBytes {
		return invalidParameter("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", MaxBodyBytes)
	}
	for _, r := range body {
		if !utf8.ValidString(body) || !(r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000) {
			return &apiError{400, "InvalidMessageContents", "InvalidMessageContents", "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"}
		}
	}
	if len(attrs) > 10 {
		return invalidParameter("Number of message attributes [%d] exceeds the allowed maximum [10].", len(attrs))
	}
	for n, a := range attrs {
		switch {
		case n == "" || strings.HasPrefix(strings.ToLower(n), "aws.") || strings.HasPrefix(strings.ToLower(n), "amazon."):
			return invalidParameter("The message attribute name '%s' is invalid.", n)
		case strings.HasPrefix(a.DataType, "String") || strings.HasPrefix(a.DataType, "Number"):
			if a.StringValue == "" {
				return invalidParameter("The message attribute '%s' must contain non-empty message attribute value.", n)
			}
		case strings.HasPrefix(a.DataType, "Binary"):
			if len(a.BinaryValue) == 0 {
				return invalidParameter("The message attribute '%s' must contain non-empty message attribute value.", n)
			}
		default:
			return invalidParameter("The message attribute '%s' has an invalid message attribute type.", n)
		}
	}
	return nil
}

func (s *Server) sendMessage(_ context.Context, body []byte) (any, error) {
	var in struct {
		QueueUrl          string
		MessageBody       string
		MessageAttributes map[string]Attribute
		DelaySeconds      int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := checkMessage(in.MessageBody, in.MessageAttributes); err != nil {
		return nil, err
	}
	if in.DelaySeconds != 0 {
		return nil, invalidParameter("sqsfake: DelaySeconds is not supported")
	}
	q.mu.Lock()
	m := q.send(in.MessageBody, in.MessageAttributes)
	q.mu.Unlock()
	out := map[string]string{"MessageId": m.ID, "MD5OfMessageBody": m.MD5OfBody}
	if m.MD5OfMessageAttributes != "" {
		out["MD5OfMessageAttributes"] = m.MD5OfMessageAttributes
	}
	return out, nil
}

func (s *Server) sendMessageBatch(_ context.Context, body []byte) (any, error) {
	var in struct {
		QueueUrl string
		Entries  []struct {
			Id                string
			MessageBody       string
			MessageAttributes map[string]Attribute
			DelaySeconds      int
		}
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	switch {
	case len(in.Entries) == 0:
		return nil, &apiError{400, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the request."}
	case len(in.Entries) > 10:
		return nil, &apiError{400, "TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", fmt.Sprintf("Maximum number of entries per request are 10. You have sent %d.", len(in.Entries))}
	}
	ids := map[string]bool{}
	for _, e := range in.Entries {
		if e.Id == "" || len(e.Id) > 80 || strings.Trim(e.Id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return nil, &apiError{400, "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."}
		}
		if ids[e.Id] {
			return nil, &apiError{400, "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id " + e.Id + " repeated."}
		}
		ids[e.Id] = true
	}
	successful := []map[string]string{}
	failed := []map[string]any{}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range in.Entries {
		if err := checkMessage(e.MessageBody, e.MessageAttributes); err != nil || e.DelaySeconds != 0 {
			msg := "sqsfake: DelaySeconds is not supported"
			code := "InvalidParameterValue"
			if ae, ok := err.(*apiError); ok {
				msg, code = ae.message, ae.typ
			}
			failed = append(failed, map[string]any{"Id": e.Id, "SenderFault": true, "Code": code, "Message": msg})
			continue
		}
		m := q.send(e.MessageBody, e.MessageAttributes)
		r := map[string]string{"Id": e.Id, "MessageId": m.ID, "MD5OfMessageBody": m.MD5OfBody}
		if m.MD5OfMessageAttributes != "" {
			r["MD5OfMessageAttributes"] = m.MD5OfMessageAttributes
		}
		successful = append(successful, r)
	}
	return map[string]any{"Successful": successful, "Failed": failed}, nil
}

func (s *Server) receiveMessage(ctx context.Context, body []byte) (any, error) {
	var in struct {
		QueueUrl                    string
		MaxNumberOfMessages         *int
		WaitTimeSeconds             *int
		VisibilityTimeout           *int
		AttributeNames              []string
		MessageSystemAttributeNames []string
		MessageAttributeNames       []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	n := 1
	if in.MaxNumberOfMessages != nil {
		n = *in.MaxNumberOfMessages
		if n < 1 || n > 10 {
			return nil, invalidParameter("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", n)
		}
	}
	var wait time.Duration
	if in.WaitTimeSeconds != nil {
		if *in.WaitTimeSeconds < 0 || *in.WaitTimeSeconds > 20 {
			return nil, invalidParameter("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *in.WaitTimeSeconds)
		}
		wait = time.Duration(*in.WaitTimeSeconds) * time.Second
	}
	var visibility time.Duration
	if in.VisibilityTimeout != nil {
		visibility = time.Duration(*in.VisibilityTimeout) * time.Second
		if visibility == 0 {
			visibility = time.Nanosecond // visible again at once
		}
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var msgs []Message
poll:
	for {
		q.mu.Lock()
		msgs = q.take(n, visibility)
		changed := q.changed
		q.mu.Unlock()
		if len(msgs) > 0 || wait == 0 {
			break
		}
		select {
		case <-ctx.Done():
			break poll
		case <-changed:
		case <-time.After(50 * time.Millisecond): // visibility timeouts that end
		}
	}
	sysNames := append(in.AttributeNames, in.MessageSystemAttributeNames...)
	out := []map[string]any{}
	for _, m := range msgs {
		r := map[string]any{"MessageId": m.ID, "ReceiptHandle": m.ReceiptHandle, "MD5OfBody": m.MD5OfBody, "Body": m.Body}
		if a := pick(m.Attributes, sysNames); len(a) > 0 {
			r["Attributes"] = a
		}
		if a := pick(m.MessageAttributes, in.MessageAttributeNames); len(a) > 0 {
			r["MessageAttributes"] = a
			r["MD5OfMessageAttributes"] = AttributesMD5(a)
		}
		out = append(out, r)
	}
	return map[string]any{"Messages": out}, nil
}

// pick selects the named entries: "All" or ".*" for all, "prefix.*" for a
// prefix.
func pick[V any](all map[string]V, names []string) map[string]V {
	out := map[string]V{}
	for k, v := range all {
		for _, n := range names {
			if n == "All" || n == ".*" || n == k || (strings.HasSuffix(n, ".*") && strings.HasPrefix(k, strings.TrimSuffix(n, "*"))) {
				out[k] = v
				break
			}
		}
	}
	return out
}

func (s *Server) deleteMessage(_ context.Context, body []byte) (any, error) {
	var in struct{ QueueUrl, ReceiptHandle string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if !q.Delete(in.ReceiptHandle) && !strings.HasPrefix(in.ReceiptHandle, "AQEB") {
		// SQS accepts the handle of a message already deleted or whose
		// visibility ended; it refuses only one it never issued.
		return nil, &apiError{400, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "The input receipt handle is invalid."}
	}
	return struct{}{}, nil
}

func (s *Server) changeMessageVisibility(_ context.Context, body []byte) (any, error) {
	var in struct {
		QueueUrl, ReceiptHandle string
		VisibilityTimeout       int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if in.VisibilityTimeout < 0 || in.VisibilityTimeout > 43200 {
		return nil, invalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", in.VisibilityTimeout)
	}
	if !q.Release(in.ReceiptHandle, time.Duration(in.VisibilityTimeout)*time.Second) {
		return nil, &apiError{400, "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", "Message does not exist or is not available for visibility timeout change."}
	}
	return struct{}{}, nil
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Op matches the requests of one operation (SendMessageBatch, …), for a
// testfakes.Fault.
func Op(name string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Header.Get("X-Amz-Target") == "AmazonSQS."+name }
}

// Error is a fault answering the first times matching requests (every one
// when times <= 0) with an SQS error in the JSON protocol: status and
// shape name as SQS sends them, e.g. 500 InternalError or 400
// QueueDoesNotExist.
func Error(match func(*http.Request) bool, times, status int, code string) testfakes.Fault {
	return testfakes.Fault{
		Match:  match,
		Times:  times,
		Status: status,
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Query-Error": {code + ";Sender"}},
		Body:   `{"__type":"com.amazonaws.sqs#` + code + `","message":"injected by the test"}`,
	}
}
