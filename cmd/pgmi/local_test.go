package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// localFixture is a bucket folder, a signing key and a target database.
type localFixture struct {
	bucket, signers, db string
	key                 *testbundle.Key
}

func newLocalFixture(t *testing.T) *localFixture {
	t.Helper()
	testpg.Require(t, clusterErr)
	f := &localFixture{bucket: t.TempDir(), db: freshName(t), key: testbundle.NewKey(t)}
	dropAfter(t, f.db)
	f.signers = filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(f.signers, []byte(f.key.AllowedSigners), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *localFixture) drop(t *testing.T, key string, data []byte) {
	t.Helper()
	p := filepath.Join(f.bucket, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *localFixture) once(t *testing.T, extra ...string) (int, string) {
	t.Helper()
	args := append([]string{"local", "--bucket", f.bucket, "--trusted-signers", f.signers,
		"--connection", cluster.ConnString("postgres"), "-d", f.db, "--once", "--interval", "50ms"}, extra...)
	code, out, errOut := cli{}.run(t, args...)
	t.Logf("pgmi local (exit %d):\n%s%s", code, out, errOut)
	return code, out + errOut
}

func TestLocalDeploysThenDuplicate(t *testing.T) {
	f := newLocalFixture(t)
	bundle := testbundle.Pack(t, f.key, "app", testbundle.Project("CREATE TABLE local_ran (id int); INSERT INTO local_ran VALUES (1);"))
	f.drop(t, "app/releases/1.0.tgz", bundle)
	f.drop(t, "app/notes.txt", []byte("not a bundle"))
	code, out := f.once(t)
	if code != 0 || !strings.Contains(out, "deployed: app/releases/1.0.tgz → "+f.db) {
		t.Fatalf("exit %d, want 0 and a deployed line", code)
	}
	results, _ := filepath.Glob(filepath.Join(f.bucket, "pgmi-results", "app", "releases", "1.0.tgz.*.json"))
	if len(results) != 1 {
		t.Fatalf("result objects %v, want one", results)
	}
	if attrs, _ := filepath.Glob(filepath.Join(f.bucket, "pgmi-results", "app", "releases", "*.attrs")); len(attrs) != 0 {
		t.Errorf("sidecar files beside the result: %v", attrs)
	}

	// The same bundle dropped again (a new modification time) is a duplicate.
	later := time.Now().Add(time.Second)
	if err := os.Chtimes(filepath.Join(f.bucket, "app", "releases", "1.0.tgz"), later, later); err != nil {
		t.Fatal(err)
	}
	code, out = f.once(t)
	if code != 0 || !strings.Contains(out, "duplicate: app/releases/1.0.tgz") {
		t.Fatalf("exit %d, want 0 and a duplicate line", code)
	}
	conn := cluster.Connect(t, f.db)
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM local_ran").Scan(&n); err != nil || n != 1 {
		t.Fatalf("deploy.sql ran %d times (%v)", n, err)
	}
}

func TestLocalRefusesUnsignedWithExitCode(t *testing.T) {
	f := newLocalFixture(t)
	f.drop(t, "app/unsigned.tgz", testbundle.Pack(t, nil, "app", testbundle.Project("CREATE TABLE unsigned_ran (id int);")))
	code, out := f.once(t)
	if code != 10 || !strings.Contains(out, "failed: app/unsigned.tgz") || !strings.Contains(out, "not signed") {
		t.Fatalf("exit %d, want 10 and a failed line saying the bundle is not signed", code)
	}
}

func TestLocalNeedsTrustOrExplicitOptOut(t *testing.T) {
	testpg.Require(t, clusterErr)
	code, out, errOut := cli{}.run(t, "local", "--bucket", t.TempDir(), "--connection", cluster.ConnString("postgres"), "--once")
	if code != 10 || !strings.Contains(out+errOut, "PGMI_ALLOW_UNSIGNED") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
}

// Without a server named anywhere, pgmi local starts its own and deploys to
// database "app" in it.
func TestLocalStartsItsOwnServer(t *testing.T) {
	f := newLocalFixture(t)
	f.drop(t, "hello.tgz", testbundle.Pack(t, f.key, "hello", testbundle.Project("CREATE TABLE hello_ran (id int);")))
	code, out, errOut := cli{}.run(t, "local", "--bucket", f.bucket, "--trusted-signers", f.signers, "--once", "--interval", "50ms")
	t.Logf("%s%s", out, errOut)
	if code != 0 || !strings.Contains(out, "starting a throwaway PostgreSQL") || !strings.Contains(out, "deployed: hello.tgz → app") {
		t.Fatalf("exit %d", code)
	}
}

// An interrupt of pgmi local mid-deploy cancels the statement on the
// server before it returns, records the attempt as retryable and exits 130;
// the next run deploys the bundle.
func TestLocalInterruptCancelsOnServer(t *testing.T) {
	f := newLocalFixture(t)
	f.drop(t, "app/slow.tgz", testbundle.Pack(t, f.key, "app", testbundle.Project(
		"SELECT pg_sleep(CASE WHEN to_regclass('public.go_fast') IS NULL THEN 30 ELSE 0 END);")))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan int)
	go func() {
		args := []string{"local", "--bucket", f.bucket, "--trusted-signers", f.signers,
			"--connection", cluster.ConnString("postgres"), "-d", f.db, "--once", "--interval", "50ms"}
		done <- run(ctx, args, streams{in: strings.NewReader(""), out: &out, err: &out,
			env: func(string) (string, bool) { return "", false }, setenv: func(string, string) error { return nil }})
	}()
	admin := cluster.Connect(t, "postgres")
	activeSleeps := func() int {
		var n int
		if err := admin.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND state = 'active' AND query LIKE '%pg_sleep(CASE%'`, f.db).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); activeSleeps() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("deploy.sql never started:\n%s", out.String())
		}
	}
	cancel()
	code := <-done
	if n := activeSleeps(); n != 0 || code != 130 {
		t.Fatalf("exit %d, %d statement(s) still running after pgmi local returned:\n%s", code, n, out.String())
	}
	if !strings.Contains(out.String(), "the running statement was cancelled on the server") || !strings.Contains(out.String(), "(will be retried)") {
		t.Fatalf("the output does not say what happened:\n%s", out.String())
	}
	if _, err := cluster.Connect(t, f.db).Exec(t.Context(), "CREATE TABLE go_fast ()"); err != nil {
		t.Fatal(err)
	}
	if code, out := f.once(t); code != 0 || !strings.Contains(out, "deployed: app/slow.tgz") {
		t.Fatalf("the next run: exit %d\n%s", code, out)
	}
}
