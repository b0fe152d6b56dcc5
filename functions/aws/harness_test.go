package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/awsfake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/lambdafake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/s3fake"
)

// pkgPath is the function's main package, built as bootstrap.
const pkgPath = "github.com/pgmi-cloud/pgmi/functions/aws"

// bucket is the versioned release bucket the uploads land in.
const bucket = "pgmi-releases"

// defaultDeadline is the invocation time limit when Options give none.
const defaultDeadline = 60 * time.Second

// harness is Lambda as the scenario suite sees it: the built bootstrap
// behind a fake Runtime API, S3 (gofakes3) with a versioned bucket, and the
// container credentials endpoint as the function's role. The function
// signs its RDS IAM tokens and its S3 requests with the role's credentials
// (gofakes3 checks no signatures), so the endpoint is the only identity
// the process has, as a Lambda's execution role is.
type harness struct {
	setup *functest.Setup
	s3    *s3fake.Server
	creds *awsfake.ContainerEndpoint
	bin   string
	seq   atomic.Uint64 // the last S3 sequencer handed out

	mu    sync.Mutex
	sizes map[string]int // key + "\x00" + version → object size
	procs []*lambdafake.Process
}

func newHarness(tb testing.TB, setup *functest.Setup, bin string) *harness {
	tb.Helper()
	h := &harness{setup: setup, s3: s3fake.Start(tb), creds: awsfake.StartContainerEndpoint(tb), bin: bin, sizes: map[string]int{}}
	h.s3.CreateBucket(tb, bucket, true)
	h.seq.Store(uint64(time.Now().UnixNano()))
	c := h.creds.Creds
	setup.Secrets = append(setup.Secrets, c.AccessKeyID, c.SecretAccessKey, c.SessionToken, h.creds.AuthToken)
	return h
}

// secretsInOutput reports the secrets found in the whole output (stdout
// and stderr, JSON or not) of every process started so far. The access key
// id also catches a leaked RDS IAM token, which names it.
func (h *harness) secretsInOutput() []string {
	h.mu.Lock()
	procs := slices.Clone(h.procs)
	h.mu.Unlock()
	var found []string
	for _, p := range procs {
		out := p.Output()
		for _, s := range h.setup.Secrets {
			if s != "" && strings.Contains(out, s) {
				found = append(found, fmt.Sprintf("%.8s…", s))
			}
		}
	}
	return found
}

// Upload stores data as a new version of key. The sequencer grows with
// every upload, as S3's do for one key (18 upper-case hex digits).
func (h *harness) Upload(t *testing.T, key string, data []byte) functest.Object {
	return h.upload(t, key, data)
}

func (h *harness) upload(tb testing.TB, key string, data []byte) functest.Object {
	tb.Helper()
	version := h.s3.Put(tb, bucket, key, data)
	if version == "" {
		tb.Fatalf("s3fake: the versioned bucket returned no versionId for %s", key)
	}
	h.mu.Lock()
	h.sizes[key+"\x00"+version] = len(data)
	h.mu.Unlock()
	return functest.Object{Key: key, Version: version, Sequencer: fmt.Sprintf("%018X", h.seq.Add(1))}
}

func (h *harness) size(obj functest.Object) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sizes[obj.Key+"\x00"+obj.Version]
}

// Start runs opts.Concurrency bootstrap processes against one runtime.
func (h *harness) Start(t *testing.T, opts functest.Options) functest.Instance {
	return h.start(t, opts)
}

func (h *harness) start(tb testing.TB, opts functest.Options) *instance {
	tb.Helper()
	grantFleet(tb, opts.Env["PGMI_ROUTES"]) // first: its cleanup runs once the processes stopped
	in := &instance{h: h, rt: lambdafake.Start(tb), deadline: opts.Deadline}
	if in.deadline == 0 {
		in.deadline = defaultDeadline
	}
	env := h.env(tb, opts)
	for range max(opts.Concurrency, 1) {
		in.procs = append(in.procs, in.rt.Exec(tb, h.bin, env...))
	}
	h.mu.Lock()
	h.procs = append(h.procs, in.procs...)
	h.mu.Unlock()
	in.awaitPoll(tb)
	return in
}

// env is a function instance's environment: the suite's pgmi variables,
// the database as an RDS IAM target, the region, the role's credentials
// endpoint and the S3 endpoint, then opts.Env.
func (h *harness) env(tb testing.TB, opts functest.Options) []string {
	tb.Helper()
	none := filepath.Join(tb.TempDir(), "none")
	m := h.setup.Env()
	for k, v := range map[string]string{
		"PGHOST":     pg.Host(),
		"PGPORT":     strconv.Itoa(pg.Port()),
		"PGUSER":     deployRole,
		"PGDATABASE": h.setup.Database,
		"PGSSLMODE":  "require",

		"PGMI_AWS_REGION":                    s3fake.Region,
		"AWS_REGION":                         s3fake.Region,
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": h.creds.URL,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN":  h.creds.AuthToken,
		"AWS_CONFIG_FILE":                    none,
		"AWS_SHARED_CREDENTIALS_FILE":        none,
		"AWS_EC2_METADATA_DISABLED":          "true",

		"PGMI_BUCKET_URL_PARAMS": h.bucketParams(),
	} {
		m[k] = v
	}
	if opts.Unreachable {
		m["PGPORT"] = closedPort(tb)
	}
	for k, v := range opts.Env {
		m[k] = v
	}
	env := make([]string, 0, len(m))
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
}

