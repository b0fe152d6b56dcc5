package engine

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies a deployment failure. Each kind maps to one pgmi exit code
// (see ExitCode); adapters map kinds to platform outcomes.
type Kind int

// The kinds, with the exit code each maps to.
const (
	KindInternal         Kind = iota // 1: unclassified
	KindUsage                        // 2: command-line usage
	KindConfig                       // 10: invalid configuration or project (offline)
	KindConnection                   // 11: connection failed
	KindApproval                     // 12: --overwrite not approved
	KindExecution                    // 13: deploy.sql failed on the server
	KindDeploySQLMissing             // 14: no deploy.sql in the project root
	KindConcurrent                   // 15: another deployment holds the lock
	KindTimeout                      // 16: the deadline expired
	KindCanceled                     // 130: interrupted
)

var exitCodes = map[Kind]int{
	KindInternal: 1, KindUsage: 2, KindConfig: 10, KindConnection: 11, KindApproval: 12,
	KindExecution: 13, KindDeploySQLMissing: 14, KindConcurrent: 15, KindTimeout: 16, KindCanceled: 130,
}

// ExitCode is the process exit code pgmi uses for the kind.
func (k Kind) ExitCode() int { return exitCodes[k] }

func (k Kind) String() string {
	switch k {
	case KindUsage:
		return "usage"
	case KindConfig:
		return "invalid configuration"
	case KindConnection:
		return "connection failed"
	case KindApproval:
		return "approval denied"
	case KindExecution:
		return "execution failed"
	case KindDeploySQLMissing:
		return "deploy.sql not found"
	case KindConcurrent:
		return "concurrent deployment"
	case KindTimeout:
		return "timeout"
	case KindCanceled:
		return "canceled"
	}
	return "internal error"
}

// Error is a failure with a kind. It wraps the underlying cause, which may be
// a *pgconn.PgError carrying SQLSTATE, detail, hint and position.
type Error struct {
	Kind Kind
	Msg  string // what failed, lower-case, without the cause
	Err  error  // the cause, may be nil
}

func (e *Error) Error() string {
	switch {
	case e.Err == nil:
		return e.Msg
	case e.Msg == "":
		return e.Err.Error()
	}
	return e.Msg + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ExitCode lets callers that only know the interface{ ExitCode() int }
// behaviour classify the error.
func (e *Error) ExitCode() int { return e.Kind.ExitCode() }

// Errorf builds an *Error of the given kind with a formatted message and no cause.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Wrap builds an *Error of the given kind around cause.
func Wrap(kind Kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// kindPrecedence is pgmi's classification order: when a chain carries several
// kinds, the earliest in this list wins.
var kindPrecedence = []Kind{
	KindCanceled, KindConcurrent, KindConfig, KindDeploySQLMissing, KindApproval,
	KindConnection, KindTimeout, KindExecution, KindUsage,
}

// KindOf classifies any error: the kinds found in its chain (including other
// packages' errors exposing ExitCode() int) decided by pgmi's precedence, a bare
// context.Canceled → KindCanceled, a bare context.DeadlineExceeded → KindTimeout,
// anything else KindInternal. A nil error has no kind and returns KindInternal.
func KindOf(err error) Kind {
	found := map[Kind]bool{}
	collectKinds(err, found)
	if errors.Is(err, context.Canceled) {
		found[KindCanceled] = true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		found[KindTimeout] = true
	}
	for _, k := range kindPrecedence {
		if found[k] {
			return k
		}
	}
	return KindInternal
}

type exitCoder interface{ ExitCode() int }

func collectKinds(err error, found map[Kind]bool) {
	for err != nil {
		if e, ok := err.(*Error); ok {
			found[e.Kind] = true
		} else if c, ok := err.(exitCoder); ok {
			for k, code := range exitCodes {
				if code == c.ExitCode() {
					found[k] = true
				}
			}
		}
		if multi, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range multi.Unwrap() {
				collectKinds(e, found)
			}
			return
		}
		err = errors.Unwrap(err)
	}
}

// ExitCode is the pgmi exit code for err: 0 for nil, else KindOf(err).ExitCode().
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	return KindOf(err).ExitCode()
}
