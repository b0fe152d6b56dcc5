package connect

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// startPgBouncer runs a real PgBouncer in pool mode mode in front of c and
// returns its port. It needs the pgbouncer binary (Debian package
// pgbouncer); without it the test is skipped, or fails under CI.
func startPgBouncer(t *testing.T, c *testpg.Cluster, mode string) int {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/pgbouncer"); serr == nil {
			bin = "/usr/sbin/pgbouncer"
		}
	}
	if bin == "" {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatal("pgbouncer is not installed (Debian package pgbouncer; make deps installs it)")
		}
		t.Skip("pgbouncer is not installed (Debian package pgbouncer)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// Not t.TempDir: its parent is private, and pgbouncer may run as another user.
	dir, err := os.MkdirTemp("", "pgmi-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	ini := fmt.Sprintf(`[databases]
* = host=127.0.0.1 port=%d user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = %s
default_pool_size = 4
ignore_startup_parameters = extra_float_digits,options
`, c.Port(), port, mode)
	cfgPath := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(cfgPath, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, cfgPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 { // pgbouncer refuses to run as root
		cmd.SysProcAttr.Credential = unprivileged(t)
	}
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("pgbouncer log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			conn.Close()
			return port
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("pgbouncer did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func unprivileged(t *testing.T) *syscall.Credential {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	t.Skip("running as root with neither a postgres nor a nobody user to run pgbouncer as")
	return nil
}

// A real PgBouncer: transaction and statement mode are refused with the
// advice to connect directly; session mode works.
func TestPgBouncerModes(t *testing.T) {
	c := testpg.Start(t)
	for _, tc := range []struct{ mode, want string }{
		{"transaction", "transaction or statement mode"},
		{"statement", "transaction or statement mode"},
		{"session", ""},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			port := startPgBouncer(t, c, tc.mode)
			f := Flags{Host: "127.0.0.1", Port: port, User: "postgres", Database: "postgres", SSLMode: "disable"}
			conn, err := openTarget(t, f, isolatedEnv(t), nil)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := conn.Exec(context.Background(), "CREATE TEMP TABLE t (x int)"); err != nil {
					t.Fatal(err)
				}
				return
			}
			if exitcode.Of(err) != 10 || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Connect to the database directly") {
				t.Errorf("exit %d: %v", exitcode.Of(err), err)
			}
		})
	}
}
