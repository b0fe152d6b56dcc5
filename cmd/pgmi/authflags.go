package main

import (
	"github.com/spf13/pflag"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
)

// connectionFlags defines the connection flags pgmi deploy documents (and
// the commands that connect like it) into c, and the auth methods' flags;
// the returned function reads the latter (authFlags). The command defines
// its own --help without -h first: -h is --host, as in psql.
func connectionFlags(fl *pflag.FlagSet, c *connect.Flags, databaseUsage string) func() map[string]string {
	fl.StringVar(&c.ConnString, "connection", "", "connection string (URI or key=value); also PGMI_CONNECTION_STRING, DATABASE_URL")
	fl.StringVarP(&c.Host, "host", "h", "", "database host (PGHOST)")
	fl.IntVarP(&c.Port, "port", "p", 0, "database port (PGPORT)")
	fl.StringVarP(&c.User, "username", "U", "", "database user (PGUSER)")
	fl.StringVarP(&c.Database, "database", "d", "", databaseUsage)
	fl.StringVar(&c.SSLMode, "sslmode", "", "disable, allow, prefer, require, verify-ca or verify-full (PGSSLMODE)")
	fl.StringVar(&c.SSLCert, "sslcert", "", "client certificate file (PGSSLCERT)")
	fl.StringVar(&c.SSLKey, "sslkey", "", "client key file (PGSSLKEY); its passphrase comes from PGSSLPASSWORD")
	fl.StringVar(&c.SSLRootCert, "sslrootcert", "", "CA certificate file (PGSSLROOTCERT)")
	return authFlags(fl) // --aws, --azure, --google … of the linked auth methods
}

// authFlags defines the flags of every auth method linked into this binary
// (drivers.go imports them): each method's boolean flag and the flags of its
// settings. The returned function reads them after parsing, as
// connect.Flags.Auth wants them: set flags only, a boolean one as "true".
func authFlags(fl *pflag.FlagSet) func() map[string]string {
	var read []func(out map[string]string)
	for _, m := range connect.Methods() {
		on := fl.Bool(m.Flag, false, m.Usage)
		name := m.Flag
		read = append(read, func(out map[string]string) {
			if *on {
				out[name] = "true"
			}
		})
		for _, s := range m.Settings {
			if s.Flag == "" {
				continue
			}
			val := fl.String(s.Flag, "", s.Usage)
			name := s.Flag
			read = append(read, func(out map[string]string) {
				if *val != "" {
					out[name] = *val
				}
			})
		}
	}
	return func() map[string]string {
		out := map[string]string{}
		for _, r := range read {
			r(out)
		}
		return out
	}
}
