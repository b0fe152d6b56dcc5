//go:build !linux

package testpg

import "syscall"

// setParentDeathSignal is Linux-only; elsewhere a postmaster whose test binary
// dies without cleanup keeps running until killed.
func setParentDeathSignal(*syscall.SysProcAttr) {}
