package pgserver

import (
	"fmt"
	"path/filepath"
	"strings"
)

// An Option changes how Start builds a cluster. Options are
// validated before anything is started; an invalid one makes Start return
// an error.
type Option func(*settings) error

type settings struct {
	passwordAuth bool
	config       []string // "key=value" for postgres -c, after the defaults
	hba          []string // replaces pg_hba.conf when hbaSet
	hbaSet       bool
	files        []dataFile
}

type dataFile struct {
	name string
	data []byte
}

// WithPasswordAuth makes TCP connections use scram-sha-256 and gives the
// postgres superuser a random password (Cluster.Password), which ConnString
// includes. Unix-socket connections stay trusted.
func WithPasswordAuth() Option {
	return func(s *settings) error {
		s.passwordAuth = true
		return nil
	}
}

// WithConfig adds a server setting, passed as `postgres -c key=value` after
// the package's defaults (so it can override them). Relative file paths such
// as ssl_cert_file are resolved by the server against the data directory,
// where WithFile puts files.
func WithConfig(key, value string) Option {
	return func(s *settings) error {
		if key == "" || strings.ContainsAny(key, "= \t\n") {
			return fmt.Errorf("pgserver: WithConfig key %q must be a setting name", key)
		}
		s.config = append(s.config, key+"="+value)
		return nil
	}
}

// WithHBA replaces the whole content of pg_hba.conf with lines before the
// server starts, for example "local all all trust" and
// "hostssl all all 127.0.0.1/32 cert". Readiness is still detected when the
// rules reject the package's own connection.
func WithHBA(lines ...string) Option {
	return func(s *settings) error {
		if len(lines) == 0 {
			return fmt.Errorf("pgserver: WithHBA needs at least one line")
		}
		s.hba = append([]string(nil), lines...)
		s.hbaSet = true
		return nil
	}
}

// WithFile writes data to name, a path relative to the data directory, before
// the server starts. The file is owned by the cluster's OS user with mode
// 0600, as the server requires of private keys. Files are written after
// WithHBA's pg_hba.conf, so a file named pg_hba.conf wins.
func WithFile(name string, data []byte) Option {
	return func(s *settings) error {
		if !filepath.IsLocal(name) {
			return fmt.Errorf("pgserver: WithFile name %q must be a relative path inside the data directory", name)
		}
		s.files = append(s.files, dataFile{name: name, data: append([]byte(nil), data...)})
		return nil
	}
}

func newSettings(opts []Option) (*settings, error) {
	s := &settings{}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}
