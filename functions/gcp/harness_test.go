package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/gcpfake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/gcsfake"
	"github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql"
)

// The Google Cloud project the fakes play.
const (
	testProject = "pgmi-test"
	testRegion  = "europe-west1"
	testSA      = "deployer@pgmi-test.iam.gserviceaccount.com"
	testDBUser  = "deployer@pgmi-test.iam" // the IAM database user of testSA
	testBucket  = "pgmi-bundles"
	readyWithin = 10 * time.Second
)

// cloud is Google Cloud as the function binary sees it: the metadata
// server (its identity), the Cloud SQL Admin API with two instances (one
// fronting the test cluster, one whose address refuses connections), a
// versioned GCS bucket, and Cloud Run starting the binary with the
// environment a deployment would give it. It implements functest.Harness.
type cloud struct {
	setup  *functest.Setup
	md     *gcpfake.Metadata
	db     *gcpfake.Instance // fronts the test cluster
	down   *gcpfake.Instance // its address refuses connections
	gcs    *gcsfake.Server
	binary string
	base   map[string]string // every instance's environment
	logs   string            // where processes write stdout and stderr, for the whole test

	mu     sync.Mutex
	procs  []*process
	nextID int64
	ids    map[string]string // object key and generation → ce-id
}

// newCloud stands the fakes up around the cluster behind s. binary is the
// function as built for the image; target is the FUNCTION_TARGET the
// image sets.
func newCloud(t *testing.T, s *functest.Setup, md *gcpfake.Metadata, binary, target string) *cloud {
	t.Helper()
	api := gcpfake.StartAdmin(t, md)
	c := &cloud{setup: s, md: md, binary: binary, logs: t.TempDir(), nextID: 9_000_000_000_000_001, ids: map[string]string{}}
	// Loopback addresses: the proxy listens on port 3307 of its own, where
	// the connector in the function process dials; the down instance's
	// address has nothing there.
	c.db = api.AddInstance(t, gcpfake.InstanceConfig{Project: testProject, Region: testRegion, Name: "pgmi",
		PublicIP: gcpfake.LoopbackIP(t), PostgresHost: s.PG.Host(), PostgresPort: s.PG.Port()})
	c.down = api.AddInstance(t, gcpfake.InstanceConfig{Project: testProject, Region: testRegion, Name: "down",
		PublicIP: gcpfake.LoopbackIP(t), PostgresHost: s.PG.Host(), PostgresPort: s.PG.Port(), Down: true})
	c.gcs = gcsfake.Start(t)
	c.gcs.CreateBucket(testBucket, true)
	c.base = map[string]string{
		// Cloud Run
		"FUNCTION_TARGET": target,
		"K_SERVICE":       "pgmi-deploy",
		"K_REVISION":      "pgmi-deploy-00001-abc",
		"K_CONFIGURATION": "pgmi-deploy",
		// Identity: the metadata server only (gcpfake.Metadata.Use does the
		// same for the test process).
		"GCE_METADATA_HOST": md.Host,
		"HOME":              t.TempDir(),
		"CLOUDSDK_CONFIG":   t.TempDir(),
		// Storage
		"STORAGE_EMULATOR_HOST": c.gcs.Host,
		// Cloud SQL: the Admin API (the instances' addresses are loopback)
		cloudsql.AdminAPIEndpointVar: api.URL,
		// The deployer
		"PGUSER":               testDBUser,
		"PGDATABASE":           s.Database,
		"PGMI_GOOGLE_INSTANCE": c.db.ConnectionName,
	}
	maps.Copy(c.base, s.Env())
	return c
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func (c *cloud) Upload(t *testing.T, key string, data []byte) functest.Object {
	gen := c.gcs.Put(t, testBucket, key, data)
	return functest.Object{Key: key, Version: gen, Sequencer: gen}
}

// Start runs one process whatever opts.Concurrency says: one Cloud Run
// instance serves concurrent requests.
func (c *cloud) Start(t *testing.T, opts functest.Options) functest.Instance {
	t.Helper()
	env := maps.Clone(c.base)
	if opts.Unreachable {
		env["PGMI_GOOGLE_INSTANCE"] = c.down.ConnectionName
	}
	if opts.Deadline > 0 {
		env["CLOUD_RUN_TIMEOUT_SECONDS"] = strconv.Itoa(int(math.Ceil(opts.Deadline.Seconds())))
	}
	maps.Copy(env, opts.Env)
	c.grantFleet(t, env["PGMI_ROUTES"])
	return &instance{cloud: c, proc: c.serve(t, env)}
}

func (c *cloud) ReadResult(t *testing.T, resultURL string) []byte {
	t.Helper()
	bucket, key, ok := strings.Cut(strings.TrimPrefix(resultURL, "gs://"), "/")
	if !ok || !strings.HasPrefix(resultURL, "gs://") {
		t.Fatalf("result URL %q is not gs://bucket/key", resultURL)
	}
	r, err := c.gcs.Client(t, false).Bucket(bucket).Object(key).NewReader(t.Context())
	if err != nil {
		t.Fatalf("result object %s: %v", resultURL, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("result object %s: %v", resultURL, err)
	}
	return data
}

// serve starts the binary with env and a free PORT and waits until it
// accepts connections. A port taken between choosing and binding it is
// tried again with another.
func (c *cloud) serve(t *testing.T, env map[string]string) *process {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr := closedAddr(t)
		_, port, _ := net.SplitHostPort(addr)
		env["PORT"] = port
		p := c.exec(t, env)
		err := p.waitReady(addr, readyWithin)
		if err == nil {
			return p
		}
		if attempt < 3 && strings.Contains(p.stdout.String(), "address already in use") { // run's ERROR line
			continue
		}
		t.Fatalf("the function did not start: %v\nstdout:\n%s\nstderr:\n%s", err, p.stdout.String(), p.stderr.String())
	}
}

// exec starts the binary with exactly env (nothing of the test's own
// environment) and stops it when the test ends.
func (c *cloud) exec(t *testing.T, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(c.binary)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = filepath.Dir(c.binary)
	dir, err := os.MkdirTemp(c.logs, "process-")
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), addr: "127.0.0.1:" + env["PORT"],
		stdout: output(filepath.Join(dir, "stdout")), stderr: output(filepath.Join(dir, "stderr"))}
	stdout, stderr := p.stdout.create(t), p.stderr.create(t)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Start()
	stdout.Close() // the process has descriptors of its own
	stderr.Close()
	if err != nil {
		t.Fatalf("start %s: %v", c.binary, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("function stdout:\n%s\nfunction stderr:\n%s", p.stdout.String(), p.stderr.String())
		}
	})
	return p
}

