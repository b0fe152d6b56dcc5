// Command demo is what `make demo` runs: the upload-triggered deployer on one
// machine. It starts a throwaway PostgreSQL, runs `pgmi local` on a folder
// that stands in for the bucket, then plays a release pipeline: build a
// signed bundle of examples/inventory, drop it into the folder, watch it
// deploy, drop it again (a duplicate event), drop a second project, drop an
// unsigned bundle (refused), and show what landed and what the ledger says.
package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/ssh"

	"github.com/pgmi-cloud/pgmi/internal/pgserver"
)

func main() {
	pgmi := flag.String("pgmi", "bin/pgmi", "path of the pgmi binary")
	work := flag.String("dir", "demo", "working folder (the bucket, keys and bundles go here; recreated)")
	flag.Parse()
	if err := run(*pgmi, *work); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

type demo struct {
	pgmi, work, bucket string
	lines              chan string // pgmi local's output lines, as they arrive
}

func run(pgmi, work string) error {
	pgmi, _ = filepath.Abs(pgmi)
	work, _ = filepath.Abs(work)
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	d := &demo{pgmi: pgmi, work: work, bucket: filepath.Join(work, "bucket"), lines: make(chan string, 256)}
	for _, dir := range []string{d.bucket, filepath.Join(work, "build")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}

	step("Starting a throwaway PostgreSQL cluster")
	cluster, err := pgserver.Start(context.Background())
	if err != nil {
		return err
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	fmt.Printf("  listening on %s:%d\n", cluster.Host(), cluster.Port())

	step("Making a release signing key (what CI would hold) and the allowed_signers file the deployer trusts")
	if err := d.keys(); err != nil {
		return err
	}

	step("Starting `pgmi local` on " + rel(d.bucket) + " (the folder stands in for the bucket)")
	local, err := d.startLocal(cluster.ConnString("postgres"))
	if err != nil {
		return err
	}
	defer local.stop()

	step("CI builds a signed bundle of examples/inventory and uploads it")
	inv := filepath.Join(work, "build", "inventory-1.0.tgz")
	if err := d.pgmiRun("bundle", "examples/inventory", "-o", inv, "--sign-key", filepath.Join(work, "release_key"), "--version", "1.0"); err != nil {
		return err
	}
	if _, err := d.drop(inv, "releases/inventory/1.0.tgz", "deployed"); err != nil {
		return err
	}

	step("The same upload event arrives again (at-least-once delivery)")
	if _, err := d.drop(inv, "releases/inventory/1.0.tgz", "duplicate"); err != nil {
		return err
	}

	step("A second project, routed to its own database with a parameter (PGMI_ROUTES)")
	hello := filepath.Join(work, "build", "hello.tgz")
	if err := d.pgmiRun("bundle", "examples/hello", "-o", hello, "--sign-key", filepath.Join(work, "release_key")); err != nil {
		return err
	}
	if _, err := d.drop(hello, "releases/hello/1.tgz", "deployed"); err != nil {
		return err
	}

	step("Someone uploads an unsigned bundle: refused, nothing runs")
	unsigned := filepath.Join(work, "build", "unsigned.tgz")
	if err := d.pgmiRun("bundle", "examples/hello", "-o", unsigned); err != nil {
		return err
	}
	if _, err := d.drop(unsigned, "releases/hello/unsigned.tgz", "failed"); err != nil {
		return err
	}

	step("What landed")
	return show(cluster.ConnString("inventory"), cluster.ConnString("hello"))
}

func step(msg string) { fmt.Printf("\n==> %s\n", msg) }

func rel(p string) string {
	wd, _ := os.Getwd()
	if r, err := filepath.Rel(wd, p); err == nil {
		return r
	}
	return p
}

// keys writes an ed25519 key in OpenSSH format and its allowed_signers line.
func (d *demo) keys() error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "release@example.com")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d.work, "release_key"), pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	line := `release@example.com namespaces="pgmi-bundle@v1" ` + string(ssh.MarshalAuthorizedKey(sshPub))
	fmt.Printf("  %s/allowed_signers: %s", rel(d.work), line)
	return os.WriteFile(filepath.Join(d.work, "allowed_signers"), []byte(line), 0o644)
}

type process struct{ cmd *exec.Cmd }

func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

