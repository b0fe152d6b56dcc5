package connect

import (
	"net"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgx can only connect with a configuration made by its ParseConfig, which
// also consults the process environment and home directory. So the base is
// parsed from a string that pins every setting pgx would otherwise take from
// there, and every field that matters is then set from the Config directly.
// (PGSERVICE is the one variable pgx reads that cannot be pinned this way.)
var pinned = []string{
	"host=localhost", "port=5432", "user=pgmi", "dbname=postgres", "passfile=''",
	"sslmode=disable", "sslcert=''", "sslkey=''", "sslrootcert=''", "sslpassword=''",
	"sslsni=''", "sslnegotiation=''", "sslcertmode=allow", "target_session_attrs=any",
	"channel_binding=prefer", "require_auth=''", "min_protocol_version=''", "max_protocol_version=''",
	"application_name=''", "connect_timeout=0",
}

// defaultKeepAlive matches pgx's default dialer.
const defaultKeepAlive = 5 * time.Minute

// pgxConfig builds the configuration for database db.
func pgxConfig(c *Config, t *tlsSetup, pass *Passfile, db string) (*pgx.ConnConfig, error) {
	parts := append([]string(nil), pinned...)
	for _, k := range sortedParamKeys(c.Params) {
		if coreKeys[k] || !validParamName(k) {
			return nil, configErr("connection parameter %q cannot be set as a parameter", k)
		}
		parts = append(parts, k+"="+quoteKV(c.Params[k]))
	}
	cfg, err := pgx.ParseConfig(strings.Join(parts, " "))
	if err != nil {
		return nil, configErr("invalid connection parameters: %v", redactedError{err})
	}
	eps := c.Endpoints()
	var fallbacks []*pgconn.FallbackConfig
	for _, ep := range eps {
		for _, tc := range t.configs(ep.Host) {
			fallbacks = append(fallbacks, &pgconn.FallbackConfig{Host: ep.Host, Port: ep.Port, TLSConfig: tc})
		}
	}
	cfg.Host, cfg.Port, cfg.TLSConfig = fallbacks[0].Host, fallbacks[0].Port, fallbacks[0].TLSConfig
	cfg.Fallbacks = fallbacks[1:]
	if t.direct {
		cfg.SSLNegotiation = "direct"
	}
	cfg.Database, cfg.User = db, c.User
	cfg.Password = c.Password.Reveal()
	if cfg.Password == "" {
		cfg.Password, _ = pass.Lookup(eps[0].Host, eps[0].Port, db, c.User)
	}
	cfg.RuntimeParams = runtimeParams(c, cfg.RuntimeParams)
	dialer := &net.Dialer{KeepAlive: defaultKeepAlive}
	if c.ConnectTimeout > 0 {
		cfg.ConnectTimeout = c.ConnectTimeout
		dialer.Timeout = c.ConnectTimeout
	}
	cfg.DialFunc = dialer.DialContext
	return cfg, nil
}

// runtimeParams keeps only what the Config asks for: pgx may have added
// startup parameters from PGOPTIONS, PGTZ and friends.
func runtimeParams(c *Config, parsed map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range parsed {
		if _, ok := c.Params[k]; ok {
			out[k] = v
		}
	}
	if c.ApplicationName != "" {
		out["application_name"] = c.ApplicationName
	}
	return out
}

func sortedParamKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func quoteKV(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
