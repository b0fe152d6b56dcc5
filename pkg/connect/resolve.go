package connect

import (
	"log/slog"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
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
	SSLMode     string // --sslmode
	SSLCert     string // --sslcert
	SSLKey      string // --sslkey
	SSLRootCert string // --sslrootcert

	// Auth holds the registered auth methods' flags (Method.Flag and
	// Setting.Flag), by flag name without dashes; a boolean flag that is on
	// is "true". A composition root defines them by iterating Methods().
	Auth map[string]string
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

// Options tune resolution; nil means the defaults.
type Options struct {
	// DefaultAuth is the method when no source names one; "" is password.
	// A cloud function sets its own cloud's method.
	DefaultAuth AuthMethod
	// Factory, when set, builds the provider of the resolved method instead
	// of the method's registered factory: for an embedder that needs its
	// own client settings, and for tests. nil uses the registry.
	Factory ProviderFactory
	// Log receives what resolution and the auth providers have to say
	// (warnings at WARN, such as a password file ignored for its
	// permissions; a cloud SDK's own lines at DEBUG); nil discards it.
	Log *slog.Logger
}

// Resolve is ResolveWith with default options.
func Resolve(f Flags, env Env, yml pgmiyaml.Connection) (*Target, error) {
	return ResolveWith(f, env, yml, nil)
}

// ResolveWith resolves the connection (ResolveConfig) and prepares it
// (NewTarget): certificate files and the password file are read, the auth
// method's provider is found. Every error is fault.Config and happens
// before anything touches a server.
func ResolveWith(f Flags, env Env, yml pgmiyaml.Connection, opts *Options) (*Target, error) {
	cfg, err := ResolveConfig(f, env, yml, opts)
	if err != nil {
		return nil, err
	}
	return NewTarget(cfg, opts)
}

// ResolveConfig applies the precedence, field by field:
//
//	flags > connection string (--connection, else PGMI_CONNECTION_STRING,
//	else DATABASE_URL) > PG* environment > pgmi.yaml > defaults
//
// Defaults: host localhost, port 5432, user $USER (else the OS account),
// sslmode prefer, application_name pgmi, the password file ~/.pgpass, and
// libpq's ~/.postgresql/postgresql.crt, .key and root.crt when they exist.
//
// The database follows the two-database pattern: the target is -d, else the
// string's database, else PGDATABASE, else pgmi.yaml database (a connection
// string naming none deploys into postgres, as pgmi does). The maintenance
// database is the string's database when -d names another target, else
// pgmi.yaml maintenance_database, else postgres.
//
// A connection string given as --connection cannot be combined with -h, -p,
// -U or --sslmode (two flags for one setting); one from the environment is
// simply overridden by them.
func ResolveConfig(f Flags, env Env, yml pgmiyaml.Connection, opts *Options) (*Config, error) {
	if f.Port < 0 || f.Port > 65535 {
		return nil, configErr("invalid --port %d: must be between 1 and 65535", f.Port)
	}
	if yml.Port < 0 || yml.Port > 65535 {
		return nil, configErr("invalid port %d in pgmi.yaml: must be between 1 and 65535", yml.Port)
	}
	str, strSource, err := connStringLayer(f, env)
	if err != nil {
		return nil, err
	}
	cfg := &Config{}
	for _, field := range fieldSources(f, env, yml, str, strSource) {
		if err := applySetting(cfg, field.key, field.val, field.source); err != nil {
			return nil, err
		}
	}
	applyParams(cfg, env, str)
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = []string{"localhost"}
	}
	if cfg.ApplicationName == "" {
		cfg.ApplicationName = "pgmi"
	}
	explicitUser := cfg.User != ""
	if cfg.User == "" {
		cfg.User = defaultUser(env)
	}
	if cfg.User == "" {
		return nil, Missing("no database user: pass -U/--username, set PGUSER, or name one in the connection string",
			"no database user: set PGUSER, or name one in the connection string (PGMI_CONNECTION_STRING)")
	}
	if err := resolveDatabases(cfg, f, env, yml, str); err != nil {
		return nil, err
	}
	if cfg.Passfile == "" {
		cfg.Passfile = DefaultPassfile(env)
	}
	applyHomeCerts(cfg, env)
	if err := resolveAuth(cfg, f, env, yml, opts, explicitUser); err != nil {
		return nil, err
	}
	return cfg, nil
}

func connStringLayer(f Flags, env Env) (settings, string, error) {
	str, source := f.ConnString, "--connection"
	if str == "" {
		str, source = env.get("PGMI_CONNECTION_STRING"), "PGMI_CONNECTION_STRING"
	}
	if str == "" {
		str, source = env.get("DATABASE_URL"), "DATABASE_URL"
	}
	if str == "" {
		return settings{}, "", nil
	}
	if f.ConnString != "" && (f.Host != "" || f.Port != 0 || f.User != "" || f.SSLMode != "") {
		return nil, "", configErr("cannot combine --connection with -h/--host, -p/--port, -U/--username or --sslmode: put those settings in the connection string, or drop --connection")
	}
	set, _, err := parseConnString(str)
	if err != nil {
		return nil, "", fault.Wrap(fault.Config, err, "%s", source)
	}
	return set, source, nil
}

type fieldSource struct{ key, val, source string }

