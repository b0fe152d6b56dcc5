package testpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/pgserver"
)

// logTailOnFailure is how much of the server log a failed test prints.
const logTailOnFailure = 8 << 10

// A Cluster is a running throwaway PostgreSQL server (pgserver.Cluster:
// ConnString, Host, Port, Restart, Stop …) with helpers for tests. Its
// methods are safe for concurrent use, except Restart (see there).
type Cluster struct {
	*pgserver.Cluster
}

// Start starts a cluster for one test and registers its Stop with tb.Cleanup.
// It skips tb when PostgreSQL is not installed (fails it under CI, see
// Require) and fails tb on any other error. When the test has failed, the
// tail of the server log is logged before the cluster is removed.
func Start(tb testing.TB, opts ...Option) *Cluster {
	tb.Helper()
	c, err := pgserver.Start(tb.Context(), opts...)
	Require(tb, err)
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("testpg: server log tail:\n%s", c.LogTail(logTailOnFailure))
		}
		if err := c.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return &Cluster{c}
}

// StartMain starts a cluster without a testing.TB, for a TestMain that shares
// one cluster across a package. The returned func stops the cluster, reporting
// a failure to stop on stderr; it is never nil, so it can be called even when
// err is not. Pass err to Require in each test to skip or fail it.
func StartMain(opts ...Option) (*Cluster, func(), error) {
	c, err := pgserver.Start(context.Background(), opts...)
	if err != nil {
		return nil, func() {}, err
	}
	return &Cluster{c}, func() {
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