func (d *demo) startLocal(conn string) (*process, error) {
	routes := `[{"prefix":"releases/inventory/","database":"inventory"},` +
		`{"prefix":"releases/hello/","database":"hello","params":{"greeter":"make demo"}}]`
	cmd := exec.Command(d.pgmi, "local", "--bucket", d.bucket, "--trusted-signers", filepath.Join(d.work, "allowed_signers"),
		"--connection", conn, "--interval", "200ms")
	cmd.Env = append(os.Environ(), "PGMI_ROUTES="+routes)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	fmt.Printf("$ PGMI_ROUTES='%s' \\\n    pgmi local --bucket %s --trusted-signers %s --connection \"$CONN\"\n", routes, rel(d.bucket), rel(filepath.Join(d.work, "allowed_signers")))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go d.relay(out)
	return &process{cmd: cmd}, nil
}

// relay prints pgmi local's output indented, as it arrives, and hands each
// line to drop.
func (d *demo) relay(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Printf("  | %s\n", sc.Text())
		select {
		case d.lines <- sc.Text():
		default:
		}
	}
}

func (d *demo) pgmiRun(args ...string) error {
	fmt.Printf("$ pgmi %s\n", strings.Join(args, " "))
	cmd := exec.Command(d.pgmi, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	return cmd.Run()
}

// drop copies a bundle into the bucket folder as key (written beside it
// and renamed, as an upload appears at once), waits for pgmi local to report
// outcome for it, and shows the result object that stands for it.
func (d *demo) drop(src, key, outcome string) (map[string]any, error) {
	fmt.Printf("$ cp %s %s/%s\n", rel(src), rel(d.bucket), key)
	data, err := os.ReadFile(src)
	if err != nil {
		return nil, err
	}
	dst := filepath.Join(d.bucket, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, err
	}
	tmp := filepath.Join(d.work, ".upload")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return nil, err
	}
	if err := d.waitOutcome(key, outcome); err != nil {
		return nil, err
	}
	return d.showResult(key, outcome)
}

// waitOutcome waits for pgmi local's line reporting key's outcome.
func (d *demo) waitOutcome(key, outcome string) error {
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line := <-d.lines:
			got, rest, _ := strings.Cut(line, ": ")
			if !strings.HasPrefix(rest, key+" ") && rest != key {
				continue
			}
			if got != outcome {
				return fmt.Errorf("%s: %s, expected %s", key, line, outcome)
			}
			return nil
		case <-deadline:
			return fmt.Errorf("no outcome for %s within 60s", key)
		}
	}
}

// showResult prints the result object for key. A redelivery (duplicate)
// leaves the result of the run that executed in place, so that is what a
// release pipeline reads.
func (d *demo) showResult(key, outcome string) (map[string]any, error) {
	dir := filepath.Join(d.bucket, "pgmi-results", filepath.FromSlash(filepath.Dir(key)))
	matches, _ := filepath.Glob(filepath.Join(dir, filepath.Base(key)+".*.json"))
	if len(matches) == 0 {
		return nil, fmt.Errorf("no result object for %s", key)
	}
	data, err := os.ReadFile(matches[len(matches)-1])
	if err != nil {
		return nil, err
	}
	var res map[string]any
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("result object of %s: %v", key, err)
	}
	want := outcome
	if outcome == "duplicate" {
		want = "deployed"
		fmt.Printf("  result object %s still says: outcome %v (a redelivery never replaces the result of the run that executed)\n", rel(matches[len(matches)-1]), res["outcome"])
	} else {
		fmt.Printf("  result object %s: outcome %v\n", rel(matches[len(matches)-1]), res["outcome"])
	}
	if res["outcome"] != want {
		return res, fmt.Errorf("%s: result outcome %v, expected %s: %v", key, res["outcome"], want, res["message"])
	}
	return res, nil
}

func show(inventory, hello string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, q := range []struct{ title, conn, sql string }{
		{"inventory: migrations applied", inventory, "SELECT path || ' applied at ' || to_char(applied_at, 'HH24:MI:SS') FROM schema_migration ORDER BY applied_at, path"},
		{"inventory: indexes built in the psql tail", inventory, "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%_idx' ORDER BY 1"},
		{"hello: greetings", hello, "SELECT message FROM greeting ORDER BY id"},
		{"inventory: the deploy ledger", inventory, "SELECT format('#%s %s %s (%s attempt(s)) %s', id, action, status, attempts, bundle) FROM pgmi_ledger.deployments ORDER BY id"},
		{"hello: the deploy ledger", hello, "SELECT format('#%s %s %s %s%s', id, action, status, bundle, coalesce(' — ' || error, '')) FROM pgmi_ledger.deployments ORDER BY id"},
	} {
		fmt.Printf("  %s:\n", q.title)
		if err := printRows(ctx, q.conn, q.sql); err != nil {
			return err
		}
	}
	return nil
}

func printRows(ctx context.Context, connString, sql string) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, l := range lines {
		fmt.Printf("    %s\n", l)
	}
	return err
}
