package pgserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// logTailOnFailure is how much of the server log an error quotes.
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

// Start initialises a new cluster in a temporary directory and starts its
// server, returning once the server accepts connections. ctx bounds the
// start only; the server runs until Stop. The error is ErrNotInstalled when
// no server binaries are found.
func Start(ctx context.Context, opts ...Option) (_ *Cluster, err error) {
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
		return fmt.Errorf("pgserver: create socket directory: %w", err)
	}
	if err := os.Chmod(c.sockDir, 0o755); err != nil {
		return fmt.Errorf("pgserver: chmod socket directory: %w", err)
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

// Children returns the process ids of the postmaster's children: its
// auxiliary processes and a backend per session, including the backend of
// a session that has closed but whose process has not yet exited (which it
// does well after pg_stat_activity stopped showing it). Linux only
// (errors.ErrUnsupported elsewhere).
func (c *Cluster) Children() ([]int, error) { return ChildPIDs(c.PID()) }

// Log returns the server log so far, or "" once the cluster is removed.
func (c *Cluster) Log() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	return string(b)
}

// Stopped reports whether Stop was called.
func (c *Cluster) Stopped() bool { return c.stopping.Load() }

// LogTail is the last n bytes of the server log, marked as cut when longer.
func (c *Cluster) LogTail(n int) string { return tail(c.Log(), n) }

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}
