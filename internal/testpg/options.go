package testpg

import "github.com/pgmi-cloud/pgmi/internal/pgserver"

// An Option changes how Start and StartMain build a cluster: the pgserver
// options (pgserver.WithPasswordAuth, WithConfig, WithHBA, WithFile,
// WithTokenTLS). An invalid one makes Start fail the test and StartMain
// return an error.
type Option = pgserver.Option

// ErrNotInstalled is returned by StartMain (and makes Start skip or fail) when
// no PostgreSQL server binaries are found.
var ErrNotInstalled = pgserver.ErrNotInstalled
