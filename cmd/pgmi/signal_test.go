package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/testfakes/lambdafake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// Issue 10, item 4 ("Stops stop on the server"): SIGINT, SIGTERM and
// --timeout on a `pgmi deploy` that is inside pg_sleep(30) must cancel the
// statement on the server before the process exits. Within 300 ms of the
// exit no backend of the database is active, the server logged the cancel,
// and the next deploy of that database takes the lock at once (exit 0; the
// CLI tries the lock once and exits 15 if it is held).

const (
	signalTestTries       = 10
	signalTestQuietWithin = 300 * time.Millisecond // exit → no active backend
	signalTestCancelLog   = "canceling statement due to user request"
)

// signalTestSlowSQL sleeps 30 s unless public.go_fast exists.
const signalTestSlowSQL = "SELECT pg_sleep(CASE WHEN to_regclass('public.go_fast') IS NULL THEN 30 ELSE 0 END);\n"

// signalTestBinary builds the pgmi CLI into t's temporary directory, which
// lives until t and all its subtests are done.
func signalTestBinary(t *testing.T) string {
	t.Helper()
	return lambdafake.BuildBinary(t, "github.com/pgmi-cloud/pgmi/cmd/pgmi")
}

// signalTestStop is one way of stopping a running deploy.
type signalTestStop struct {
	name     string
	sig      os.Signal // sent once pg_sleep runs; nil: the deploy stops itself
	extra    []string  // extra deploy arguments
	wantCode int
}

// signalTestEnv is the clean environment the subprocess runs with.
type signalTestEnv struct {
	bin  string
	env  []string
	conn string // --connection, to the maintenance database
}

func TestDeployStopsCancelOnServer(t *testing.T) {
	testpg.Require(t, clusterErr)
	e := signalTestEnv{
		bin:  signalTestBinary(t),
		env:  []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()},
		conn: cluster.ConnString("postgres"),
	}
	slow := project(t, "deploy.sql", signalTestSlowSQL)
	fast := project(t, "deploy.sql", "SELECT 1;\n")

	mon := cluster.Connect(t, "postgres")
	var prefix string
	if err := mon.QueryRow(t.Context(), "SHOW log_line_prefix").Scan(&prefix); err != nil {
		t.Fatal(err)
	}
	// With the pid in the prefix a cancel is attributed to its backend, so the
	// parallel subtests cannot satisfy each other's log check.
	byPID := strings.Contains(prefix, "[%p]")
	if !byPID {
		t.Logf("log_line_prefix %q has no [%%p]: counting every %q in the server log", prefix, signalTestCancelLog)
	}

	stops := []signalTestStop{
		{name: "SIGINT", sig: syscall.SIGINT, wantCode: 130},
		{name: "SIGTERM", sig: syscall.SIGTERM, wantCode: 130},
		{name: "timeout", extra: []string{"--timeout", "1s"}, wantCode: 16},
	}
	// The three kinds run at once, each on a database of its own. They are
	// started from goroutines rather than with t.Parallel so that all three
	// overlap even where -parallel (GOMAXPROCS) is 2; they mostly wait.
	var wg sync.WaitGroup
	for _, st := range stops {
		db := freshName(t) // freshName is not safe for concurrent use: called here
		dropAfter(t, db)
		wg.Go(func() {
			t.Run(st.name, func(t *testing.T) {
				mon := cluster.Connect(t, "postgres")
				// The database exists before the first try, so --timeout 1s is
				// spent in pg_sleep, not in CREATE DATABASE.
				if code, _, stderr := e.deploy(t, fast, db); code != 0 {
					t.Fatalf("preparing deploy: exit %d\n%s", code, stderr)
				}
				failed := 0
				for i := 1; i <= signalTestTries; i++ {
					ok := t.Run(fmt.Sprintf("try%02d", i), func(t *testing.T) {
						e.try(t, mon, st, db, slow, fast, byPID)
					})
					if !ok {
						failed++
					}
					// Whatever a failed try left behind must not spoil the next.
					signalTestTerminate(t, mon, db)
				}
				if failed > 0 {
					t.Errorf("%s: %d of %d tries failed", st.name, failed, signalTestTries)
				}
			})
		})
	}
	wg.Wait()
}

