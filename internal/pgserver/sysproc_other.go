//go:build !linux

package pgserver

import (
	"errors"
	"syscall"
)

// setParentDeathSignal is Linux-only; elsewhere a postmaster whose starting process
// dies without cleanup keeps running until killed.
func setParentDeathSignal(*syscall.SysProcAttr) {}

// ChildPIDs needs /proc.
func ChildPIDs(int) ([]int, error) { return nil, errors.ErrUnsupported }
