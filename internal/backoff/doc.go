// Package backoff is pgmi's one way to wait between attempts: a
// context-aware Sleep, a Policy that says how long the wait before each
// retry is (exponential, capped, with optional jitter), and Poll, which
// retries a check until it succeeds or a deadline passes.
//
// It imports only the standard library, so pkg/engine may use it (the
// engine's dependency rule allows exactly this package of the module), and
// it is internal because its API carries no compatibility promise.
//
// Errors: Sleep and Poll return ctx.Err() when the context ends first; Poll
// returns ErrDeadline when its deadline passes with the check still false,
// and the check's own error unchanged.
package backoff
