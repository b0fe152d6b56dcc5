package fault

import (
	"context"
	"errors"
	"net"
	"syscall"
)

// Retryable reports whether trying the same thing again may succeed: the
// one answer to "retry?" for a connection attempt (pkg/connect's retries),
// a storage read (the bundle fetch), and a whole deploy (the platform
// delivering its event again). In order:
//
//   - an error in the chain that knows says so itself, with a method
//     Retryable() bool (the bundle's FetchError, the auth providers'
//     failures); the first one found decides;
//   - a lost deploy session (ErrSessionLost) is retryable;
//   - a classified failure decides by its Kind: Connection, Concurrent,
//     Timeout and Canceled are retryable, every other kind (a bad
//     configuration, deploy.sql failing, a refused approval …) is not;
//   - an unclassified one by its cause: a server error by its SQLSTATE
//     (classes 08, 53 and 57 but 57014 and 57P04, and 40001, 40P01,
//     55P03), a network timeout or deadline, a temporary DNS failure, a
//     refused, reset, aborted or unreachable connection.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var self interface{ Retryable() bool }
	if errors.As(err, &self) {
		return self.Retryable()
	}
	if errors.Is(err, ErrSessionLost) {
		return true
	}
	switch KindOf(err) {
	case Connection, Concurrent, Timeout, Canceled:
		return true
	case Internal:
		return transientCause(err)
	}
	return false
}

// transientCause classifies an unclassified error by what caused it.
func transientCause(err error) bool {
	var server interface{ SQLState() string }
	if errors.As(err, &server) {
		return transientSQLState(server.SQLState())
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout || dns.IsTemporary
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, errno := range []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ECONNABORTED} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// transientSQLState: connection exceptions (08), insufficient resources
// (53) and operator intervention (57) but a cancelled statement (57014)
// and a database being dropped (57P04); serialization failures, deadlocks
// and lock timeouts.
func transientSQLState(code string) bool {
	switch {
	case code == "57014" || code == "57P04":
		return false
	case len(code) == 5 && (code[:2] == "08" || code[:2] == "53" || code[:2] == "57"):
		return true
	}
	return code == "40001" || code == "40P01" || code == "55P03"
}