// try runs one slow deploy, stops it by st, and checks the server side.
func (e signalTestEnv) try(t *testing.T, mon *pgx.Conn, st signalTestStop, db, slow, fast string, byPID bool) {
	ctx := t.Context()
	logFrom := len(cluster.Log())

	args := append([]string{"deploy", slow, "--connection", e.conn, "-d", db}, st.extra...)
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = e.env
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	var exitAt time.Time
	go func() {
		waitErr = cmd.Wait()
		exitAt = time.Now()
		close(done)
	}()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("pgmi stdout:\n%s\npgmi stderr:\n%s", stdout.String(), stderr.String())
		}
	}()

	// Wait until a backend of db runs the pg_sleep.
	var pid int
	deadline := time.Now().Add(20 * time.Second)
	for pid == 0 {
		err := mon.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
			WHERE datname = $1 AND state = 'active' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()
			LIMIT 1`, db).Scan(&pid)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if pid != 0 {
			break
		}
		select {
		case <-done:
			t.Fatalf("pgmi exited (%v) before its pg_sleep was seen running", waitErr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("pg_sleep not seen running within 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	sent := time.Now()
	if st.sig != nil {
		if err := cmd.Process.Signal(st.sig); err != nil {
			t.Fatalf("signal %v: %v", st.sig, err)
		}
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("pgmi did not exit within 20 s of the %s", st.name)
	}
	t.Logf("backend %d in pg_sleep; pgmi exited %v later (%s)", pid, exitAt.Sub(sent).Round(time.Millisecond), st.name)

	// Within 300 ms of the exit no backend of db is active.
	for {
		var active int
		if err := mon.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()`, db).Scan(&active); err != nil {
			t.Fatal(err)
		}
		since := time.Since(exitAt)
		if active == 0 {
			t.Logf("no active backend %v after the exit", since.Round(time.Millisecond))
			break
		}
		if since >= signalTestQuietWithin {
			t.Errorf("%d backend(s) of %s still active %v after pgmi exited (the statement was not cancelled on the server)",
				active, db, since.Round(time.Millisecond))
			break
		}
		time.Sleep(5 * time.Millisecond)
	}

	var exitErr *exec.ExitError
	code := 0
	if errors.As(waitErr, &exitErr) {
		code = exitErr.ExitCode()
	} else if waitErr != nil {
		t.Fatalf("wait: %v", waitErr)
	}
	if code != st.wantCode {
		t.Errorf("exit %d, want %d", code, st.wantCode)
	}
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) > 0 {
		t.Logf("pgmi said: %s", lines[len(lines)-1])
	}
	// The report says the server confirmed the cancel.
	if !strings.Contains(stderr.String(), "the running statement was cancelled on the server") {
		t.Errorf("stderr does not say the server cancelled the running statement:\n%s", stderr.String())
	}

	// The server logged the cancel of that backend. The backend writes the
	// ERROR before it goes idle; the wait only absorbs log buffering.
	needle := signalTestCancelLog
	var logged bool
	for end := time.Now().Add(time.Second); ; {
		logged = signalTestCancelLogged(cluster.Log(), logFrom, needle, pid, byPID)
		if logged || time.Now().After(end) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !logged {
		t.Errorf("server log has no %q for backend %d: the cancel never reached the server", needle, pid)
	}

	// The next deploy takes the lock at once.
	start := time.Now()
	code, _, nextErr := e.deploy(t, fast, db)
	if code != 0 {
		t.Errorf("next deploy: exit %d, want 0 (15 = the deploy lock is still held)\n%s", code, nextErr)
	} else {
		t.Logf("next deploy: exit 0 in %v", time.Since(start).Round(time.Millisecond))
	}
}

// deploy runs pgmi deploy of dir to db to completion.
func (e signalTestEnv) deploy(t *testing.T, dir, db string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, "deploy", dir, "--connection", e.conn, "-d", db)
	cmd.Env = e.env
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	default:
		t.Fatalf("pgmi deploy: %v", err)
	}
	return code, out.String(), errb.String()
}

// signalTestCancelLogged reports whether the server log from offset on has
// the cancel message, of backend pid when byPID.
func signalTestCancelLogged(log string, from int, needle string, pid int, byPID bool) bool {
	if from > len(log) {
		from = 0 // the log was truncated: look at all of it
	}
	tag := "[" + strconv.Itoa(pid) + "]"
	for _, line := range strings.Split(log[from:], "\n") {
		if strings.Contains(line, needle) && (!byPID || strings.Contains(line, tag)) {
			return true
		}
	}
	return false
}

// signalTestTerminate gives the backends of db a moment to end with their
// clients, then terminates (and logs) whatever remains and waits until it is
// gone; it returns how many it terminated.
func signalTestTerminate(t *testing.T, mon *pgx.Conn, db string) int {
	t.Helper()
	ctx := t.Context()
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		var left int
		if err := mon.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, db).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return 0
		}
	}
	rows, err := mon.Query(ctx, `SELECT format('pid %s %s %s ago, state %s, query %L', pid, application_name,
			now() - backend_start, state, left(query, 80)), pg_terminate_backend(pid)
		FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, db)
	if err != nil {
		t.Fatal(err)
	}
	leftovers, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var desc string
		var terminated bool
		err := r.Scan(&desc, &terminated)
		return desc, err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leftovers {
		t.Logf("terminated leftover backend of %s: %s", db, l)
	}
	n := len(leftovers)
	for end := time.Now().Add(10 * time.Second); n > 0; {
		var left int
		if err := mon.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, db).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("%d backend(s) of %s survive pg_terminate_backend", left, db)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n
}
