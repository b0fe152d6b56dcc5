package main

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/testbundle"
)

// Bundles found in one look at the folder are deployed in the order they
// arrived (modification time), not by name: 1.9 then 1.10 leaves 1.10.
func TestLocalDeploysInArrivalOrder(t *testing.T) {
	f := newLocalFixture(t)
	release := func(v string) []byte {
		return testbundle.Pack(t, f.key, "app", testbundle.Project(
			"CREATE TABLE IF NOT EXISTS release (v text); TRUNCATE release; INSERT INTO release VALUES ('"+v+"');"))
	}
	now := time.Now()
	for i, v := range []string{"1.9", "1.10"} { // 1.9 first: 20 s ago, 1.10 10 s ago
		key := "app/" + v + ".tgz"
		f.drop(t, key, release(v))
		at := now.Add(time.Duration(i-2) * 10 * time.Second)
		if err := os.Chtimes(filepath.Join(f.bucket, filepath.FromSlash(key)), at, at); err != nil {
			t.Fatal(err)
		}
	}
	code, out := f.once(t)
	first, second := strings.Index(out, "deployed: app/1.9.tgz"), strings.Index(out, "deployed: app/1.10.tgz")
	if code != 0 || first < 0 || second < 0 {
		t.Fatalf("exit %d, want both deployed", code)
	}
	var v string
	if err := cluster.Connect(t, f.db).QueryRow(t.Context(), "SELECT v FROM release").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "1.10" || first > second {
		t.Fatalf("the database is on %s (1.9 deployed at offset %d, 1.10 at %d); want 1.10, deployed last", v, first, second)
	}
}

// A bundle whose writer pauses longer than the poll interval is not picked
// up half-written: it waits (said once) until its gzip stream ends.
func TestLocalWaitsForAHalfWrittenBundle(t *testing.T) {
	f := newLocalFixture(t)
	full := testbundle.Pack(t, f.key, "app", testbundle.Project("CREATE TABLE slow_writer (id int);"))
	f.drop(t, "app/slow.tgz", full[:len(full)/2])
	w := watchLocal(t, f)
	w.waitFor(t, "still being written")
	time.Sleep(20 * localTestInterval) // the writer pauses for 20 polls
	appendFile(t, filepath.Join(f.bucket, "app", "slow.tgz"), full[len(full)/2:])
	w.waitFor(t, "deployed: app/slow.tgz")
	out := w.stop(t)
	if n := strings.Count(out, "still being written"); n != 1 {
		t.Errorf("the wait was reported %d times, want once", n)
	}
}

// With --once, a bundle that stays incomplete is reported, not deployed,
// and the exit code says so.
func TestLocalOnceGivesUpOnAnIncompleteBundle(t *testing.T) {
	f := newLocalFixture(t)
	full := testbundle.Pack(t, f.key, "app", testbundle.Project("SELECT 1;"))
	f.drop(t, "app/stuck.tgz", full[:len(full)-3])
	code, out := f.once(t)
	if code != 10 || !strings.Contains(out, "app/stuck.tgz is incomplete") || strings.Contains(out, "picked up") {
		t.Fatalf("exit %d; want 10 and the file reported incomplete, never picked up", code)
	}
}

// A file name with control characters is printed quoted: it cannot forge
// output lines or drive the terminal.
func TestLocalQuotesFileNames(t *testing.T) {
	f := newLocalFixture(t)
	name := "evil\x1b[2K\ndeployed: 2.0.tgz → production\n.tgz"
	f.drop(t, name, testbundle.Pack(t, f.key, "app", testbundle.Project("SELECT 1;")))
	_, out := f.once(t)
	if !strings.Contains(out, strconv.Quote(name)) {
		t.Errorf("the name is not printed quoted as %s", strconv.Quote(name))
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "deployed: 2.0.tgz") || strings.HasPrefix(line, ".tgz") || strings.ContainsRune(line, '\x1b') {
			t.Errorf("a forged or raw line: %q", line)
		}
	}
}

// localTestInterval is the poll interval of the watching tests.
const localTestInterval = 50 * time.Millisecond

