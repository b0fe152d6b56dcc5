package pgserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// Shutdown bounds: fast shutdown takes milliseconds with no clients and about
// a second with idle ones.
const (
	fastShutdownWait      = 10 * time.Second
	immediateShutdownWait = 5 * time.Second
	killWait              = 5 * time.Second
)

// process is a started postmaster and the channel closed when it is reaped.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's result, valid once done is closed
}

// startProcess starts cmd and reaps it in the background. Start and Wait run
// on one locked OS thread, because Linux delivers the parent-death signal
// when the thread that forked the child exits, not the process.
func startProcess(cmd *exec.Cmd, onExit func()) (*process, error) {
	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer onExit()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop shuts the postmaster down: SIGINT (fast shutdown), then SIGQUIT
// (immediate shutdown), then SIGKILL, waiting a bounded time after each. It
// signals only the postmaster: PostgreSQL puts every child in a session of
// its own, and the children exit when they see the postmaster die.
func (p *process) stop() error {
	steps := []struct {
		signal func() error
		wait   time.Duration
	}{
		{func() error { return p.cmd.Process.Signal(os.Interrupt) }, fastShutdownWait},
		{func() error { return p.cmd.Process.Signal(syscall.SIGQUIT) }, immediateShutdownWait},
		{p.cmd.Process.Kill, killWait},
	}
	for _, step := range steps {
		if p.exited() {
			return nil
		}
		err := step.signal()
		if err != nil && !errors.Is(err, os.ErrProcessDone) && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("pgserver: signal postmaster pid %d: %w", p.pid(), err)
		}
		timer := time.NewTimer(step.wait)
		select {
		case <-p.done:
			timer.Stop()
			return nil
		case <-timer.C:
		}
	}
	return fmt.Errorf("pgserver: postmaster pid %d did not exit even after SIGKILL", p.pid())
}
