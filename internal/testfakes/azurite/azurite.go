// Package azurite runs the Azurite blob emulator as a subprocess for a test,
// behind a loopback reverse proxy with testfakes.Faults, and configures the
// Azure SDK (azblob) and gocloud's azureblob driver to talk to it.
//
// Azurite is a Node.js program that scripts/deps.sh installs from npm into
// .cache/tools/azurite (make deps or make test run it). The harness runs
// node_modules/.bin/azurite-blob from there, or the file named by
// PGMI_AZURITE_BLOB. When it is missing the test is skipped with the
// install command, except under CI=true, where it fails: CI must never pass
// by skipping the Azure tests.
//
// Azurite listens on 127.0.0.1 with a port it picks (--blobPort 0; the
// harness reads the port from its "successfully listens" line), keeps blobs
// in memory, sends no telemetry, and skips the API version check: the Go SDK
// sends a newer x-ms-version than Azurite 3.35.0 knows, and every call would
// otherwise fail with 400 InvalidHeaderValue. The process is stopped by its
// pid (SIGTERM, then SIGKILL) when the test ends.
package azurite

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"

	"github.com/pgmi-cloud/pgmi/internal/testfakes"
)

// Azurite's fixed development account.
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// EnvBinary names an azurite-blob executable to use instead of the one
// scripts/deps.sh installs.
const EnvBinary = "PGMI_AZURITE_BLOB"

// InstallHint is the command that installs Azurite where Binary looks.
const InstallHint = "bash scripts/deps.sh (or make deps), or set " + EnvBinary

// startTimeout bounds Node's start-up; Azurite listens in under a second.
const startTimeout = 30 * time.Second

// Server is a running Azurite.
type Server struct {
	Host     string            // 127.0.0.1:port of the proxy, the gocloud "domain"
	Endpoint string            // http://Host/devstoreaccount1, the blob service URL
	Faults   *testfakes.Faults // in the proxy, in front of Azurite
	Direct   string            // Azurite's own http://127.0.0.1:port
	PID      int               // the azurite-blob process, stopped at cleanup
}

// Binary finds azurite-blob: $PGMI_AZURITE_BLOB, else
// .cache/tools/azurite/node_modules/.bin/azurite-blob in the module root.
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", EnvBinary, err)
		}
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".cache", "tools", "azurite", "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("azurite is not installed: %w", err)
	}
	return p, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Start runs Azurite for the duration of the test, or skips the test (fails
// it under CI=true) when Azurite is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("azurite: %v; CI must run the Azure tests: %s", err, InstallHint)
		}
		t.Skipf("azurite: %v; install it with: %s", err, InstallHint)
	}
	direct, pid := run(t, bin)
	target, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	faults := testfakes.NewFaults(&httputil.ReverseProxy{
		Rewrite:  func(r *httputil.ProxyRequest) { r.SetURL(target) },
		ErrorLog: log.New(io.Discard, "", 0), // injected cuts are expected
	})
	proxy := httptest.NewServer(faults)
	t.Cleanup(proxy.Close)
	host := strings.TrimPrefix(proxy.URL, "http://")
	return &Server{Host: host, Endpoint: proxy.URL + "/" + Account, Faults: faults, Direct: direct, PID: pid}
}

var listening = regexp.MustCompile(`successfully listens on (http://127\.0\.0\.1:[0-9]+)`)

// run starts the process and waits for its listening line; no sleeps.
func run(t testing.TB, bin string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", "0",
		"--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--silent")
	cmd.Dir = t.TempDir() // Azurite may write debug files into its working directory
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("azurite: start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() { stop(t, cmd, exited) })
	found := make(chan string, 1)
	var lines lockedBuffer
	go scan(stdout, &lines, found, exited, cmd)
	select {
	case u := <-found:
		return u, cmd.Process.Pid
	case <-exited:
		t.Fatalf("azurite exited before listening: %v\nstdout:\n%s\nstderr:\n%s", cmd.ProcessState, lines.String(), stderr.String())
	case <-time.After(startTimeout):
		t.Fatalf("azurite did not listen within %v\nstdout:\n%s\nstderr:\n%s", startTimeout, lines.String(), stderr.String())
	}
	return "", 0
}

// scan reports the listening URL, keeps draining stdout so Azurite never
// blocks on a full pipe, and reaps the process when its output ends.
func scan(stdout io.Reader, lines *lockedBuffer, found chan<- string, exited chan<- struct{}, cmd *exec.Cmd) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		fmt.Fprintln(lines, sc.Text())
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			select {
			case found <- m[1]:
			default:
			}
		}
	}
	io.Copy(io.Discard, stdout)
	cmd.Wait()
	close(exited)
}

