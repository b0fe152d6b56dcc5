package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// runCtx runs pgmi in-process with ctx and stdin, giving up after limit:
// done is false when run had not returned by then (it is left running,
// blocked on stdin, until the test's cleanup closes the pipe).
func runCtx(t *testing.T, ctx context.Context, stdin io.Reader, interactive bool, limit time.Duration, args ...string) (code int, stderr string, done bool) {
	t.Helper()
	var out, errb syncBuffer
	finished := make(chan int, 1)
	go func() {
		finished <- run(ctx, args, streams{in: stdin, out: &out, err: &errb, interactive: interactive,
			env: func(string) (string, bool) { return "", false }, setenv: func(string, string) error { return nil }})
	}()
	select {
	case code = <-finished:
		return code, errb.String(), true
	case <-time.After(limit):
		return -1, errb.String(), false
	}
}

// blockedStdin is a terminal nobody types into: reads block until cleanup.
func blockedStdin(t *testing.T) io.Reader {
	r, w := io.Pipe()
	t.Cleanup(func() { _ = w.Close() })
	return r
}

// At a terminal, --overwrite without --force asks for the database name.
// Ctrl-C at that prompt must stop pgmi with 130 (the reference's
// interactive approver errors on a context cancel; the countdown of --force
// already honours it). It used to keep waiting on stdin after the
// interrupt message, holding the maintenance connection, until a second
// Ctrl-C killed the process.
func TestOverwritePromptHonoursInterrupt(t *testing.T) {
	testpg.Require(t, clusterErr)
	db := freshName(t)
	dropAfter(t, db)
	cluster.CreateDatabase(t, db)
	dir := project(t, "deploy.sql", "SELECT 1;")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(1500*time.Millisecond, cancel)
	code, stderr, done := runCtx(t, ctx, blockedStdin(t), true, 10*time.Second,
		"deploy", dir, "--connection", cluster.ConnString("postgres"), "-d", db, "--overwrite")
	if !done {
		t.Fatalf("pgmi still waits at the confirmation prompt 8.5s after the interrupt\n%s", stderr)
	}
	if code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, stderr)
	}
}

// --timeout is one deadline for the whole run, approval included: a
// confirmation prompt nobody answers must end with 16 once it expires.
func TestOverwritePromptHonoursTimeout(t *testing.T) {
	testpg.Require(t, clusterErr)
	db := freshName(t)
	dropAfter(t, db)
	cluster.CreateDatabase(t, db)
	dir := project(t, "deploy.sql", "SELECT 1;")
	code, stderr, done := runCtx(t, context.Background(), blockedStdin(t), true, 12*time.Second,
		"deploy", dir, "--connection", cluster.ConnString("postgres"), "-d", db, "--overwrite", "--timeout", "2s")
	if !done {
		t.Fatalf("--timeout 2s: pgmi still waits at the confirmation prompt after 12s\n%s", stderr)
	}
	if code != 16 {
		t.Fatalf("exit %d, want 16\n%s", code, stderr)
	}
}

// pgmi init at a terminal asks for the template. Ctrl-C at that question
// must end pgmi (130) without writing a project; it used to keep waiting
// on stdin.
func TestInitTemplatePromptHonoursInterrupt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proj")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(500*time.Millisecond, cancel)
	code, stderr, done := runCtx(t, ctx, blockedStdin(t), true, 5*time.Second, "init", dir)
	if !done {
		t.Fatalf("pgmi init still waits at the template question 4.5s after the interrupt\n%s", stderr)
	}
	if code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("an interrupted init wrote %d entries", len(entries))
	}
}

// pgmi publish <bundle file> uploads the file as it is, so the flags that
// shape a packed bundle are refused (exit 2, naming them) instead of being
// dropped: --version and --name used to be accepted and ignored, so the
// published bundle did not carry the release tag the command line gave.
func TestPublishBundleFileRefusesPackFlags(t *testing.T) {
	dir := project(t, "deploy.sql", "SELECT 1;")
	tmp := t.TempDir()
	file := filepath.Join(tmp, "app.tgz")
	if code, _, stderr := (cli{}).run(t, "bundle", dir, "-o", file); code != 0 {
		t.Fatalf("bundle: exit %d\n%s", code, stderr)
	}
	key := filepath.Join(tmp, "key")
	if err := os.WriteFile(key, []byte("not read"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, flags := range [][]string{{"--version", "9.9.9"}, {"--name", "renamed"}, {"--sign-key", key}} {
		url := "file://" + filepath.ToSlash(filepath.Join(tmp, "pub", strings.TrimPrefix(flags[0], "--")+".tgz"))
		code, _, stderr := cli{}.run(t, append([]string{"publish", file, url}, flags...)...)
		if code != 2 || !strings.Contains(stderr, flags[0]) {
			_, info, _ := cli{}.run(t, "info", url, "--allow-unsigned", "--json")
			t.Errorf("%v with a bundle file: exit %d, want 2 naming the flag (published bundle: %s)\n%s",
				flags, code, strings.Join(strings.Fields(between(info, `"bundle"`, "}")), " "), stderr)
		}
		if _, err := os.Stat(filepath.Join(tmp, "pub")); err == nil {
			t.Fatalf("%v: something was published", flags)
		}
	}
}

// pgmi local --interval is how often the folder is looked at. A zero or
// negative interval is a usage error (exit 2): it used to be accepted and
// turned the watcher into a busy loop (and --once's "20 polls without
// change" into no wait at all), where every other duration flag
// (deploy --timeout, publish --wait-timeout) refuses such values.
func TestLocalRefusesNonPositiveInterval(t *testing.T) {
	for _, iv := range []string{"0", "-1s"} {
		code, stdout, stderr := cli{}.run(t, "local", "--once", "--allow-unsigned", "--interval", iv,
			"--bucket", t.TempDir(), "--connection", "postgresql://u@127.0.0.1:1/app")
		if code != 2 || !strings.Contains(stderr, "--interval") {
			t.Errorf("--interval %s: exit %d, want 2 naming --interval\n%s%s", iv, code, stdout, stderr)
		}
	}
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return s
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j+1]
	}
	return s
}
