package pgserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	initdbTimeout   = 2 * time.Minute
	readyTimeout    = 30 * time.Second
	pollInterval    = 10 * time.Millisecond
	pingTimeout     = 2 * time.Second
	maxPortAttempts = 5
)

// errExited means the postmaster exited before accepting connections.
var errExited = errors.New("postgres exited before accepting connections")

// defaultConfig is what every cluster runs with; WithConfig comes after it.
var defaultConfig = []string{
	"listen_addresses=127.0.0.1",
	"fsync=off",
	"synchronous_commit=off",
	"full_page_writes=off",
}

// prepare makes cmd run as the cluster user, in its own process group, from
// the cluster's base directory.
func (c *Cluster) prepare(cmd *exec.Cmd) *exec.Cmd {
	cmd.Dir = c.baseDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.owner.credential()}
	return cmd
}

func (c *Cluster) bin(name string) string { return filepath.Join(c.binDir, name) }

// initdb creates the data directory, with the superuser's password when set.
func (c *Cluster) initdb(ctx context.Context) error {
	hostAuth := "trust"
	args := []string{"-D", c.dataDir, "-U", "postgres", "--auth-local=trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"}
	if c.password != "" {
		hostAuth = "scram-sha-256"
		pwfile := filepath.Join(c.baseDir, "pwfile")
		if err := c.owner.writeFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
			return fmt.Errorf("pgserver: write initdb password file: %w", err)
		}
		defer os.Remove(pwfile)
		args = append(args, "--pwfile="+pwfile)
	}
	args = append(args, "--auth-host="+hostAuth)
	ctx, cancel := context.WithTimeout(ctx, initdbTimeout)
	defer cancel()
	cmd := c.prepare(exec.CommandContext(ctx, c.bin("initdb"), args...))
	// On timeout kill the group: initdb runs postgres as a child, which
	// (unlike the postmaster's children) stays in initdb's process group.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgserver: initdb as %s failed: %w\n%s", c.owner.name, err, out)
	}
	return nil
}

// configure applies WithHBA and WithFile to the new data directory.
func (c *Cluster) configure(s *settings) error {
	if s.hbaSet {
		hba := strings.Join(s.hba, "\n") + "\n"
		if err := c.owner.writeFile(filepath.Join(c.dataDir, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
			return fmt.Errorf("pgserver: write pg_hba.conf: %w", err)
		}
	}
	for _, f := range s.files {
		if err := c.owner.writeFile(filepath.Join(c.dataDir, f.name), f.data, 0o600); err != nil {
			return fmt.Errorf("pgserver: write %s into the data directory: %w", f.name, err)
		}
	}
	return nil
}

// serve starts the postmaster on a free port and waits until it accepts
// connections, picking another port when the chosen one was taken meanwhile.
func (c *Cluster) serve(ctx context.Context, s *settings) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		c.port = port
		p, err := c.launch(s)
		if err != nil {
			return err
		}
		err = c.waitReady(ctx, p)
		if err == nil {
			c.proc = p
			return nil
		}
		stopErr := p.stop()
		serverLog := c.Log()
		if errors.Is(err, errExited) && portClash(serverLog) && attempt < maxPortAttempts {
			continue
		}
		return errors.Join(fmt.Errorf("pgserver: postgres on port %d did not become ready: %w\n--- server log ---\n%s",
			port, err, serverLog), stopErr)
	}
}

func portClash(serverLog string) bool {
	return strings.Contains(serverLog, "Address already in use")
}

// freePort asks the kernel for a free loopback port. Another process may take
// it before postgres binds it; serve retries when that happens.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgserver: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launch starts the postmaster with its output going to the log file, which
// each attempt truncates.
func (c *Cluster) launch(s *settings) (*process, error) {
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgserver: open server log: %w", err)
	}
	args := []string{"-D", c.dataDir, "-p", strconv.Itoa(c.port), "-k", c.sockDir}
	for _, kv := range append(append([]string(nil), defaultConfig...), s.config...) {
		args = append(args, "-c", kv)
	}
	cmd := c.prepare(exec.Command(c.bin("postgres"), args...))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	setParentDeathSignal(cmd.SysProcAttr)
	p, err := startProcess(cmd, func() { logFile.Close() })
	if err != nil {
		return nil, fmt.Errorf("pgserver: start postgres: %w", err)
	}
	return p, nil
}

// waitReady polls a real connection every pollInterval until the server
// answers, the postmaster exits, or ctx ends.
func (c *Cluster) waitReady(ctx context.Context, p *process) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		if c.answers(ctx) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w (%v)", errExited, p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// answers reports whether the server accepts connections over TCP. A server
// error other than "cannot connect now" (still starting up) counts, so that
// WithHBA rules rejecting this connection do not hide a ready server.
func (c *Cluster) answers(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err == nil {
		conn.Close(ctx)
		return true
	}
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code != "57P03"
}