// stop ends the process this harness started, by its pid.
func stop(t testing.TB, cmd *exec.Cmd, exited <-chan struct{}) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(10 * time.Second):
	}
	t.Logf("azurite (pid %d) ignored SIGTERM for 10s; killing it", cmd.Process.Pid)
	cmd.Process.Kill()
	<-exited
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ContainerClient is an SDK client for one container, signed with the
// account key (key "" means Key). With noRetries the SDK's own retries are
// off, so a test sees every failure.
func (s *Server) ContainerClient(t testing.TB, name, key string, noRetries bool) *container.Client {
	t.Helper()
	if key == "" {
		key = Key
	}
	cred, err := container.NewSharedKeyCredential(Account, key)
	if err != nil {
		t.Fatal(err)
	}
	var opts container.ClientOptions
	if noRetries {
		opts.Retry = policy.RetryOptions{MaxRetries: -1}
	}
	c, err := container.NewClientWithSharedKeyCredential(s.Endpoint+"/"+name, cred, &opts)
	if err != nil {
		t.Fatalf("azurite: container client: %v", err)
	}
	return c
}

// CreateContainer creates a container.
func (s *Server) CreateContainer(t testing.TB, name string) {
	t.Helper()
	if _, err := s.ContainerClient(t, name, "", false).Create(context.Background(), nil); err != nil {
		t.Fatalf("azurite: create container %s: %v", name, err)
	}
}

// Put uploads a block blob and returns its ETag as an Event Grid
// BlobCreated event carries it (data.eTag: no surrounding quotes).
func (s *Server) Put(t testing.TB, containerName, key string, data []byte) string {
	t.Helper()
	bb := s.ContainerClient(t, containerName, "", false).NewBlockBlobClient(key)
	resp, err := bb.Upload(context.Background(), streaming.NopCloser(bytes.NewReader(data)), nil)
	if err != nil {
		t.Fatalf("azurite: put %s/%s: %v", containerName, key, err)
	}
	if resp.ETag == nil {
		t.Fatalf("azurite: put %s/%s: no ETag in the response", containerName, key)
	}
	return strings.Trim(string(*resp.ETag), `"`)
}

// OpenBucket opens a container through azureblob with a ContainerClient.
func (s *Server) OpenBucket(t testing.TB, name, key string, noRetries bool) *blob.Bucket {
	t.Helper()
	b, err := azureblob.OpenBucket(context.Background(), s.ContainerClient(t, name, key, noRetries), nil)
	if err != nil {
		t.Fatalf("azurite: open bucket %s: %v", name, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// ObjectURL is the azblob:// URL of a blob for gocloud's URL opener (and so
// for bundle.Fetch); call Setenv first, which supplies the account key.
func (s *Server) ObjectURL(containerName, key string) string {
	q := url.Values{"domain": {s.Host}, "protocol": {"http"}, "localemu": {"true"}}
	return "azblob://" + containerName + "/" + key + "?" + q.Encode()
}

// Setenv gives azureblob's URL opener the development account and key.
// The opener reads these once per process, so every test in a binary must
// use the same values (they are Azurite's fixed ones).
func (s *Server) Setenv(t testing.TB) {
	t.Helper()
	for k, v := range map[string]string{
		"AZURE_STORAGE_ACCOUNT":              Account,
		"AZURE_STORAGE_KEY":                  Key,
		"AZURE_STORAGE_SAS_TOKEN":            "",
		"AZURE_STORAGE_CONNECTION_STRING":    "",
		"AZURE_STORAGEBLOB_CONNECTIONSTRING": "",
		"AZURE_STORAGE_DOMAIN":               "",
		"AZURE_STORAGE_PROTOCOL":             "",
	} {
		t.Setenv(k, v)
	}
}

// Error is a fault answering the first times matching requests (every one
// when times <= 0) with an Azure Storage error: the status, and the code in
// the x-ms-error-code header and the XML body, as the service sends them.
func Error(match func(*http.Request) bool, times, status int, code string) testfakes.Fault {
	return testfakes.Fault{
		Match:  match,
		Times:  times,
		Status: status,
		Header: http.Header{"Content-Type": {"application/xml"}, "X-Ms-Error-Code": {code}},
		Body: `<?xml version="1.0" encoding="utf-8"?>` +
			"<Error><Code>" + code + "</Code><Message>injected by the test</Message></Error>",
	}
}
