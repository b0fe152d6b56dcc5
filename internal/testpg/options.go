package testpg

import "github.com/pgmi-cloud/pgmi/internal/pgserver"

// An Option changes how Start and StartMain build a cluster; see
// pgserver.Option. An invalid one makes Start fail the test and StartMain
// return an error.
type Option = pgserver.Option

// ErrNotInstalled is returned by StartMain (and makes Start skip or fail) when
// no PostgreSQL server binaries are found.
var ErrNotInstalled = pgserver.ErrNotInstalled

// WithPasswordAuth: see pgserver.WithPasswordAuth.
func WithPasswordAuth() Option { return pgserver.WithPasswordAuth() }

// WithConfig: see pgserver.WithConfig.
func WithConfig(key, value string) Option { return pgserver.WithConfig(key, value) }

// WithHBA: see pgserver.WithHBA.
func WithHBA(lines ...string) Option { return pgserver.WithHBA(lines...) }

// WithFile: see pgserver.WithFile.
func WithFile(name string, data []byte) Option { return pgserver.WithFile(name, data) }

// WithTokenTLS: see pgserver.WithTokenTLS.
func WithTokenTLS() Option { return pgserver.WithTokenTLS() }
