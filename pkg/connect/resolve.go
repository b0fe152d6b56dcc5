package connect

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// Flags are the connection settings given on the command line. Empty
// values are unset. No secret has a flag.
type Flags struct {
	ConnString  string // --connection
	Host        string // -h/--host
	Port        int    // -p/--port, 0 = unset
	User        string // -U/--username
	Database    string // -d/--database
	SSLMode     string
	SSLCert     string
	SSLKey      string
	SSLRootCert string
}

// Env looks up an environment variable; composition roots pass os.LookupEnv.
type Env func(string) (string, bool)

func (e Env) get(name string) string {
	if e == nil {
		return ""
	}
	v, _ := e(name)
	return v
}

// Target is a resolved connection: the full configuration of the target
// database and the name of the maintenance database used to create or
// recreate it.
type Target struct {
	Config      *pgx.ConnConfig // Database is the target
	Maintenance string
}

// Database is the target database name.
func (t *Target) Database() string { return t.Config.Database }

// For returns a copy of the configuration pointed at another database.
func (t *Target) For(database string) *pgx.ConnConfig {
	c := t.Config.Copy()
	c.Database = database
	return c
}

var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// Resolve applies pgmi's precedence: flags, then the environment
// (PGMI_CONNECTION_STRING, DATABASE_URL, then PG*), then pgmi.yaml, then
// defaults. With a connection string, -d names the target and the string's
// database is the maintenance database (the two-database pattern).
func Resolve(f Flags, env Env, yml pgmiyaml.Connection) (*Target, error) {
	if err := validateSSLMode("--sslmode", f.SSLMode); err != nil {
		return nil, err
	}
	if f.Port < 0 || f.Port > 65535 {
		return nil, engine.Errorf(engine.KindConfig, "invalid --port %d: must be between 1 and 65535", f.Port)
	}
	conn := firstNonEmpty(f.ConnString, env.get("PGMI_CONNECTION_STRING"), env.get("DATABASE_URL"))
	if conn != "" {
		return resolveString(conn, f, env, yml)
	}
	return resolveGranular(f, env, yml)
}

func resolveString(conn string, f Flags, env Env, yml pgmiyaml.Connection) (*Target, error) {
	if f.Host != "" || f.Port != 0 || f.User != "" || f.SSLMode != "" {
		return nil, engine.Errorf(engine.KindConfig, "cannot combine a connection string with -h/--host, -p/--port, -U/--username or --sslmode: put those in the string, or drop the string")
	}
	extra := certSettings(f, env, yml)
	cfg, err := parseConfig(conn, extra)
	if err != nil {
		return nil, err
	}
	// -d names the target and the string's database becomes the maintenance
	// database; without -d the string's database is the target.
	maintenance := "postgres"
	if f.Database != "" {
		maintenance = firstNonEmpty(cfg.Database, "postgres")
		cfg.Database = f.Database
	} else {
		cfg.Database = firstNonEmpty(cfg.Database, "postgres")
	}
	return &Target{Config: cfg, Maintenance: maintenance}, nil
}

func resolveGranular(f Flags, env Env, yml pgmiyaml.Connection) (*Target, error) {
	port := ""
	switch {
	case f.Port != 0:
		port = strconv.Itoa(f.Port)
	case env.get("PGPORT") != "":
		port = env.get("PGPORT")
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, engine.Errorf(engine.KindConfig, "invalid $PGPORT value %q: must be a number between 1 and 65535", port)
		}
	case yml.Port != 0:
		port = strconv.Itoa(yml.Port)
	}
	sslmode := firstNonEmpty(f.SSLMode, env.get("PGSSLMODE"), yml.SSLMode)
	if err := validateSSLMode("sslmode", sslmode); err != nil {
		return nil, err
	}
	database := firstNonEmpty(f.Database, env.get("PGDATABASE"), yml.Database)
	if database == "" {
		return nil, engine.Errorf(engine.KindConfig, "database name is required: pass -d/--database, set PGDATABASE, or set connection.database in pgmi.yaml")
	}
	kv := map[string]string{
		"host":             firstNonEmpty(f.Host, env.get("PGHOST"), yml.Host, "localhost"),
		"port":             port,
		"user":             firstNonEmpty(f.User, env.get("PGUSER"), yml.Username),
		"dbname":           database,
		"sslmode":          sslmode,
		"application_name": firstNonEmpty(env.get("PGAPPNAME"), "pgmi"),
	}
	for k, v := range certSettings(f, env, yml) {
		kv[k] = v
	}
	cfg, err := parseConfig(keywordString(kv), nil)
	if err != nil {
		return nil, err
	}
	maintenance := "postgres"
	if f.Database != "" && yml.MaintenanceDatabase != "" {
		maintenance = yml.MaintenanceDatabase
	}
	return &Target{Config: cfg, Maintenance: maintenance}, nil
}

// certSettings are the certificate paths from flags, then env, then pgmi.yaml.
func certSettings(f Flags, env Env, yml pgmiyaml.Connection) map[string]string {
	out := map[string]string{}
	set := func(key, flag, envName, yml string) {
		if v := firstNonEmpty(flag, env.get(envName), yml); v != "" {
			out[key] = v
		}
	}
	set("sslcert", f.SSLCert, "PGSSLCERT", yml.SSLCert)
	set("sslkey", f.SSLKey, "PGSSLKEY", yml.SSLKey)
	set("sslrootcert", f.SSLRootCert, "PGSSLROOTCERT", yml.SSLRootCert)
	return out
}

// parseConfig parses a URI or keyword/value string, adding extra settings
// when the string does not set them, and defaulting application_name.
func parseConfig(conn string, extra map[string]string) (*pgx.ConnConfig, error) {
	if len(extra) > 0 {
		conn = withSettings(conn, extra)
	}
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		return nil, engine.Wrap(engine.KindConfig, redactedError{err}, "invalid connection settings")
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "pgmi"
	}
	return cfg, nil
}

func withSettings(conn string, extra map[string]string) string {
	if strings.Contains(conn, "://") {
		sep := "?"
		if strings.Contains(conn, "?") {
			sep = "&"
		}
		var b strings.Builder
		for k, v := range extra {
			if !strings.Contains(conn, k+"=") {
				fmt.Fprintf(&b, "%s%s=%s", sep, k, v)
				sep = "&"
			}
		}
		return conn + b.String()
	}
	for k, v := range extra {
		if !strings.Contains(conn, k+"=") {
			conn += " " + k + "=" + quoteValue(v)
		}
	}
	return conn
}

func keywordString(kv map[string]string) string {
	var parts []string
	for _, k := range []string{"host", "port", "user", "dbname", "sslmode", "application_name", "sslcert", "sslkey", "sslrootcert"} {
		if v := kv[k]; v != "" {
			parts = append(parts, k+"="+quoteValue(v))
		}
	}
	return strings.Join(parts, " ")
}

func quoteValue(v string) string {
	v = strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), `'`, `\'`)
	return "'" + v + "'"
}

func validateSSLMode(source, mode string) error {
	if mode == "" {
		return nil
	}
	for _, m := range sslModes {
		if m == mode {
			return nil
		}
	}
	return engine.Errorf(engine.KindConfig, "invalid %s %q: use one of %s", source, mode, strings.Join(sslModes, ", "))
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// redactedError hides secrets in a parse error's text.
type redactedError struct{ err error }

func (r redactedError) Error() string { return engine.Redact(r.err.Error()) }
func (r redactedError) Unwrap() error { return r.err }
