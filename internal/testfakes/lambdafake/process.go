package lambdafake

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ShippedTags are the build tags every shipped binary is built with
// (scripts/package.sh, the Makefile; internal/archtest checks them):
// grpcnotrace leaves out gRPC's request tracing, and disable_grpc_modules,
// which only cloud.google.com/go/storage reads, its xDS/envoy imports. They
// change what is linked, not how the program behaves.
var ShippedTags = []string{"grpcnotrace", "disable_grpc_modules"}

// BuildBinary builds the main package pkg (a path relative to the module
// root, such as "./functions/aws", or an import path) into
// <tempdir>/bootstrap with ShippedTags and the given build tags (typically
// "lambda.norpc"). Otherwise it builds with the same settings as go test
// itself (no -trimpath, the environment's CGO_ENABLED), so that under
// `make test`, whose go test carries ShippedTags too, every package comes
// from the build cache the test binaries filled and only the link runs: a
// fresh CI machine compiles the dependency graph once, not once more for the
// function binaries. The remaining shipping flags (-trimpath, CGO off,
// stripped) are the packaging targets' and internal/archtest's; they do not
// change how the program behaves.
func BuildBinary(tb testing.TB, pkg string, tags ...string) string {
	tb.Helper()
	root := moduleRoot(tb)
	out := filepath.Join(tb.TempDir(), "bootstrap")
	args := []string{"build", "-tags", strings.Join(append(slices.Clone(ShippedTags), tags...), ",")}
	args = append(args, "-o", out, pkg)
	cmd := exec.CommandContext(tb.Context(), "go", args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("lambdafake: go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	b, err := exec.CommandContext(tb.Context(), "go", "env", "GOMOD").Output()
	if err != nil {
		tb.Fatalf("lambdafake: go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		tb.Fatalf("lambdafake: not inside a Go module (go env GOMOD = %q)", gomod)
	}
	return filepath.Dir(gomod)
}

// Process is a function binary running against a Runtime.
type Process struct {
	// Started is the moment just before the process was started.
	Started time.Time

	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{}
	err    error // cmd.Wait's result, valid once done is closed
	stop   sync.Once
}

// Exec starts binary with the environment of a Lambda execution
// environment pointed at r: AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME,
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE and AWS_LAMBDA_FUNCTION_VERSION, then
// extraEnv (NAME=value; later entries win). Nothing else of the test's
// environment is passed on. The process is killed when the test ends, and
// its output (stdout and stderr, where aws-lambda-go logs) is logged if the
// test failed.
func (r *Runtime) Exec(tb testing.TB, binary string, extraEnv ...string) *Process {
	tb.Helper()
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + r.Addr,
		"AWS_LAMBDA_FUNCTION_NAME=" + FunctionName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + FunctionMemory,
		"AWS_LAMBDA_FUNCTION_VERSION=" + FunctionVersion,
	}
	cmd := exec.Command(binary)
	cmd.Env = append(env, extraEnv...)
	cmd.Dir = filepath.Dir(binary)
	cmd.WaitDelay = 5 * time.Second // bound the wait for the output pipes
	p := &Process{cmd: cmd, output: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.output, p.output
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("lambdafake: start %s: %v", binary, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.Stop()
		if tb.Failed() {
			tb.Logf("lambdafake: output of %s:\n%s", filepath.Base(binary), p.Output())
		}
	})
	return p
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the process's exit error (nil for status 0); valid once Done is
// closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Output returns what the process wrote so far, stdout and stderr
// interleaved.
func (p *Process) Output() string { return p.output.String() }

// Stop kills the process, if it still runs, and waits for it to exit. It is
// safe to call more than once.
func (p *Process) Stop() {
	p.stop.Do(func() {
		// Kill fails only when the process has exited already; either way
		// the Wait goroutine reaps it.
		_ = p.cmd.Process.Kill()
		<-p.done
	})
}

// syncBuffer is a bytes.Buffer for a writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
