package testpg

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// logTailOnFailure is how much of the server log a failed test prints.
const logTailOnFailure = 8 << 10

// A Cluster is a running throwaway PostgreSQL server. Its methods are safe
// for concurrent use.
type Cluster struct {
	binDir   string
	baseDir  string // private directory holding data/, sock/ and postgres.log
	dataDir  string
	sockDir  string
	logPath  string
	port     int
	password string
	owner    osUser
	proc     *process

	stopping atomic.Bool
	stopOnce sync.Once
	stopErr  error
}

// Start starts a cluster for one test and registers its Stop with tb.Cleanup.
// It skips tb when PostgreSQL is not installed (fails it under CI, see
// Require) and fails tb on any other error. When the test has failed, the
// tail of the server log is logged before the cluster is removed.
func Start(tb testing.TB, opts ...Option) *Cluster {
	tb.Helper()
	c, err := start(tb.Context(), opts)
	Require(tb, err)
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("testpg: server log tail:\n%s", tail(c.Log(), logTailOnFailure))
		}
		if err := c.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return c
}

// StartMain starts a cluster without a testing.TB, for a TestMain that shares
// one cluster across a package. The returned func stops the cluster, reporting
// a failure to stop on stderr; it is never nil, so it can be called even when
// err is not. Pass err to Require in each test to skip or fail it.
func StartMain(opts ...Option) (*Cluster, func(), error) {
	c, err := start(context.Background(), opts)
	if err != nil {
		return nil, func() {}, err
	}
	return c, func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}, nil
}

// Require ends tb when err, from StartMain, is not nil: it skips tb when err
// is ErrNotInstalled and the CI environment variable is unset (or "false" or
// "0"), and fails it otherwise.
func Require(tb testing.TB, err error) {
	tb.Helper()
	switch {
	case err == nil:
		return
	case errors.Is(err, ErrNotInstalled) && !inCI():
		tb.Skip(err)
	case errors.Is(err, ErrNotInstalled):
		tb.Fatalf("%v (CI=%s, so a missing PostgreSQL fails instead of skipping)", err, os.Getenv("CI"))
	default:
		tb.Fatal(err)
	}
}

func inCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

func start(ctx context.Context, opts []Option) (_ *Cluster, err error) {
	s, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	binDir, err := findBinDir()
	if err != nil {
		return nil, err
	}
	owner, err := clusterUser()
	if err != nil {
		return nil, err
	}
	base, err := makeBaseDir(owner)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.RemoveAll(base))
		}
	}()
	c := &Cluster{
		binDir:  binDir,
		baseDir: base,
		dataDir: filepath.Join(base, "data"),
		sockDir: filepath.Join(base, "sock"),
		logPath: filepath.Join(base, "postgres.log"),
		owner:   owner,
	}
	if s.passwordAuth {
		c.password = rand.Text()
	}
	return c, c.boot(ctx, s)
}

func (c *Cluster) boot(ctx context.Context, s *settings) error {
	if err := checkSocketPath(c.sockDir); err != nil {
		return err
	}
	if err := c.owner.mkdirAll(c.sockDir); err != nil {
		return fmt.Errorf("testpg: create socket directory: %w", err)
	}
	if err := os.Chmod(c.sockDir, 0o755); err != nil {
		return fmt.Errorf("testpg: chmod socket directory: %w", err)
	}
	if err := c.initdb(ctx); err != nil {
		return err
	}
	if err := c.configure(s); err != nil {
		return err
	}
	return c.serve(ctx, s)
}

// Stop shuts the server down (see the package documentation) and removes the
// cluster's directories. It is idempotent: later calls return the first
// call's result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.stopping.Store(true)
		var stopErr error
		if c.proc != nil {
			stopErr = c.proc.stop()
		}
		c.stopErr = errors.Join(stopErr, os.RemoveAll(c.baseDir))
	})
	return c.stopErr
}

// Host is the TCP address the server listens on.
func (c *Cluster) Host() string { return "127.0.0.1" }

// Port is the server's TCP port, also used in the unix socket's name.
func (c *Cluster) Port() int { return c.port }

// SocketDir is the directory holding the server's unix socket.
func (c *Cluster) SocketDir() string { return c.sockDir }

// DataDir is the cluster's data directory, owned by the cluster's OS user.
func (c *Cluster) DataDir() string { return c.dataDir }

// Password is the postgres superuser's password with WithPasswordAuth, else "".
func (c *Cluster) Password() string { return c.password }

// PID is the postmaster's process id.
func (c *Cluster) PID() int { return c.proc.pid() }

// Log returns the server log so far, or "" once the cluster is removed.
func (c *Cluster) Log() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	return string(b)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}
