//go:build !linux

package pgserver

import "syscall"

// setParentDeathSignal is Linux-only; elsewhere a postmaster whose starting process
// dies without cleanup keeps running until killed.
func setParentDeathSignal(*syscall.SysProcAttr) {}
