package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/internal/pgserver"
	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/azurefake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/azurite"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/sbqueue"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// The package's PostgreSQL, like an Azure Database for PostgreSQL flexible
// server: TLS, and TCP logins only with a password, which for the deploy
// role is the managed identity's token.
var (
	cluster    *testpg.Cluster
	clusterErr error
)

func TestMain(m *testing.M) {
	c, stop, err := testpg.StartMain(pgserver.WithTokenTLS())
	cluster, clusterErr = c, err
	code := m.Run()
	stop()
	os.Exit(code)
}

// container holds the bundles in Azurite.
const container = "bundles"

// hostVersion is the Functions host version the harness claims to be.
const hostVersion = "4.1037.1.1"

// TestHandler drives the built handler the way the Functions host does: it
// starts the binary with FUNCTIONS_CUSTOMHANDLER_PORT, waits for GET / to
// answer, and POSTs the host's invocation payloads (Event Grid events from
// Azurite uploads, timer ticks) to /BlobCreated and /Reset. The database
// role's password is the token the managed identity endpoint fake issues,
// so a deploy proves the token reached PostgreSQL.
func TestHandler(t *testing.T) {
	testpg.Require(t, clusterErr)
	h := newHarness(t)

	t.Run("Scenarios", func(t *testing.T) { functest.Run(t, h.setup, h) })
	t.Run("Routes", h.testRoutes)
	t.Run("FailedAnswerReasonOnStdout", h.testFailedAnswerReasonOnStdout)
	t.Run("FleetRetryableIsFailed", h.testFleetRetryable)
	t.Run("MalformedInvocations", h.testMalformed)
	t.Run("OtherStorageAccount", h.testOtherAccount)
	t.Run("ResetNotConfigured", h.testResetNotConfigured)
	t.Run("ResetNamedBundle", h.testResetNamedBundle)
	t.Run("PGMITimeoutWithoutHostJSON", h.testPGMITimeout)
	t.Run("Shutdown", h.testShutdown)
	t.Run("InvalidConfiguration", h.testInvalidConfig)
	t.Run("NoSecretsInOutput", h.testNoSecrets)
}

// harness implements functest.Harness for the custom handler.
type harness struct {
	bin   string
	setup *functest.Setup
	store *azurite.Server
	mi    *azurefake.ManagedIdentity
	role  string
	token string

	seq    atomic.Int64 // Event Grid sequencers
	resets atomic.Int64 // timer occurrences

	logDir string // handler output, kept until TestHandler ends (the suite scans it last)

	mu      sync.Mutex
	uploads map[string]upload // by ETag
	procs   []*proc
}

type upload struct {
	size int
	at   time.Time
}

func newHarness(t *testing.T) *harness {
	h := &harness{uploads: map[string]upload{}, logDir: t.TempDir()}
	h.bin = buildHandler(t)

	h.mi = azurefake.StartManagedIdentity(t)
	h.token = azurefake.NewToken("entra_deployer", 2000)
	h.mi.SetToken("", h.token) // the function app's system-assigned identity
	// Created before the databases, so its cleanup runs after they are
	// dropped (a reset recreates the reset database owned by this role).
	h.role = cluster.NewRole(t, "entra_deployer")
	cluster.Exec(t, "postgres", "ALTER ROLE "+pgx.Identifier{h.role}.Sanitize()+" SUPERUSER")
	if err := cluster.SetPassword(t.Context(), h.role, h.token); err != nil {
		t.Fatal(err)
	}
	h.setup = functest.NewSetup(t, cluster)
	h.setup.Secrets = append(h.setup.Secrets, h.token, azurite.Key)

	h.store = azurite.Start(t)
	h.store.CreateContainer(t, container)
	return h
}

// Upload puts a block blob; the event will carry the ETag the upload
// returned and a sequencer that orders after every earlier upload.
func (h *harness) Upload(t *testing.T, key string, data []byte) functest.Object {
	etag := h.store.Put(t, container, key, data)
	h.mu.Lock()
	h.uploads[etag] = upload{size: len(data), at: time.Now().UTC()}
	h.mu.Unlock()
	// Event Grid's sequencers are opaque hex strings of one length that
	// order as strings.
	seq := fmt.Sprintf("%032X%016x", 0x5A3F, h.seq.Add(1))
	return functest.Object{Key: key, Version: etag, Sequencer: seq}
}

