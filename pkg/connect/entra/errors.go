package entra

import "github.com/pgmi-cloud/pgmi/pkg/fault"

// tokenError is a failure to get a token. The connection fails with exit
// 11 and is not retried by connect: azidentity has retried its requests.
type tokenError struct {
	msg string
	err error
}

func (e *tokenError) Error() string   { return e.msg + ": " + fault.Redact(e.err.Error()) }
func (e *tokenError) Unwrap() error   { return e.err }
func (e *tokenError) Retryable() bool { return false }

// redacted hides secrets in an SDK error's text.
type redacted struct{ err error }

func (r redacted) Error() string { return fault.Redact(r.err.Error()) }
func (r redacted) Unwrap() error { return r.err }
