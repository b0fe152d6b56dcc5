package pgserver

import "syscall"

// setParentDeathSignal asks the kernel to send SIGQUIT (immediate shutdown)
// to the postmaster if the thread that started it dies, which process.start
// ties to the lifetime of the process that started it.
func setParentDeathSignal(a *syscall.SysProcAttr) {
	a.Pdeathsig = syscall.SIGQUIT
}
