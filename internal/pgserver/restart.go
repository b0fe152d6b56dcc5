package pgserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// smartShutdownWait bounds a smart shutdown, which waits for every client to
// disconnect on its own.
const smartShutdownWait = 30 * time.Second

// shutdownModes maps Restart's modes to the postmaster's shutdown signals and
// how long the postmaster may take to exit after each.
var shutdownModes = map[string]struct {
	signal syscall.Signal
	wait   time.Duration
}{
	"smart":     {syscall.SIGTERM, smartShutdownWait},
	"fast":      {syscall.SIGINT, fastShutdownWait},
	"immediate": {syscall.SIGQUIT, immediateShutdownWait},
}

// Restart stops the server in the given shutdown mode, waits for the
// postmaster to exit, then starts it again on the same port, data directory
// and settings and waits until it answers, so connection strings taken
// before the restart stay valid. Sessions open at the restart are ended by
// the shutdown, as with `pg_ctl restart -m mode`:
//
//   - "smart" (SIGTERM) refuses new connections and waits for the clients
//     to disconnect on their own; it fails after 30 s if one stays
//     connected, leaving the server shutting down (Stop still ends it);
//   - "fast" (SIGINT) rolls back open transactions and disconnects clients
//     (SQLSTATE 57P01), then writes a shutdown checkpoint;
//   - "immediate" (SIGQUIT) ends every process at once, as a crash does;
//     the next start runs crash recovery. Under the package's default
//     synchronous_commit=off, transactions committed in the last moments
//     before it may be lost, as after a crash of the server: pass
//     WithConfig("synchronous_commit", "on") to a cluster whose test relies
//     on them.
//
// The server log of the new start is appended to the old one (Log). Restart
// waits up to 30 s for the server to answer again, failing with the log if it
// does not; on any error the cluster is left as it is, and Stop still cleans
// it up. An unknown mode is an error and changes nothing.
//
// Unlike the other methods, Restart must not run concurrently with Stop,
// PID or another Restart: it replaces the postmaster the cluster refers to.
// Connecting while it runs is fine; the attempt fails or waits for the
// server, as with any server restart.
func (c *Cluster) Restart(mode string) error {
	m, ok := shutdownModes[mode]
	if !ok {
		return fmt.Errorf("pgserver: unknown shutdown mode %q: want smart, fast or immediate", mode)
	}
	if c.stopping.Load() {
		return errors.New("pgserver: restart of a stopped cluster")
	}
	old := c.proc
	if err := old.cmd.Process.Signal(m.signal); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("pgserver: %s shutdown of postmaster pid %d: %w", mode, old.pid(), err)
	}
	timer := time.NewTimer(m.wait)
	defer timer.Stop()
	select {
	case <-old.done:
	case <-timer.C:
		return fmt.Errorf("pgserver: postmaster pid %d did not exit within %v of a %s shutdown "+
			"(smart waits for every client to disconnect)", old.pid(), m.wait, mode)
	}
	if c.stopping.Load() { // Stop ran meanwhile and removed the directories
		return errors.New("pgserver: the cluster was stopped during the restart")
	}

	p, err := c.relaunch(old.cmd.Args, mode)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := c.waitReady(ctx, p); err != nil {
		stopErr := p.stop()
		serverLog := c.Log()
		hint := ""
		if portClash(serverLog) {
			hint = fmt.Sprintf(" (another process took port %d while the server was down)", c.port)
		}
		return errors.Join(fmt.Errorf("pgserver: postgres did not come back on port %d after a %s restart%s: %w\n--- server log ---\n%s",
			c.port, mode, hint, err, tail(serverLog, logTailOnFailure)), stopErr)
	}
	c.proc = p
	return nil
}

// relaunch starts the postmaster again with the command line it was first
// started with (binary, data directory, port, socket directory and every
// -c setting), appending its output to the server log.
func (c *Cluster) relaunch(args []string, mode string) (*process, error) {
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgserver: open server log: %w", err)
	}
	fmt.Fprintf(logFile, "--- pgserver: restart after a %s shutdown ---\n", mode)
	cmd := c.prepare(exec.Command(args[0], args[1:]...))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	setParentDeathSignal(cmd.SysProcAttr)
	p, err := startProcess(cmd, func() { logFile.Close() })
	if err != nil { // startProcess closed the log
		return nil, fmt.Errorf("pgserver: start postgres again: %w", err)
	}
	return p, nil
}
