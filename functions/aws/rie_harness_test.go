package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/internal/pgserver"
)

// riePkg is AWS's Lambda Runtime Interface Emulator, pinned in go.mod as a
// tool dependency (go get -tool), so `go build` takes it from the module
// cache at the pinned version and nothing of it is linked into bootstrap.
const riePkg = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

var rieBuild struct {
	once sync.Once
	path string
	err  error
}

// rieBinary builds the emulator once per test binary into the repository's
// gitignored .cache/rie (go build leaves an up-to-date binary alone, so
// later runs only check it). Under CI=true an emulator that cannot be built
// fails the test; elsewhere the test is skipped with the reason.
func rieBinary(tb testing.TB) string {
	tb.Helper()
	rieBuild.once.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		gomod := strings.TrimSpace(string(out))
		if err != nil || gomod == "" || gomod == os.DevNull {
			rieBuild.err = fmt.Errorf("go env GOMOD: %q, %v", gomod, err)
			return
		}
		root := filepath.Dir(gomod)
		dir := filepath.Join(root, ".cache", "rie")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			rieBuild.err = err
			return
		}
		path := filepath.Join(dir, "aws-lambda-rie")
		cmd := exec.Command("go", "build", "-o", path, riePkg)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			rieBuild.err = fmt.Errorf("go build %s: %v\n%s", riePkg, err, b)
			return
		}
		rieBuild.path = path
	})
	if rieBuild.err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("the Lambda Runtime Interface Emulator is required under CI=true: %v", rieBuild.err)
		}
		tb.Skipf("no Lambda Runtime Interface Emulator: %v", rieBuild.err)
	}
	return rieBuild.path
}

// rieHarness is the scenario harness (gofakes3, the credentials endpoint,
// the built bootstrap) with the emulators started from it.
type rieHarness struct {
	*harness
	mu   sync.Mutex
	ries []*rieFunc
}

// rieOptions start one emulator.
type rieOptions struct {
	functest.Options
	Timeout int // AWS_LAMBDA_FUNCTION_TIMEOUT, whole seconds (RIE's default is 300)
	// Concurrency > 0 sets AWS_LAMBDA_MAX_CONCURRENCY, which switches RIE
	// to its Lambda Managed Instances mode (several invocations at once in
	// one runtime process).
	Concurrency int
	Binary      string // the bootstrap to run; "" is the harness's
	// Wrap, if set, is the command line that runs RIE (e.g. unshare).
	Wrap func(rie []string) []string
}

// rieFunc is the real bootstrap under AWS's Runtime Interface Emulator,
// which starts it on the first invocation and restarts it after a timeout.
type rieFunc struct {
	url    string // the invoke endpoint
	cmd    *exec.Cmd
	stdout *lineBuffer
	stderr *lineBuffer
	done   chan struct{}
	err    error
	stop   sync.Once
}

// rieResponse is what the emulator's invoke endpoint answered.
type rieResponse struct {
	Status  int
	Header  http.Header
	Body    []byte
	Elapsed time.Duration
}

// functionError decodes the error document RIE passes on, for a 200 as
// well: RIE answers function errors with 200 and no X-Amz-Function-Error.
func (r rieResponse) functionError() (typ, msg string, ok bool) {
	var doc struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(r.Body, &doc) != nil || doc.ErrorType == "" {
		return "", "", false
	}
	return doc.ErrorType, doc.ErrorMessage, true
}

func (r rieResponse) String() string {
	return fmt.Sprintf("HTTP %d after %s: %s", r.Status, r.Elapsed.Round(time.Millisecond), r.Body)
}