// Start runs one handler process: the host sends concurrent invocations to
// one custom handler, so Concurrency needs no more processes. Deadline is
// host.json's functionTimeout, the limit the host enforces.
func (h *harness) Start(t *testing.T, opts functest.Options) functest.Instance {
	timeout := "00:30:00"
	if opts.Deadline > 0 {
		timeout = timeSpan(opts.Deadline)
	}
	dir := appDir(t, timeout)
	return h.launch(t, dir, h.env(t, opts))
}

// ReadResult reads a result object, azblob://<container>/<key>.
func (h *harness) ReadResult(t *testing.T, resultURL string) []byte {
	rest, ok := strings.CutPrefix(resultURL, "azblob://")
	c, key, _ := strings.Cut(rest, "/")
	if !ok || c == "" || key == "" {
		t.Fatalf("result URL %q is not azblob://<container>/<key>", resultURL)
	}
	data, err := h.store.OpenBucket(t, c, "", false).ReadAll(t.Context(), key)
	if err != nil {
		t.Fatalf("read %s: %v", resultURL, err)
	}
	return data
}

// env is an instance's environment: the suite's PGMI_* variables, the
// connection as an Azure app would set it (the role named after the
// identity, TLS required, no password), the managed identity endpoint the
// platform provides, and the storage account with Azurite's endpoint.
func (h *harness) env(t *testing.T, opts functest.Options) map[string]string {
	env := h.setup.Env()
	port := cluster.Port()
	if opts.Unreachable {
		port = freePort(t) // nothing listens there
	}
	params := url.Values{"domain": {h.store.Host}, "protocol": {"http"}, "localemu": {"true"}}
	for k, v := range map[string]string{
		"PGHOST": cluster.Host(), "PGPORT": strconv.Itoa(port), "PGUSER": h.role,
		"PGDATABASE": h.setup.Database, "PGSSLMODE": "require",
		"IDENTITY_ENDPOINT": h.mi.URL, "IDENTITY_HEADER": h.mi.Header,
		"AZURE_STORAGE_ACCOUNT": azurite.Account, "AZURE_STORAGE_KEY": azurite.Key,
		"PGMI_BUCKET_URL_PARAMS": params.Encode(),
		"HOME":                   t.TempDir(), "TMPDIR": t.TempDir(),
	} {
		env[k] = v
	}
	if opts.ResetDB != "" {
		env[envResetDatabase] = opts.ResetDB
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	return env
}

// appDir is a function app's root as the host lays it out: host.json (with
// functionTimeout set, "" for no host.json) and the function folders. The
// handler runs there.
func appDir(t *testing.T, functionTimeout string) string {
	dir := t.TempDir()
	if functionTimeout == "" {
		return dir
	}
	var host map[string]any
	raw, err := os.ReadFile(hostJSONFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &host); err != nil {
		t.Fatal(err)
	}
	host["functionTimeout"] = functionTimeout
	out, _ := json.MarshalIndent(host, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, hostJSONFile), out, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{blobCreatedFunction, resetFunction, fleetFunction} {
		raw, err := os.ReadFile(filepath.Join(fn, "function.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fn, "function.json"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// timeSpan writes d as host.json's hh:mm:ss.
func timeSpan(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// launch starts the handler in dir and waits until it answers GET /. A
// free port can be taken between the probe and the handler's listen; then
// the handler exits saying so, and another port is tried.
func (h *harness) launch(t *testing.T, dir string, env map[string]string) *instance {
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		env[envPort] = strconv.Itoa(port)
		in := &instance{h: h, p: h.startProc(t, dir, env), base: "http://127.0.0.1:" + strconv.Itoa(port), resetDB: env[envResetDatabase]}
		err := in.waitReady(t)
		if err == nil {
			return in
		}
		if attempt == 3 || !strings.Contains(in.p.output(), "cannot listen") {
			t.Fatalf("%v\n%s", err, in.p.output())
		}
	}
}

// waitReady polls GET / as the host does until it answers.
func (in *instance) waitReady(t *testing.T) error {
	until := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(in.base + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET / = %s, want 200", resp.Status)
			}
			return nil
		}
		select {
		case <-in.p.done:
			return fmt.Errorf("the handler exited before listening: %v", in.p.err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(until) {
			return fmt.Errorf("the handler did not answer GET / within 15s")
		}
	}
}

// instance is one running handler.
type instance struct {
	h       *harness
	p       *proc
	base    string
	resetDB string
	n       atomic.Int64 // deliveries, to alternate the binding value's form
}

// Deliver POSTs the host's EventGridTrigger invocation for obj. The event
// id is the same for every delivery of one upload, as Event Grid's retries
// are; the binding value alternates between a JSON object and a JSON
// string holding it.
func (in *instance) Deliver(t *testing.T, obj functest.Object) functest.Reply {
	return in.deliverEvent(t, in.h.gridEvent(obj, azurite.Account, ""))
}

func (in *instance) deliverEvent(t *testing.T, ev map[string]any) functest.Reply {
	asString := in.n.Add(1)%2 == 0
	body := map[string]any{
		"Data":     map[string]any{eventGridBinding: bindingForm(ev, asString)},
		"Metadata": map[string]any{"data": bindingForm(ev["data"], asString), "sys": sysMetadata(blobCreatedFunction)},
	}
	return in.invoke(t, blobCreatedFunction, mustJSON(body))
}

// Reset POSTs the host's TimerTrigger invocation. The timer carries no
// database or bundle: the instance resets the database it was started with
// (PGMI_RESET_DATABASE) and redeploys the last bundle of its ledger. Each
// call is another occurrence of the schedule (its ScheduleStatus.Next); the
// suite's schedule name has no place in the timer's payload.
func (in *instance) Reset(t *testing.T, db string, _ functest.Object, _ string) functest.Reply {
	if db != in.resetDB {
		t.Fatalf("reset of %q asked of an instance started with %s=%q", db, envResetDatabase, in.resetDB)
	}
	return in.invoke(t, resetFunction, in.h.timerInvocation(in.n.Add(1)%2 == 0))
}

// Logs parses the JSON lines the handler wrote on stdout.
func (in *instance) Logs(t *testing.T) []functest.Line {
	return in.p.lines(t)
}

// invoke POSTs one invocation with the host's headers and checks that the
// answer is the host's JSON whatever its status. It may run on a goroutine
// of its own, so it reports with Errorf.
func (in *instance) invoke(t *testing.T, function string, body []byte) functest.Reply {
	status, reply, err := in.post(t, function, body)
	if err != nil {
		t.Errorf("POST /%s: %v", function, err)
		return functest.Reply{Retry: true, Detail: err.Error()}
	}
	checkHostReply(t, status, reply)
	return functest.Reply{Retry: status < 200 || status > 299, Detail: fmt.Sprintf("HTTP %d %s", status, reply)}
}

func (in *instance) post(t *testing.T, function string, body []byte) (int, []byte, error) {
	return in.postAs(t, azurefake.NewID(), function, body)
}

// postAs is post with the invocation id given.
func (in *instance) postAs(t *testing.T, invocationID, function string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.base+"/"+function, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set(invocationIDHeader, invocationID)
	req.Header.Set("X-Azure-Functions-HostVersion", hostVersion)
	req.Header.Set("User-Agent", "Azure-Functions-Host/"+hostVersion)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	return resp.StatusCode, reply, err
}

// checkHostReply: the host needs a JSON object with Outputs, Logs and
// ReturnValue on every answer, success or failure, or it fails the
// invocation with "Invalid HttpResponseMessage".
func checkHostReply(t *testing.T, status int, body []byte) {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		t.Errorf("HTTP %d: the body is not a JSON object: %v\n%s", status, err, body)
		return
	}
	var r struct {
		Outputs     map[string]any
		Logs        []string
		ReturnValue struct {
			Outcome string `json:"outcome"`
		}
	}
	err := json.Unmarshal(body, &r)
	switch {
	case err != nil:
		t.Errorf("HTTP %d: %v\n%s", status, err, body)
	case members["Outputs"] == nil || r.Outputs == nil:
		t.Errorf("HTTP %d: no Outputs object: %s", status, body)
	case len(r.Logs) == 0:
		t.Errorf("HTTP %d: no Logs line: %s", status, body)
	case r.ReturnValue.Outcome == "":
		t.Errorf("HTTP %d: ReturnValue has no outcome: %s", status, body)
	}
}

// gridEvent is the Event Grid schema event for an upload of obj to
// account; urlHost "" means Azurite's path-style URL.
func (h *harness) gridEvent(obj functest.Object, account, urlHost string) map[string]any {
	h.mu.Lock()
	up := h.uploads[obj.Version]
	h.mu.Unlock()
	u := url.URL{Scheme: "http", Host: h.store.Host, Path: "/" + account + "/" + container + "/" + obj.Key}
	if urlHost != "" {
		u = url.URL{Scheme: "https", Host: urlHost, Path: "/" + container + "/" + obj.Key}
	}
	id := eventID(obj)
	return map[string]any{
		"topic":     "/subscriptions/5f4c6a2e-1b8d-4c3e-9a7f-0d2e8b6c4a10/resourceGroups/pgmi-test/providers/Microsoft.Storage/storageAccounts/" + account,
		"subject":   subjectPrefix + container + "/blobs/" + obj.Key,
		"eventType": blobCreatedType,
		"eventTime": up.at.Format(time.RFC3339Nano),
		"id":        id,
		"data": map[string]any{
			"api": "PutBlob", "clientRequestId": id, "requestId": id,
			"eTag": obj.Version, "contentType": "application/gzip", "contentLength": up.size,
			"blobType": "BlockBlob", "url": u.String(), "sequencer": obj.Sequencer,
			"storageDiagnostics": map[string]any{"batchId": id},
		},
		"dataVersion":     "",
		"metadataVersion": "1",
	}
}

// eventID is the same GUID for every delivery of one upload.
func eventID(obj functest.Object) string {
	s := sha256.Sum256([]byte(obj.Key + "\x00" + obj.Version))
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// timerInvocation is the host's TimerTrigger payload for the next
// occurrence of a daily schedule: the status the host holds before the run
// (Last = the previous run, Next = this one).
func (h *harness) timerInvocation(asString bool) []byte {
	next := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC).AddDate(0, 0, int(h.resets.Add(1)))
	last := next.AddDate(0, 0, -1)
	hostTime := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.9999999-07:00") }
	timer := map[string]any{
		"Schedule":       map[string]any{"AdjustForDST": true},
		"ScheduleStatus": map[string]any{"Last": hostTime(last), "Next": hostTime(next), "LastUpdated": hostTime(last)},
		"IsPastDue":      false,
	}
	return mustJSON(map[string]any{
		"Data":     map[string]any{timerBinding: bindingForm(timer, asString)},
		"Metadata": map[string]any{"sys": sysMetadata(resetFunction)},
	})
}

func sysMetadata(function string) map[string]any {
	return map[string]any{"MethodName": function, "UtcNow": time.Now().UTC().Format(time.RFC3339Nano), "RandGuid": azurefake.NewID()}
}

// bindingForm is v as the host may send a binding value: the JSON itself,
// or a JSON string holding it.
func bindingForm(v any, asString bool) any {
	if asString {
		return string(mustJSON(v))
	}
	return v
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a handler process. Its stdout and stderr are files the process
// writes itself: a line it logged before answering an invocation is in the
// file by the time the answer arrives (a pipe would need a copying
// goroutine, which may lag behind the answer).
type proc struct {
	cmd    *exec.Cmd
	stdout string // file names
	stderr string
	done   chan struct{}
	err    error // valid once done is closed
}

// startProc runs the handler in dir with exactly env (nothing of the
// test's own environment). At cleanup it is stopped like the host stops it,
// SIGTERM, then killed if it lingers; its output is logged if the test
// failed, and kept for testNoSecrets.
func (h *harness) startProc(t *testing.T, dir string, env map[string]string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(h.bin), done: make(chan struct{})}
	p.cmd.Dir = dir
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	slices.Sort(p.cmd.Env)
	logs, err := os.MkdirTemp(h.logDir, "handler")
	if err != nil {
		t.Fatal(err)
	}
	p.stdout, p.stderr = filepath.Join(logs, "stdout"), filepath.Join(logs, "stderr")
	for name, w := range map[string]*io.Writer{p.stdout: &p.cmd.Stdout, p.stderr: &p.cmd.Stderr} {
		f, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close() // the child holds its own descriptor
		*w = f
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", h.bin, err)
	}
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("handler (pid %d) output:\n%s", p.cmd.Process.Pid, p.output())
		}
	})
	return p
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) output() string {
	out, _ := os.ReadFile(p.stdout)
	errs, _ := os.ReadFile(p.stderr)
	return string(out) + string(errs)
}

// lines parses the complete lines of stdout (one being written is left for
// the next call); every line must be a JSON object.
func (p *proc) lines(t *testing.T) []functest.Line {
	out, err := os.ReadFile(p.stdout)
	if err != nil {
		t.Errorf("handler stdout: %v", err)
	}
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[:i+1]
	} else {
		out = nil
	}
	var lines []functest.Line
	for _, raw := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		var l functest.Line
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Errorf("a stdout line is not JSON: %q", raw)
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// waitLine returns the first line that match accepts, waiting a little for
// it to be written.
func waitLine(t *testing.T, in *instance, match func(functest.Line) bool) functest.Line {
	t.Helper()
	until := time.Now().Add(5 * time.Second)
	for {
		for _, l := range in.Logs(t) {
			if match(l) {
				return l
			}
		}
		if time.Now().After(until) {
			t.Fatalf("no such log line; output:\n%s", in.p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func str(l functest.Line, k string) string { s, _ := l[k].(string); return s }

// testRoutes: GET / is the host's readiness ping; a function this handler
// does not serve gets a JSON 404 and an error line.
func (h *harness) testRoutes(t *testing.T) {
	in := h.Start(t, functest.Options{}).(*instance)
	resp, err := http.Get(in.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET / = %s, want 200", resp.Status)
	}
	id := azurefake.NewID()
	status, body, err := in.postAs(t, id, "Cleanup", []byte(`{"Data":{},"Metadata":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusNotFound || !json.Valid(body) {
		t.Errorf("POST /Cleanup = %d %s, want 404 with the host's JSON", status, body)
	}
	// The host reads no body of a failed invocation: the stdout line is the
	// record, and names the invocation.
	l := waitLine(t, in, func(l functest.Line) bool {
		return l["level"] == "ERROR" && strings.Contains(str(l, "message"), `"Cleanup"`)
	})
	if str(l, "invocationId") != id {
		t.Errorf("the ERROR line of the 404 does not name the invocation %s: %v", id, l)
	}
}

// testFailedAnswerReasonOnStdout: the host does not read the body of a
// non-2xx answer, so the Logs of a retryable failure never reach the
// invocation's log; the handler's stdout line for that invocation says
// why (a retryable outcome is the 500).
func (h *harness) testFailedAnswerReasonOnStdout(t *testing.T) {
	in := h.Start(t, functest.Options{Unreachable: true}).(*instance)
	obj := h.Upload(t, "app/releases/unreachable-500.tgz", testbundle.Pack(t, h.setup.Key, "app", testbundle.Project("SELECT 1;")))
	id := azurefake.NewID()
	ev := h.gridEvent(obj, azurite.Account, "")
	body := mustJSON(map[string]any{
		"Data":     map[string]any{eventGridBinding: ev},
		"Metadata": map[string]any{"data": ev["data"], "sys": sysMetadata(blobCreatedFunction)},
	})
	status, _, err := in.postAs(t, id, blobCreatedFunction, body)
	if err != nil || status != http.StatusInternalServerError {
		t.Fatalf("POST: %d, %v; want 500", status, err)
	}
	l := waitLine(t, in, func(l functest.Line) bool { return str(l, "invocationId") == id && l.Outcome() != "" })
	if l["level"] != "WARN" || l["retryable"] != true || !strings.Contains(str(l, "error"), "connection refused") {
		t.Fatalf("the stdout line of the invocation answered 500: %v; want a retryable WARN outcome with the reason", l)
	}
}

// testFleetRetryable: a fleet message whose target cannot be reached is
// answered 500, so the host fails the invocation and abandons the message
// for Service Bus to deliver again; the stdout line says why.
func (h *harness) testFleetRetryable(t *testing.T) {
	env, _ := h.FleetQueue(t)
	env["PGMI_ROUTES"] = `[{"prefix":"tenants/","fleet":{"databases":["` + h.setup.Database + `"],"waves":["100%"]}}]`
	in := h.Start(t, functest.Options{Unreachable: true, Env: env}).(*instance)
	m := sbqueue.Message{ID: "0123456789abcdef0123456789abcdef", SequenceNumber: 1, EnqueuedTime: time.Now().UTC(),
		Body: []byte(`{"action":"deploy","rollout":1,"database":"` + h.setup.Database + `","bundle":"azblob://` + container + `/tenants/r.tgz","version":"0x1"}`)}
	id := azurefake.NewID()
	status, _, err := in.postAs(t, id, fleetFunction, serviceBusInvocation(m, 1, 0))
	if err != nil || status != http.StatusInternalServerError {
		t.Fatalf("POST /%s: %d, %v; want 500 (the host abandons the message)", fleetFunction, status, err)
	}
	l := waitLine(t, in, func(l functest.Line) bool { return str(l, "invocationId") == id && l.Outcome() != "" })
	if l["retryable"] != true || str(l, "eventId") != m.ID {
		t.Fatalf("the stdout line of the fleet invocation answered 500: %v; want a retryable outcome naming the message", l)
	}
}

// testMalformed: an invocation that cannot be read is acknowledged (200)
// with an error line: the same bytes will never parse, and a failure would
// make Event Grid deliver them again for a day.
func (h *harness) testMalformed(t *testing.T) {
	in := h.Start(t, functest.Options{ResetDB: h.setup.ResetDB}).(*instance)
	for _, tc := range []struct{ name, function, body, eventID string }{
		{"NotJSON", blobCreatedFunction, `this is not JSON`, ""},
		{"NoData", blobCreatedFunction, `{"Metadata":{}}`, ""},
		{"WrongBinding", blobCreatedFunction, `{"Data":{"myEvent":{}},"Metadata":{}}`, ""},
		{"StringWithoutJSON", blobCreatedFunction, `{"Data":{"eventGridEvent":"not an event"},"Metadata":{}}`, ""},
		{"NoSubject", blobCreatedFunction, `{"Data":{"eventGridEvent":{"id":"1","eventType":"Microsoft.Storage.BlobCreated","data":{"api":"PutBlob","eTag":"0x1"}}},"Metadata":{}}`, "1"},
		{"NoEventType", blobCreatedFunction, `{"Data":{"eventGridEvent":{"id":"e-2","subject":"/x","data":{}}},"Metadata":{}}`, "e-2"},
		{"TimerNotJSON", resetFunction, `[`, ""},
		{"TimerWrongBinding", resetFunction, `{"Data":{"myTimer":{}},"Metadata":{}}`, ""},
		{"FleetNotJSON", fleetFunction, `{"Data":{"message":"not a message"},"Metadata":{"MessageId":"\"m-9\"","DeliveryCount":"1"}}`, "m-9"},
		{"FleetNoRollout", fleetFunction, `{"Data":{"message":"{\"action\":\"reset\",\"database\":\"app_dev\"}"},"Metadata":{"MessageId":"m-10"}}`, "m-10"},
		{"FleetWrongBinding", fleetFunction, `{"Data":{"myQueueItem":"{}"},"Metadata":{}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(in.Logs(t))
			r := in.invoke(t, tc.function, []byte(tc.body))
			if r.Retry {
				t.Fatalf("a malformed invocation was failed (the platform would retry it): %s", r.Detail)
			}
			var found bool
			for _, l := range in.Logs(t)[before:] {
				found = found || (l["level"] == "ERROR" && l.Outcome() == "failed" && strings.Contains(str(l, "error"), "invalid event") &&
					str(l, "eventId") == tc.eventID)
			}
			if !found {
				t.Fatalf("no ERROR outcome line saying the event is invalid, with eventId %q; output:\n%s", tc.eventID, in.p.output())
			}
		})
	}
}

// testOtherAccount: a BlobCreated event from another storage account
// (a subscription on the wrong account, a forwarded event) is ignored and
// nothing is read or deployed.
func (h *harness) testOtherAccount(t *testing.T) {
	in := h.Start(t, functest.Options{}).(*instance)
	obj := h.Upload(t, "app/releases/elsewhere.tgz", testbundle.Pack(t, h.setup.Key, "app", testbundle.Project("CREATE TABLE other_account_ran (id int);")))
	r := in.deliverEvent(t, h.gridEvent(obj, "otheraccount", "otheraccount.blob.core.windows.net"))
	if r.Retry {
		t.Fatalf("retry asked: %s", r.Detail)
	}
	l := waitLine(t, in, func(l functest.Line) bool { return l.Outcome() != "" })
	if l.Outcome() != "ignored" || !strings.Contains(str(l, "error"), `"otheraccount"`) || !strings.Contains(str(l, "error"), envAccount) {
		t.Fatalf("want ignored, naming the account and %s: %v", envAccount, l)
	}
	conn := cluster.Connect(t, h.setup.Database)
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_class WHERE relname = 'other_account_ran'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the event from another account was deployed (%d, %v)", n, err)
	}
}

// testResetNotConfigured: without PGMI_RESET_DATABASE the timer has nothing
// to do; it says so in an error line and acknowledges.
func (h *harness) testResetNotConfigured(t *testing.T) {
	in := h.Start(t, functest.Options{}).(*instance)
	r := in.invoke(t, resetFunction, h.timerInvocation(false))
	if r.Retry {
		t.Fatalf("retry asked: %s", r.Detail)
	}
	waitLine(t, in, func(l functest.Line) bool {
		return l["level"] == "ERROR" && strings.Contains(str(l, "message"), envResetDatabase)
	})
}

// testResetNamedBundle: PGMI_RESET_BUNDLE names the bundle a reset
// deploys (its current content), instead of the last one in the ledger.
func (h *harness) testResetNamedBundle(t *testing.T) {
	key := "app/seeds/named.tgz"
	h.Upload(t, key, testbundle.Pack(t, h.setup.Key, "app", testbundle.Project("CREATE TABLE named_seed (id int);")))
	in := h.Start(t, functest.Options{ResetDB: h.setup.ResetDB, Env: map[string]string{envResetBundle: "azblob://" + container + "/" + key}}).(*instance)
	if r := in.Reset(t, h.setup.ResetDB, functest.Object{}, ""); r.Retry {
		t.Fatalf("retry asked: %s", r.Detail)
	}
	l := waitLine(t, in, func(l functest.Line) bool { return l.Outcome() != "" })
	if l.Outcome() != "deployed" || str(l, "action") != "reset" || !strings.HasSuffix(str(l, "bundle"), "/"+key) {
		t.Fatalf("want the named bundle deployed by a reset: %v", l)
	}
	conn := cluster.Connect(t, h.setup.ResetDB)
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_class WHERE relname = 'named_seed'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("named_seed not in the reset database (%d, %v)", n, err)
	}
}

// testPGMITimeout: with no functionTimeout to go by (no host.json in the
// working directory), PGMI_TIMEOUT bounds the invocation; a deploy cut by
// it is answered as a failure so Event Grid retries.
func (h *harness) testPGMITimeout(t *testing.T) {
	env := h.env(t, functest.Options{})
	env["PGMI_TIMEOUT"] = "2s"
	in := h.launch(t, appDir(t, ""), env)
	obj := h.Upload(t, "app/releases/slow-env.tgz", testbundle.Pack(t, h.setup.Key, "app",
		testbundle.Project("BEGIN; CREATE TABLE slow_env_ran (id int); SELECT pg_sleep(60); COMMIT;")))
	start := time.Now()
	r := in.Deliver(t, obj)
	if !r.Retry {
		t.Fatalf("a deploy cut by PGMI_TIMEOUT must be retried: %s", r.Detail)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("answered after %s with PGMI_TIMEOUT=2s", d)
	}
}

// testShutdown: SIGTERM, as when the host stops the worker, ends the
// handler cleanly.
func (h *harness) testShutdown(t *testing.T) {
	in := h.Start(t, functest.Options{}).(*instance)
	if err := in.p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not exit within 5s of SIGTERM")
	}
	if in.p.err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", in.p.err, in.p.output())
	}
	waitLine(t, in, func(l functest.Line) bool { return strings.HasPrefix(str(l, "message"), "shutting down") })
}

// testInvalidConfig: a bad setting stops the handler at cold start with a
// non-zero exit and one ERROR line naming the variable, so the host reports
// a failed start instead of failing every invocation.
func (h *harness) testInvalidConfig(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct {
		name    string
		edit    func(env map[string]string)
		names   string
		timeout string // host.json's functionTimeout; "" means 00:30:00
	}{
		{"NoPort", func(env map[string]string) { delete(env, envPort) }, envPort, ""},
		{"BadPort", func(env map[string]string) { env[envPort] = "http" }, envPort, ""},
		{"PortInUse", func(env map[string]string) { env[envPort] = busyPort }, envPort, ""},
		{"ResetBundleNotAzure", func(env map[string]string) { env[envResetBundle] = "s3://bundles/app.tgz" }, envResetBundle, ""},
		{"NoStorageAccount", func(env map[string]string) { delete(env, envAccount) }, envAccount, ""},
		{"NoTrustedSigners", func(env map[string]string) { delete(env, "PGMI_TRUSTED_SIGNERS") }, "PGMI_TRUSTED_SIGNERS", ""},
		{"BadTimeout", func(env map[string]string) { env["PGMI_TIMEOUT"] = "soon" }, "PGMI_TIMEOUT", ""},
		{"BadRoutes", func(env map[string]string) { env["PGMI_ROUTES"] = "[" }, "PGMI_ROUTES", ""},
		{"MarginNotBelowHostJSON", func(env map[string]string) { env["PGMI_TIMEOUT_MARGIN"] = "10s" }, "PGMI_TIMEOUT_MARGIN", "00:00:05"},
		{"MarginNamesFunctionTimeout", func(env map[string]string) { env["PGMI_TIMEOUT_MARGIN"] = "10s" }, "functionTimeout", "00:00:10"},
		{"MarginNotBelowAppSetting", func(env map[string]string) {
			env["PGMI_TIMEOUT_MARGIN"] = "1m"
			env["AzureFunctionsJobHost__functionTimeout"] = "00:00:30"
		}, "AzureFunctionsJobHost__functionTimeout", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := h.env(t, functest.Options{})
			env[envPort] = strconv.Itoa(freePort(t))
			tc.edit(env)
			timeout := tc.timeout
			if timeout == "" {
				timeout = "00:30:00"
			}
			p := h.startProc(t, appDir(t, timeout), env)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Fatalf("the handler still runs with an invalid configuration\n%s", p.output())
			}
			if p.err == nil {
				t.Fatalf("exit status 0 with an invalid configuration\n%s", p.output())
			}
			var errs []functest.Line
			for _, l := range p.lines(t) {
				if l["level"] == "ERROR" {
					errs = append(errs, l)
				}
			}
			if len(errs) != 1 || !strings.Contains(str(errs[0], "message"), tc.names) {
				t.Fatalf("want one ERROR line naming %s; output:\n%s", tc.names, p.output())
			}
		})
	}
}

// testNoSecrets: nothing any handler wrote, through every scenario above
// (failures included), holds the identity's token or the storage key.
func (h *harness) testNoSecrets(t *testing.T) {
	h.mu.Lock()
	procs := slices.Clone(h.procs)
	h.mu.Unlock()
	if len(procs) < 5 {
		t.Fatalf("only %d handler processes ran", len(procs))
	}
	for _, p := range procs {
		out := p.output()
		for name, secret := range map[string]string{"the token": h.token, "the storage key": azurite.Key} {
			if strings.Contains(out, secret) || strings.Contains(out, secret[:40]) {
				t.Errorf("handler pid %d printed %s", p.cmd.Process.Pid, name)
			}
		}
	}
}