// outputs is everything every process printed so far.
func (c *cloud) outputs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.procs {
		out = append(out, p.stdout.String(), p.stderr.String())
	}
	return out
}

// eventID is the ce-id of an upload's event: Eventarc gives one message id
// per object generation and keeps it on every redelivery.
func (c *cloud) eventID(obj functest.Object) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := obj.Key + "#" + obj.Version
	if id, ok := c.ids[k]; ok {
		return id
	}
	id := c.newIDLocked()
	c.ids[k] = id
	return id
}

func (c *cloud) newID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.newIDLocked()
}

func (c *cloud) newIDLocked() string {
	c.nextID++
	return strconv.FormatInt(c.nextID, 10)
}

// process is one running function binary. Its stdout and stderr are
// files, not pipes: a line the function wrote before answering a request
// is in the file when the answer arrives (a pipe's copy to the test lags).
type process struct {
	cmd            *exec.Cmd
	addr           string // 127.0.0.1:PORT
	stdout, stderr output
	done           chan struct{}
	err            error // valid once done is closed
	once           sync.Once
}

// output is a file a process writes.
type output string

// create makes the file for a process to write.
func (o output) create(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Create(string(o))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// String is what was written so far.
func (o output) String() string {
	data, _ := os.ReadFile(string(o))
	return string(data)
}

// waitReady polls the port until the server accepts a connection.
func (p *process) waitReady(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("the process exited: %v", p.err)
		default:
		}
		if conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s", addr, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait waits for the process to end by itself and returns its exit error.
func (p *process) wait(within time.Duration) (exited bool, err error) {
	select {
	case <-p.done:
		return true, p.err
	case <-time.After(within):
		return false, nil
	}
}

func (p *process) stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Kill() // fails only when it has exited already
		<-p.done
	})
}

// instance is one function instance: a process and its HTTP endpoint.
type instance struct {
	cloud *cloud
	proc  *process
}

// Deliver sends the upload's event the way Eventarc does: a binary-mode
// CloudEvent, the same ce-id for every delivery of one generation.
func (in *instance) Deliver(t *testing.T, obj functest.Object) functest.Reply {
	return in.post(t, storageEvent(in.cloud.eventID(obj), "google.cloud.storage.object.v1.finalized", obj))
}

// Reset publishes the action payload to the actions topic; Eventarc
// delivers the message as a messagePublished CloudEvent.
func (in *instance) Reset(t *testing.T, db string, obj functest.Object, schedule string) functest.Reply {
	payload, _ := json.Marshal(map[string]string{
		"action": "reset", "bundle": "gs://" + testBucket + "/" + obj.Key, "version": obj.Version,
		"database": db, "schedule": schedule,
	})
	return in.post(t, pubsubEvent(in.cloud.newID(), payload))
}

