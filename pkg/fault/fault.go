// Package fault is pgmi's failure vocabulary: a Kind that classifies a
// failure, an Error that carries one around its cause, KindOf to classify
// any error chain, and Redact to keep secrets out of what people and logs
// read. It imports only the standard library, so every package — the
// engine, connect and its providers, the bundle, the functions and the
// CLI — can use it without importing one another.
//
// A Kind is not an exit code: the CLI maps kinds to its exit codes, and the
// function adapters map them to their platforms' outcomes.
package fault

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies a failure.
type Kind int

// The kinds. Internal is the zero value: an unclassified failure.
const (
	Internal         Kind = iota // unclassified
	Usage                        // command-line usage
	Config                       // invalid configuration or project, found offline
	Connection                   // the connection failed
	Approval                     // an --overwrite was not approved
	Execution                    // deploy.sql failed on the server
	DeploySQLMissing             // no deploy.sql in the project root
	Concurrent                   // another deployment holds the lock
	Timeout                      // the deadline expired
	Canceled                     // interrupted
	Unreported                   // a waited-for outcome was not reported in time (pgmi publish --wait)
)

func (k Kind) String() string {
	switch k {
	case Usage:
		return "usage"
	case Config:
		return "invalid configuration"
	case Connection:
		return "connection failed"
	case Approval:
		return "approval denied"
	case Execution:
		return "execution failed"
	case DeploySQLMissing:
		return "deploy.sql not found"
	case Concurrent:
		return "concurrent deployment"
	case Timeout:
		return "timeout"
	case Canceled:
		return "canceled"
	case Unreported:
		return "no outcome reported"
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

// Errorf builds an *Error of the given kind with a formatted message and no cause.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Wrap builds an *Error of the given kind around cause.
func Wrap(kind Kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// Kinder is implemented by other packages' error types that classify
// themselves without being an *Error (the bundle's rejections, say).
// KindOf consults it for every error in a chain.
type Kinder interface{ FaultKind() Kind }

// precedence is pgmi's classification order: when a chain carries several
// kinds, the earliest in this list wins.
var precedence = []Kind{
	Canceled, Concurrent, Config, DeploySQLMissing, Approval,
	Connection, Timeout, Execution, Usage, Unreported,
}

// KindOf classifies any error: the kinds found in its chain (*Error values
// and Kinder implementations, through Unwrap() error and Unwrap() []error)
// decided by pgmi's precedence, a bare context.Canceled → Canceled, a bare
// context.DeadlineExceeded → Timeout, anything else Internal. A nil error
// has no kind and returns Internal.
func KindOf(err error) Kind {
	found := map[Kind]bool{}
	collect(err, found)
	if errors.Is(err, context.Canceled) {
		found[Canceled] = true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		found[Timeout] = true
	}
	for _, k := range precedence {
		if found[k] {
			return k
		}
	}
	return Internal
}

func collect(err error, found map[Kind]bool) {
	for err != nil {
		if e, ok := err.(*Error); ok {
			found[e.Kind] = true
		} else if k, ok := err.(Kinder); ok {
			found[k.FaultKind()] = true
		}
		if multi, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range multi.Unwrap() {
				collect(e, found)
			}
			return
		}
		err = errors.Unwrap(err)
	}
}

// ErrSessionLost is in the chain of an error whose cause is the loss of the
// deploy session: the server terminated it (admin shutdown or
// pg_terminate_backend, SQLSTATE 57P01–57P03), a connection exception
// (class 08), or the connection dropped (EOF, reset). What committed before
// stays committed; nothing after it ran. Such a failure is worth retrying:
// test it with errors.Is.
var ErrSessionLost = errors.New("the database session was lost")