// bucketParams are the query parameters s3blob's URL opener needs to reach
// the fake: the ones s3fake.ObjectURL uses, but for
// response_checksum_validation, which no deployment sets: the function
// downloads with the SDK's default (validate when supported), so the
// SDK's remark that gofakes3 sent no checksum reaches the function's log
// as it would with any S3-compatible store that sends none.
func (h *harness) bucketParams() string {
	u, err := url.Parse(h.s3.ObjectURL(bucket, "x"))
	if err != nil {
		panic(err)
	}
	q := u.Query()
	q.Del("response_checksum_validation")
	return q.Encode()
}

// closedPort is a loopback port where nothing listens.
func closedPort(tb testing.TB) string {
	u, err := url.Parse(awsfake.ClosedURL(tb, "/"))
	if err != nil {
		tb.Fatal(err)
	}
	return u.Port()
}

// ReadResult reads s3://bucket/key from the fake.
func (h *harness) ReadResult(t *testing.T, resultURL string) []byte {
	return h.readResult(t, resultURL)
}

func (h *harness) readResult(tb testing.TB, resultURL string) []byte {
	tb.Helper()
	rest, ok := strings.CutPrefix(resultURL, "s3://")
	b, key, _ := strings.Cut(rest, "/")
	if !ok || b == "" || key == "" || strings.Contains(key, "?") {
		tb.Fatalf("result URL %q is not s3://bucket/key", resultURL)
	}
	out, err := h.s3.Client().GetObject(tb.Context(), &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	if err != nil {
		tb.Fatalf("reading %s: %v", resultURL, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		tb.Fatalf("reading %s: %v", resultURL, err)
	}
	return data
}

// resultKeys lists the result objects in the bucket.
func (h *harness) resultKeys(tb testing.TB) []string {
	tb.Helper()
	out, err := h.s3.Client().ListObjectsV2(tb.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("pgmi-results/")})
	if err != nil {
		tb.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// instance is function processes serving one fake runtime.
type instance struct {
	h        *harness
	rt       *lambdafake.Runtime
	procs    []*lambdafake.Process
	deadline time.Duration
}

// awaitPoll waits until a process polls for work, and fails fast with its
// output when one exits instead.
func (in *instance) awaitPoll(tb testing.TB) {
	tb.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case <-in.rt.FirstPoll():
			return
		case <-timeout:
			tb.Fatalf("no function process polled for work within 30s; output:\n%s", in.output())
		case <-time.After(20 * time.Millisecond):
			for _, p := range in.procs {
				select {
				case <-p.Done():
					tb.Fatalf("a function process exited at start (%v); output:\n%s", p.Err(), p.Output())
				default:
				}
			}
		}
	}
}

// Deliver sends the S3 notification of obj's upload.
func (in *instance) Deliver(t *testing.T, obj functest.Object) functest.Reply {
	return reply(in.invoke(t, in.h.s3Notification(obj)))
}

// Reset sends what EventBridge Scheduler sends with the README's Input
// template: the action payload.
func (in *instance) Reset(t *testing.T, db string, obj functest.Object, schedule string) functest.Reply {
	payload, err := json.Marshal(map[string]string{
		"action": "reset", "bundle": "s3://" + bucket + "/" + obj.Key, "version": obj.Version,
		"database": db, "schedule": schedule,
	})
	if err != nil {
		t.Fatal(err)
	}
	return reply(in.invoke(t, payload))
}

// invoke hands one event to the runtime with the instance's deadline and
// waits for the answer.
func (in *instance) invoke(tb testing.TB, payload []byte) lambdafake.Response {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), in.deadline+30*time.Second)
	defer cancel()
	resp, err := in.rt.Invoke(ctx, payload, time.Now().Add(in.deadline))
	if err != nil {
		tb.Fatalf("invoke: %v; output:\n%s", err, in.output())
	}
	return resp
}

// reply is what Lambda makes of a response: an error is retried (the
// asynchronous invocation's retries).
func reply(resp lambdafake.Response) functest.Reply {
	if resp.Error {
		return functest.Reply{Retry: true, Detail: resp.ErrorType + ": " + resp.ErrorMessage}
	}
	return functest.Reply{Detail: string(resp.Body)}
}

// Logs are the JSON lines of every process, in time order.
func (in *instance) Logs(t *testing.T) []functest.Line { return in.logs() }