// startRIE runs the emulator with a clean, explicit environment (it hands
// its whole environment to the function): PATH, HOME, the harness's PGMI_*,
// PG* and AWS_* settings, the function's identity and timeout.
func (h *rieHarness) startRIE(tb testing.TB, o rieOptions) *rieFunc {
	tb.Helper()
	rie := rieBinary(tb)
	bin := o.Binary
	if bin == "" {
		bin = h.bin
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = int(defaultDeadline / time.Second)
	}
	env := append(h.env(tb, o.Options),
		"PATH="+os.Getenv("PATH"),
		"HOME="+tb.TempDir(),
		"AWS_LAMBDA_FUNCTION_NAME=pgmi-deploy",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(timeout),
	)
	if o.Concurrency > 0 {
		env = append(env, "AWS_LAMBDA_MAX_CONCURRENCY="+strconv.Itoa(o.Concurrency))
	}
	addr, api := freeAddr(tb), freeAddr(tb)
	args := []string{rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", api, bin}
	if o.Wrap != nil {
		args = o.Wrap(args)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	cmd.Dir = filepath.Dir(bin)
	cmd.WaitDelay = 5 * time.Second
	f := &rieFunc{url: "http://" + addr + "/2015-03-31/functions/function/invocations", cmd: cmd,
		stdout: &lineBuffer{}, stderr: &lineBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = f.stdout, f.stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", rie, err)
	}
	go func() {
		f.err = cmd.Wait()
		close(f.done)
	}()
	tb.Cleanup(func() {
		f.Stop()
		if tb.Failed() {
			tb.Logf("RIE output:\n%s", f.output())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		select {
		case <-f.done:
			tb.Fatalf("RIE exited at start (%v):\n%s", f.err, f.output())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("RIE does not listen on %s after 30s:\n%s", addr, f.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.mu.Lock()
	h.ries = append(h.ries, f)
	h.mu.Unlock()
	return f
}

// freeAddr is a loopback address nothing listened on a moment ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// invoke posts one event to the emulator and waits for its answer.
func (f *rieFunc) invoke(tb testing.TB, payload []byte) rieResponse {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(payload))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("invoking through RIE: %v\n%s", err, f.output())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("reading RIE's answer: %v", err)
	}
	return rieResponse{Status: resp.StatusCode, Header: resp.Header, Body: body, Elapsed: time.Since(start)}
}

// invokeAccepted is invoke, retried for up to 10 s while RIE turns the
// invocation away itself, before it reaches the function (whose own
// failures come back as 200):
//   - 400 Runtime.Unavailable: in its concurrent mode RIE starts the
//     runtime at once and refuses invocations until enough of its pollers
//     wait for work;
//   - 502 Sandbox.Failure "ErrGateCanceled": after it killed a runtime on a
//     hard timeout, an invocation that arrives while it is still resetting
//     finds its own gate cancelled (seen once in a CI run; the runtime
//     printed nothing). The platform delivers such an event again, as this
//     does.
func (f *rieFunc) invokeAccepted(tb testing.TB, payload []byte) rieResponse {
	tb.Helper()
	until := time.Now().Add(10 * time.Second)
	for {
		resp := f.invoke(tb, payload)
		turnedAway := resp.Status == http.StatusBadRequest && bytes.Contains(resp.Body, []byte("Runtime.Unavailable")) ||
			resp.Status == http.StatusBadGateway && bytes.Contains(resp.Body, []byte("ErrGateCanceled"))
		if !turnedAway || time.Now().After(until) {
			return resp
		}
		tb.Logf("RIE turned the invocation away (%s); invoking again", resp)
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends the emulator and the runtime it started: RIE runs the
// bootstrap in a process group of its own, so the bootstrap processes are
// found (children of RIE) before RIE is asked to stop, and killed if they
// outlive it.
func (f *rieFunc) Stop() {
	f.stop.Do(func() {
		kids := childrenOf(f.cmd.Process.Pid)
		_ = f.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-f.done:
		case <-time.After(3 * time.Second):
			_ = f.cmd.Process.Kill()
			<-f.done
		}
		for _, pid := range kids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// childrenOf lists pid's descendants (pgserver.ChildPIDs, from /proc).
func childrenOf(pid int) []int {
	kids, _ := pgserver.ChildPIDs(pid)
	for _, child := range kids {
		kids = append(kids, childrenOf(child)...)
	}
	return kids
}

func (f *rieFunc) output() string {
	return "--- stdout\n" + f.stdout.String() + "--- stderr\n" + f.stderr.String()
}

// RIE's own lines, which are not the function's: the invocation markers it
// prints on stdout (START, END, REPORT; its REPORT's Init Duration is not
// the function's), its logrus lines on stderr in standard mode, "02 Jan 2006
// 15:04:05,000 [LEVEL] (rapid) message", and its log/slog text lines on
// stdout in the concurrent (Managed Instances) mode, "time=… level=… msg=…".
var (
	rieMarker  = regexp.MustCompile(`^(START RequestId: \S+\sVersion: \S+|END RequestId: \S+|REPORT RequestId: \S+\t.*)$`)
	rieLog     = regexp.MustCompile(`^\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2},\d{3} \[(TRACE|DEBUG|INFO|WARNING|ERROR|FATAL|PANIC)\] \(rapid\) `)
	rieSlogLog = regexp.MustCompile(`^time=\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z level=(DEBUG|INFO|WARN|ERROR) msg=`)
)

// rieLine reports whether a line is the emulator's own.
func rieLine(text string) bool {
	return rieMarker.MatchString(text) || rieLog.MatchString(text) || rieSlogLog.MatchString(text)
}

// functionLines splits the output into the function's lines (everything
// but RIE's own) and counts RIE's.
func (f *rieFunc) functionLines() (fn []string, rie int) {
	for _, out := range []string{f.stdout.String(), f.stderr.String()} {
		for _, text := range strings.Split(out, "\n") {
			switch {
			case strings.TrimSpace(text) == "":
			case rieLine(text):
				rie++
			default:
				fn = append(fn, text)
			}
		}
	}
	return fn, rie
}

// logs are the function's JSON lines.
func (f *rieFunc) logs() []functest.Line {
	fn, _ := f.functionLines()
	return jsonLines(strings.Join(fn, "\n"))
}

// outcomeLines waits up to 5 s for n outcome lines of key and returns
// those seen.
func (f *rieFunc) outcomeLines(key string, n int) []functest.Line {
	deadline := time.Now().Add(5 * time.Second)
	for {
		var found []functest.Line
		for _, l := range f.logs() {
			b, _ := l["bundle"].(string)
			if l.Outcome() != "" && strings.HasSuffix(b, "/"+key) {
				found = append(found, l)
			}
		}
		if len(found) >= n || time.Now().After(deadline) {
			return found
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lineBuffer collects a pipe's output.
type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// resultObject reads and decodes the result object a log line or summary
// names.
func (h *harness) resultObject(tb testing.TB, resultURL string) map[string]any {
	tb.Helper()
	var r map[string]any
	if err := json.Unmarshal(h.readResult(tb, resultURL), &r); err != nil {
		tb.Fatalf("result object %s: %v", resultURL, err)
	}
	return r
}

// ledgerRow is one row of the deploy ledger.
type ledgerRow struct {
	Status    string
	Attempts  int
	Retryable bool
}

// ledgerRows reads db's ledger rows for key, oldest first (none when the
// ledger table does not exist yet).
func ledgerRows(tb testing.TB, db, key string) []ledgerRow {
	tb.Helper()
	conn := pg.Connect(tb, db)
	var exists bool
	if err := conn.QueryRow(tb.Context(), "SELECT to_regclass('pgmi_ledger.deployments') IS NOT NULL").Scan(&exists); err != nil {
		tb.Fatal(err)
	}
	if !exists {
		return nil
	}
	rows, err := conn.Query(tb.Context(), "SELECT status, attempts, retryable FROM pgmi_ledger.deployments WHERE bundle LIKE '%/' || $1 ORDER BY id", key)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []ledgerRow
	for rows.Next() {
		var r ledgerRow
		if err := rows.Scan(&r.Status, &r.Attempts, &r.Retryable); err != nil {
			tb.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}