// localWatch is a pgmi local run without --once, stopped by the test.
type localWatch struct {
	out     *syncBuffer
	cancel  context.CancelFunc
	done    chan int
	stopped sync.Once
}

func watchLocal(t *testing.T, f *localFixture) *localWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &localWatch{out: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	args := []string{"local", "--bucket", f.bucket, "--trusted-signers", f.signers,
		"--connection", cluster.ConnString("postgres"), "-d", f.db, "--interval", localTestInterval.String()}
	go func() {
		w.done <- run(ctx, args, streams{in: strings.NewReader(""), out: w.out, err: w.out,
			env: func(string) (string, bool) { return "", false }, setenv: func(string, string) error { return nil }})
	}()
	t.Cleanup(func() { w.stop(t) })
	return w
}

// waitFor polls the output for s; a failed line ends the wait at once.
func (w *localWatch) waitFor(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(localTestInterval) {
		out := w.out.String()
		switch {
		case strings.Contains(out, s):
			return
		case strings.Contains(out, "failed:"):
			t.Fatalf("waiting for %q, a deploy failed:\n%s", s, out)
		case time.Now().After(deadline):
			t.Fatalf("no %q within 30s:\n%s", s, out)
		}
	}
}

// stop cancels the run, waits for it to return (the first time) and
// returns everything it printed.
func (w *localWatch) stop(t *testing.T) string {
	t.Helper()
	w.stopped.Do(func() {
		w.cancel()
		select {
		case code := <-w.done:
			t.Logf("pgmi local (exit %d):\n%s", code, w.out.String())
		case <-time.After(30 * time.Second):
			t.Errorf("pgmi local did not stop within 30s:\n%s", w.out.String())
		}
	})
	return w.out.String()
}

func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	file, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is an output stream read while pgmi writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// archiveComplete finds the end of a gzip stream and of a zip, and calls
// anything cut short incomplete.
func TestArchiveComplete(t *testing.T) {
	tgz := testbundle.Pack(t, nil, "app", testbundle.Project("SELECT 1;"))
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	if w, err := zw.Create("deploy.sql"); err != nil {
		t.Fatal(err)
	} else if _, err := w.Write([]byte("SELECT 1;")); err != nil {
		t.Fatal(err)
	}
	if err := zw.SetComment("a comment at the very end"); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	check := func(name string, data []byte, want bool) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if missing, got := archiveComplete(p); got != want || got != (missing == "") {
			t.Errorf("%s (%d bytes): complete %v (%q), want %v", name, len(data), got, missing, want)
		}
	}
	check("app.tgz", tgz, true)
	check("app.tar.gz", append(append([]byte{}, tgz...), tgz...), true) // two gzip members
	check("app.zip", zipped.Bytes(), true)
	check("garbage.tgz", []byte("not gzip at all: the pipeline says so"), true)
	for _, n := range []int{0, 1, 9, 10, 20, len(tgz) / 2, len(tgz) - 8, len(tgz) - 1} {
		check("cut.tgz", tgz[:n], false)
	}
	check("cut.tar.gz", append(append([]byte{}, tgz...), tgz[:15]...), false) // the second member cut
	for _, n := range []int{0, 4, zipped.Len() / 2, zipped.Len() - 1} {
		check("cut.zip", zipped.Bytes()[:n], false)
	}
}

// The README's example: pgmi bundle -o into a folder of the bucket that
// does not exist yet, and pgmi local deploys it.
func TestLocalReadmeExample(t *testing.T) {
	f := newLocalFixture(t)
	key, allowed := signingKey(t, t.TempDir(), "release")
	f.signers = allowed
	dir := project(t, "deploy.sql", "CREATE TABLE readme_example (id int);")
	if code, _, stderr := (cli{}).run(t, "bundle", dir, "-o", filepath.Join(f.bucket, "app", "1.4.tgz"), "--sign-key", key); code != 0 {
		t.Fatalf("bundle: exit %d\n%s", code, stderr)
	}
	if code, out := f.once(t); code != 0 || !strings.Contains(out, "deployed: app/1.4.tgz → "+f.db) {
		t.Fatalf("exit %d, want 0 and a deployed line", code)
	}
}