// fieldSources picks, for every field, the first source that sets it.
func fieldSources(f Flags, env Env, yml pgmiyaml.Connection, str settings, strSource string) []fieldSource {
	port, ymlPort := "", ""
	if f.Port != 0 {
		port = strconv.Itoa(f.Port)
	}
	if yml.Port != 0 {
		ymlPort = strconv.Itoa(yml.Port)
	}
	s := func(key string) fieldSource { return fieldSource{key, str[key], strSource} }
	e := func(key, name string) fieldSource { return fieldSource{key, env.get(name), name} }
	fl := func(key, val, name string) fieldSource { return fieldSource{key, val, name} }
	y := func(key, val, name string) fieldSource { return fieldSource{key, val, "pgmi.yaml connection." + name} }
	chains := [][]fieldSource{
		{fl("host", f.Host, "--host"), s("host"), e("host", "PGHOST"), y("host", yml.Host, "host")},
		{fl("port", port, "--port"), s("port"), e("port", "PGPORT"), y("port", ymlPort, "port")},
		{fl("user", f.User, "--username"), s("user"), e("user", "PGUSER"), y("user", yml.Username, "username")},
		{s("password"), e("password", "PGPASSWORD")},
		{s("passfile"), e("passfile", "PGPASSFILE")},
		{fl("sslmode", f.SSLMode, "--sslmode"), s("sslmode"), e("sslmode", "PGSSLMODE"), y("sslmode", yml.SSLMode, "sslmode")},
		{fl("sslcert", f.SSLCert, "--sslcert"), s("sslcert"), e("sslcert", "PGSSLCERT"), y("sslcert", yml.SSLCert, "sslcert")},
		{fl("sslkey", f.SSLKey, "--sslkey"), s("sslkey"), e("sslkey", "PGSSLKEY"), y("sslkey", yml.SSLKey, "sslkey")},
		{fl("sslrootcert", f.SSLRootCert, "--sslrootcert"), s("sslrootcert"), e("sslrootcert", "PGSSLROOTCERT"), y("sslrootcert", yml.SSLRootCert, "sslrootcert")},
		{s("sslpassword"), e("sslpassword", "PGSSLPASSWORD")},
		{s("sslsni"), e("sslsni", "PGSSLSNI")},
		{s("sslnegotiation"), e("sslnegotiation", "PGSSLNEGOTIATION")},
		{s("ssl_min_protocol_version"), e("ssl_min_protocol_version", "PGSSLMINPROTOCOLVERSION")},
		{s("ssl_max_protocol_version"), e("ssl_max_protocol_version", "PGSSLMAXPROTOCOLVERSION")},
		{s("application_name"), e("application_name", "PGAPPNAME"), s("fallback_application_name")},
		{s("connect_timeout"), e("connect_timeout", "PGCONNECT_TIMEOUT")},
	}
	var out []fieldSource
	for _, chain := range chains {
		for _, c := range chain {
			if c.val != "" {
				if c.key == "fallback_application_name" {
					c.key = "application_name"
				}
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// envParams are libpq environment variables that become params.
var envParams = []struct{ env, key string }{
	{"PGOPTIONS", "options"}, {"PGTARGETSESSIONATTRS", "target_session_attrs"},
	{"PGCHANNELBINDING", "channel_binding"}, {"PGREQUIREAUTH", "require_auth"},
	{"PGSSLCERTMODE", "sslcertmode"}, {"PGKRBSRVNAME", "krbsrvname"},
	{"PGMINPROTOCOLVERSION", "min_protocol_version"}, {"PGMAXPROTOCOLVERSION", "max_protocol_version"},
	{"PGTZ", "TimeZone"}, {"PGDATESTYLE", "DateStyle"}, {"PGGEQO", "geqo"}, {"PGCLIENTENCODING", "client_encoding"},
}

// applyParams: the string's params over those from the environment.
func applyParams(cfg *Config, env Env, str settings) {
	for _, p := range envParams {
		if v := env.get(p.env); v != "" {
			applySetting(cfg, p.key, v, p.env)
		}
	}
	for _, k := range sortedKeys(str) {
		if !coreKeys[k] {
			applySetting(cfg, k, str[k], "")
		}
	}
}

func defaultUser(env Env) string {
	if u := env.get("USER"); u != "" {
		return u
	}
	if u := env.get("USERNAME"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

func resolveDatabases(cfg *Config, f Flags, env Env, yml pgmiyaml.Connection, str settings) error {
	strDB := str["dbname"]
	target := firstNonEmpty(f.Database, strDB, env.get("PGDATABASE"), yml.Database)
	if target == "" && len(str) > 0 {
		target = "postgres"
	}
	if target == "" {
		return Missing("database name is required: pass -d/--database, set PGDATABASE, name it in the connection string, or set connection.database in pgmi.yaml",
			"database name is required: set PGDATABASE, or name it in the connection string (PGMI_CONNECTION_STRING)")
	}
	maintenance := firstNonEmpty(yml.MaintenanceDatabase, "postgres")
	if f.Database != "" && strDB != "" && strDB != target {
		maintenance = strDB
	}
	cfg.Database, cfg.MaintenanceDatabase = target, maintenance
	return nil
}

// applyHomeCerts adds libpq's default certificate files when present.
func applyHomeCerts(cfg *Config, env Env) {
	home := env.get("HOME")
	if home == "" || cfg.SSL.Mode == "disable" {
		return
	}
	dir := filepath.Join(home, ".postgresql")
	if cfg.SSL.Cert == "" && cfg.SSL.Key == "" {
		c, k := filepath.Join(dir, "postgresql.crt"), filepath.Join(dir, "postgresql.key")
		if fileExists(c) && fileExists(k) {
			cfg.SSL.Cert, cfg.SSL.Key = c, k
		}
	}
	if cfg.SSL.RootCert == "" {
		if r := filepath.Join(dir, "root.crt"); fileExists(r) {
			cfg.SSL.RootCert = r
		}
	}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