func (in *instance) Logs(t *testing.T) []functest.Line {
	var lines []functest.Line
	sc := bufio.NewScanner(strings.NewReader(in.proc.stdout.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l functest.Line
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			lines = append(lines, l)
		}
	}
	return lines
}

// post sends one request to the instance. It may run on a goroutine other
// than the test's, so it reports a failed request with Errorf.
func (in *instance) post(t *testing.T, ev event) functest.Reply {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reply, err := in.send(ctx, ev)
	if err != nil {
		t.Errorf("POST to the function: %v", err)
	}
	return reply
}

// send sends one request to the instance; err is a request that got no
// answer (the reply then asks for a retry, as Eventarc would).
func (in *instance) send(ctx context.Context, ev event) (functest.Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+in.proc.addr+"/", bytes.NewReader(ev.body))
	if err != nil {
		return functest.Reply{Retry: true, Detail: err.Error()}, err
	}
	for k, v := range ev.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return functest.Reply{Retry: true, Detail: err.Error()}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return functest.Reply{Retry: resp.StatusCode/100 != 2, Detail: fmt.Sprintf("HTTP %s %s", resp.Status, body)}, nil
}

// event is an HTTP request of the CloudEvents binding.
type event struct {
	headers map[string]string
	body    []byte
}

// storageEvent is the binary-mode CloudEvent of a GCS object event.
func storageEvent(id, typ string, obj functest.Object) event {
	data, _ := json.Marshal(map[string]string{
		"bucket": testBucket, "name": obj.Key, "generation": obj.Version, "metageneration": "1",
		"contentType": "application/gzip", "id": testBucket + "/" + obj.Key + "/" + obj.Version,
		"timeCreated": time.Now().UTC().Format(time.RFC3339Nano),
	})
	return event{headers: map[string]string{
		"ce-id":          id,
		"ce-specversion": "1.0",
		"ce-type":        typ,
		"ce-source":      storageSource + testBucket,
		"ce-subject":     percentEncode("objects/" + obj.Key),
		"ce-time":        time.Now().UTC().Format(time.RFC3339Nano),
		"Content-Type":   "application/json",
	}, body: data}
}

// pubsubEvent is the binary-mode CloudEvent of a Pub/Sub message whose
// data is payload, published by the reset job of Cloud Scheduler.
func pubsubEvent(id string, payload []byte) event {
	return messagePublished(pushedMessage{
		topic:        "projects/" + testProject + "/topics/pgmi-actions",
		subscription: "projects/" + testProject + "/subscriptions/eventarc-" + testRegion + "-pgmi-reset-sub-001",
		id:           id,
		data:         payload,
		attributes:   map[string]string{"schedule": "projects/" + testProject + "/locations/" + testRegion + "/jobs/pgmi-reset"},
		published:    time.Now(),
	})
}

// pushedMessage is a Pub/Sub message as an Eventarc trigger's push
// subscription hands it over.
type pushedMessage struct {
	topic, subscription string // full resource names
	id                  string
	data                []byte
	attributes          map[string]string
	published           time.Time
}

// messagePublished is the binary-mode CloudEvent Eventarc pushes for a
// Pub/Sub message (google.events.cloud.pubsub.v1.MessagePublishedData):
// the message id is the event id, on every delivery of the message, and
// the message members come in both JSON spellings, as Eventarc writes them.
func messagePublished(m pushedMessage) event {
	published := m.published.UTC().Format(time.RFC3339Nano)
	msg := map[string]any{
		"data":         base64.StdEncoding.EncodeToString(m.data),
		"messageId":    m.id,
		"message_id":   m.id,
		"publishTime":  published,
		"publish_time": published,
	}
	if len(m.attributes) > 0 {
		msg["attributes"] = m.attributes
	}
	data, _ := json.Marshal(map[string]any{"message": msg, "subscription": m.subscription})
	return event{headers: map[string]string{
		"ce-id":          m.id,
		"ce-specversion": "1.0",
		"ce-type":        "google.cloud.pubsub.topic.v1.messagePublished",
		"ce-source":      "//pubsub.googleapis.com/" + m.topic,
		"ce-time":        published,
		"Content-Type":   "application/json",
	}, body: data}
}

// percentEncode encodes a header value as the CloudEvents HTTP binding
// asks: space, double quote, percent and everything outside printable
// ASCII as %XX of its UTF-8 bytes.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == '"' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
