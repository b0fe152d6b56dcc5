package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/crashtest"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/lambdafake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// TestLocalKilledMidDeployAppliesHeadOnce proves the exactly-once contract
// of ARCHITECTURE §6 ("Exactly once, even when things die") for pgmi local:
// the deployer process is killed with SIGKILL at one of many points spread
// over deploy.sql's atomic head and its psql tail, then the same bundle is
// delivered twice more. At every point the head's steps are applied exactly
// once, at most one tail unit runs twice, the ledger holds one succeeded row,
// the first redelivery deploys (it takes the dead run's row over) and the
// second answers duplicate.
//
// Each point has its own database and bucket folder; points run at most
// crashtest.Concurrency at a time.
func TestLocalKilledMidDeployAppliesHeadOnce(t *testing.T) {
	testpg.Require(t, clusterErr)
	bin := lambdafake.BuildBinary(t, "github.com/pgmi-cloud/pgmi/cmd/pgmi")
	admin := cluster.ConnString("postgres")

	type point struct {
		at time.Duration
		f  *localFixture
	}
	var points []point
	for _, at := range crashtest.KillPoints() {
		// Fixtures are made here, one after the other: freshName is not
		// safe for concurrent use.
		f := newLocalFixture(t)
		f.drop(t, "app/crash.tgz", testbundle.Pack(t, f.key, "app", testbundle.Project(crashtest.DeploySQL)))
		points = append(points, point{at, f})
	}

	results := make([]string, len(points))
	sem := make(chan struct{}, crashtest.Concurrency)
	var wg sync.WaitGroup
	for i, p := range points {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run("kill_"+strings.ReplaceAll(crashtest.PointName(p.at, earlyKillPoint), " ", "_"), func(t *testing.T) {
				killLocalAndRedeliver(t, bin, admin, p.f, p.at, &results[i])
			})
		}()
	}
	wg.Wait()
	t.Logf("per kill point (head+: time after deploy.sql's head reached the server):\n%s", strings.Join(results, "\n"))
}

// killLocalAndRedeliver runs one kill point and writes a one-line account
// of it to account (also when the point fails).
func killLocalAndRedeliver(t *testing.T, bin, admin string, f *localFixture, at time.Duration, account *string) {
	var phase string
	var outcomes []string
	var state crashtest.State
	defer func() { *account = crashtest.Account(t, at, earlyKillPoint, phase, outcomes, state) }()

	watch := crashtest.Connect(t, admin) // before the deployer starts: WaitForHead must not miss the head's start
	killed := startLocal(t, bin, f)
	if _, err := killed.waitLine("picked up", 30*time.Second); err != nil {
		t.Fatalf("the deployer did not pick the bundle up: %v\n%s", err, killed.output())
	}
	if at > 0 {
		time.Sleep(time.Until(crashtest.WaitForHead(t, watch, f.db, killed.exited).Add(at)))
	}
	phase = crashtest.StatementOf(t, watch, f.db)
	if !killed.kill() {
		t.Fatalf("the kill point is too late: the deployer had already exited (a harness timing problem)\n%s", killed.output())
	}
	t.Logf("SIGKILL %s, while running %s; the deployer had written:\n%s", crashtest.PointName(at, earlyKillPoint), phase, killed.output())

	// Two redeliveries of the same file (same modification time: the same
	// request). The first waits for the lock the orphaned backend may still
	// hold, then takes the dead run's ledger row over.
	for i, want := range []string{"deployed", "duplicate"} {
		code, out := runLocalOnce(t, bin, f)
		got := outcomeLine(out)
		outcomes = append(outcomes, strings.SplitN(got, ":", 2)[0])
		if code != 0 || !strings.HasPrefix(got, want+": ") {
			t.Errorf("redelivery %d: exit %d, outcome %q, want %s; output:\n%s", i+1, code, got, want, out)
		} else {
			t.Logf("redelivery %d: %s", i+1, got)
		}
	}

	state = crashtest.ReadState(t, admin, f.db)
	for _, problem := range state.Problems() {
		t.Error(problem)
	}
}

// earlyKillPoint is the first kill point: as soon as pgmi local says it
// picked the bundle up (before deploy.sql; the ledger row may or may not be
// written yet).
const earlyKillPoint = "pickup"

// localProcess is a pgmi local subprocess; its stdout lines are also
// handed to waitLine.
type localProcess struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}

	mu      sync.Mutex
	out     strings.Builder // stdout and stderr
	partial string          // stdout after its last newline
}

// localArgs are the arguments of a pgmi local --once run of f.
func localArgs(f *localFixture) []string {
	return []string{"local", "--once", "--interval", "50ms", "--bucket", f.bucket, "--trusted-signers", f.signers,
		"--connection", cluster.ConnString("postgres"), "-d", f.db}
}

// localCommand is pgmi local with a clean environment: PATH, HOME and a
// lock wait long enough for an orphaned backend to end.
func localCommand(t *testing.T, ctx context.Context, bin string, f *localFixture) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, localArgs(f)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "PGMI_LOCK_WAIT=30s"}
	cmd.Dir = t.TempDir() // no .env of the developer's
	return cmd
}

func startLocal(t *testing.T, bin string, f *localFixture) *localProcess {
	t.Helper()
	p := &localProcess{cmd: localCommand(t, context.Background(), bin, f), lines: make(chan string, 100), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = stdoutWriter{p}, stderrWriter{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

type stdoutWriter struct{ p *localProcess }

func (w stdoutWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	w.p.out.Write(b)
	text := w.p.partial + string(b)
	for {
		line, rest, ok := strings.Cut(text, "\n")
		if !ok {
			break
		}
		select {
		case w.p.lines <- line:
		default: // nobody is waiting for lines any more
		}
		text = rest
	}
	w.p.partial = text
	return len(b), nil
}

type stderrWriter struct{ p *localProcess }

func (w stderrWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

func (p *localProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitLine waits for a stdout line containing s.
func (p *localProcess) waitLine(s string, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return "", errors.New("no more output")
			}
			if strings.Contains(line, s) {
				return line, nil
			}
		case <-deadline:
			return "", fmt.Errorf("no line with %q within %s", s, timeout)
		}
	}
}

// exited reports whether the process has ended.
func (p *localProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to end. It reports whether
// the process was still running.
func (p *localProcess) kill() bool {
	alive := !p.exited() && p.cmd.Process.Signal(syscall.SIGKILL) == nil
	<-p.done
	return alive
}

// runLocalOnce runs pgmi local --once to completion: one delivery.
func runLocalOnce(t *testing.T, bin string, f *localFixture) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	out, err := localCommand(t, ctx, bin, f).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit) && ctx.Err() == nil:
		return exit.ExitCode(), string(out)
	default:
		t.Fatalf("pgmi local: %v\n%s", err, out)
		return 0, ""
	}
}

// outcomeLine is the first line of pgmi local's output that reports an
// outcome (deploy.Report.Summary), or "".
func outcomeLine(out string) string {
	for _, line := range strings.Split(out, "\n") {
		for _, o := range []string{"deployed", "duplicate", "stale", "ignored", "failed"} {
			if strings.HasPrefix(line, o+":") {
				return line
			}
		}
	}
	return ""
}