func (in *instance) logs() []functest.Line {
	type stamped struct {
		at   time.Time
		line functest.Line
	}
	var all []stamped
	for _, p := range in.procs {
		for _, l := range jsonLines(p.Output()) {
			at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(l["time"]))
			all = append(all, stamped{at, l})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	lines := make([]functest.Line, len(all))
	for i, s := range all {
		lines[i] = s.line
	}
	return lines
}

// waitLogs returns the log lines that match, once n of them have arrived
// or after 5 s: a process's output reaches the test through a pipe,
// possibly after its answer did.
func (in *instance) waitLogs(n int, match func(functest.Line) bool) []functest.Line {
	deadline := time.Now().Add(5 * time.Second)
	for {
		var found []functest.Line
		for _, l := range in.logs() {
			if match(l) {
				found = append(found, l)
			}
		}
		if len(found) >= n || time.Now().After(deadline) {
			return found
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jsonLines parses the lines of output that are JSON objects (the
// function's log; aws-lambda-go's own lines on stderr are plain text).
func jsonLines(output string) []functest.Line {
	var lines []functest.Line
	for _, text := range strings.Split(output, "\n") {
		if !strings.HasPrefix(text, "{") {
			continue
		}
		var l functest.Line
		if json.Unmarshal([]byte(text), &l) == nil {
			lines = append(lines, l)
		}
	}
	return lines
}

func (in *instance) output() string {
	var b strings.Builder
	for i, p := range in.procs {
		fmt.Fprintf(&b, "--- process %d\n%s", i, p.Output())
	}
	return b.String()
}

// s3Record is one record of an S3 event notification (version 2.1) for
// obj's upload; its key is URL-encoded as S3 encodes it (a space is +, /
// stays).
func (h *harness) s3Record(obj functest.Object) map[string]any {
	return map[string]any{
		"eventVersion":      "2.1",
		"eventSource":       "aws:s3",
		"awsRegion":         s3fake.Region,
		"eventTime":         time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"eventName":         "ObjectCreated:Put",
		"userIdentity":      map[string]string{"principalId": "AWS:AIDAPGMIRELEASE"},
		"requestParameters": map[string]string{"sourceIPAddress": "127.0.0.1"},
		"responseElements": map[string]string{
			"x-amz-request-id": strings.ToUpper(randomHex(8)), "x-amz-id-2": randomHex(32),
		},
		"s3": map[string]any{
			"s3SchemaVersion": "1.0",
			"configurationId": "pgmi-deploy",
			"bucket": map[string]any{
				"name": bucket, "ownerIdentity": map[string]string{"principalId": "APGMIOWNER"}, "arn": "arn:aws:s3:::" + bucket,
			},
			"object": map[string]any{
				"key": s3EventKey(obj.Key), "size": h.size(obj), "eTag": randomHex(16),
				"versionId": obj.Version, "sequencer": obj.Sequencer,
			},
		},
	}
}

// s3Notification is the event S3 sends Lambda for obj's upload.
func (h *harness) s3Notification(obj functest.Object) []byte {
	return mustJSON(map[string]any{"Records": []any{h.s3Record(obj)}})
}

// s3EventKey encodes a key as S3 event notifications carry it.
func s3EventKey(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

// eventBridge is the "Object Created" event S3 sends to EventBridge for
// obj's upload; its key is not encoded.
func (h *harness) eventBridge(obj functest.Object) []byte {
	return mustJSON(map[string]any{
		"version":     "0",
		"id":          uuid(),
		"detail-type": "Object Created",
		"source":      "aws.s3",
		"account":     "000000000000",
		"time":        time.Now().UTC().Format(time.RFC3339),
		"region":      s3fake.Region,
		"resources":   []string{"arn:aws:s3:::" + bucket},
		"detail": map[string]any{
			"version": "0",
			"bucket":  map[string]string{"name": bucket},
			"object": map[string]any{
				"key": obj.Key, "size": h.size(obj), "etag": randomHex(16),
				"version-id": obj.Version, "sequencer": obj.Sequencer,
			},
			"request-id":        strings.ToUpper(randomHex(8)),
			"requester":         "000000000000",
			"source-ip-address": "127.0.0.1",
			"reason":            "PutObject",
		},
	})
}

// sqsBatch is what an SQS event source mapping sends Lambda for messages
// with the given bodies; it returns the batch and the messageIds.
func sqsBatch(bodies ...[]byte) ([]byte, []string) {
	var recs []any
	var ids []string
	for _, body := range bodies {
		id := uuid()
		ids = append(ids, id)
		recs = append(recs, map[string]any{
			"messageId":     id,
			"receiptHandle": "AQEB" + randomHex(40),
			"body":          string(body),
			"attributes": map[string]string{
				"ApproximateReceiveCount": "1", "SentTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
				"SenderId": "AIDAPGMIS3", "ApproximateFirstReceiveTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
			},
			"messageAttributes": map[string]any{},
			"md5OfBody":         randomHex(16),
			"eventSource":       "aws:sqs",
			"eventSourceARN":    "arn:aws:sqs:" + s3fake.Region + ":000000000000:pgmi-deploys",
			"awsRegion":         s3fake.Region,
		})
	}
	return mustJSON(map[string]any{"Records": recs}), ids
}

func mustJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimSpace(b.Bytes())
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func uuid() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
