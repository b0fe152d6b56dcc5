package engine

import (
	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// The failure vocabulary lives in pkg/fault; these aliases keep the engine's
// callers compiling during the transition. New code should use pkg/fault.
type (
	Kind  = fault.Kind
	Error = fault.Error
)

// The kinds, with the exit code each maps to (internal/exitcode).
const (
	KindInternal         = fault.Internal         // 1: unclassified
	KindUsage            = fault.Usage            // 2: command-line usage
	KindConfig           = fault.Config           // 10: invalid configuration or project (offline)
	KindConnection       = fault.Connection       // 11: connection failed
	KindApproval         = fault.Approval         // 12: --overwrite not approved
	KindExecution        = fault.Execution        // 13: deploy.sql failed on the server
	KindDeploySQLMissing = fault.DeploySQLMissing // 14: no deploy.sql in the project root
	KindConcurrent       = fault.Concurrent       // 15: another deployment holds the lock
	KindTimeout          = fault.Timeout          // 16: the deadline expired
	KindCanceled         = fault.Canceled         // 130: interrupted
)

// Errorf builds an *Error of the given kind with a formatted message and no cause.
func Errorf(kind Kind, format string, args ...any) *Error { return fault.Errorf(kind, format, args...) }

// Wrap builds an *Error of the given kind around cause.
func Wrap(kind Kind, cause error, format string, args ...any) *Error {
	return fault.Wrap(kind, cause, format, args...)
}

// KindOf classifies any error: see fault.KindOf.
func KindOf(err error) Kind { return fault.KindOf(err) }

// Redact removes secrets from text: see fault.Redact.
func Redact(s string) string { return fault.Redact(s) }

// ExitCodeFor is the process exit code pgmi uses for the kind: see
// internal/exitcode, the one table.
func ExitCodeFor(k Kind) int { return exitcode.For(k) }

// ExitCode is the pgmi exit code for err: 0 for nil, else ExitCodeFor(KindOf(err)).
func ExitCode(err error) int { return exitcode.Of(err) }
