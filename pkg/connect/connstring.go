package connect

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// Format is a connection-string syntax.
type Format int

// The connection-string formats ParseConnString accepts.
const (
	FormatURI Format = iota + 1 // postgresql://user:pass@host:5432/db?sslmode=require
	FormatKV                    // host=h port=5432 dbname=db (libpq keyword/value)
	FormatADO                   // Host=h;Port=5432;Database=db;Username=u (ADO.NET / Npgsql)
)

func (f Format) String() string {
	switch f {
	case FormatURI:
		return "URI"
	case FormatKV:
		return "keyword/value"
	case FormatADO:
		return "ADO.NET"
	}
	return "unknown"
}

// settings are the libpq-named values one source gives. The keys of the
// fields Config holds directly are in coreKeys; every other key is a param.
type settings map[string]string

var coreKeys = map[string]bool{
	"host": true, "port": true, "dbname": true, "user": true, "password": true, "passfile": true,
	"sslmode": true, "sslcert": true, "sslkey": true, "sslrootcert": true, "sslpassword": true,
	"sslsni": true, "sslnegotiation": true, "ssl_min_protocol_version": true, "ssl_max_protocol_version": true,
	"application_name": true, "fallback_application_name": true, "connect_timeout": true,
}

// libpqAliases are spellings accepted for libpq keywords in URIs and
// keyword/value strings (pgx's and pgmi's).
var libpqAliases = map[string]string{
	"database": "dbname", "applicationname": "application_name", "connecttimeout": "connect_timeout",
}

// libpqIgnored are libpq client-side settings that have no effect here (TCP
// keepalives and the like): accepted and dropped, so they are never sent to
// the server as unknown parameters.
var libpqIgnored = map[string]bool{
	"keepalives": true, "keepalives_idle": true, "keepalives_interval": true, "keepalives_count": true,
	"tcp_user_timeout": true, "sslcompression": true, "gsslib": true, "gssdelegation": true,
	"load_balance_hosts": true, "requiressl": true,
}

// libpqRefused are libpq settings we cannot honour; silently dropping any of
// them would change what the user asked for.
var libpqRefused = map[string]string{
	"hostaddr":      "give the address as host instead",
	"service":       "connection service files are not supported; put the settings in the string",
	"servicefile":   "connection service files are not supported; put the settings in the string",
	"sslcrl":        "certificate revocation lists are not supported",
	"sslcrldir":     "certificate revocation lists are not supported",
	"sslkeylogfile": "TLS key logging is not supported",
	"requirepeer":   "peer credential checks are not supported",
	"replication":   "replication connections cannot deploy",
}

// ParseConnString parses a connection string in any of the three formats
// (see DetectFormat) into a Config holding exactly what the string says: no
// defaults and no environment are applied. Errors are fault.Config and
// never contain a password.
func ParseConnString(s string) (*Config, error) {
	set, _, err := parseConnString(s)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := applySettings(&cfg, set, "the connection string"); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// DetectFormat tells which syntax s is written in: a URI starts with
// postgresql:// or postgres://; a string holding a semicolon outside single
// quotes, or starting with a key that only ADO.NET uses (Host, Server,
// User Id …), is ADO.NET; any other key=value string is libpq keyword/value.
// A semicolon does not make ADO.NET of a string whose text before it is
// already keyword/value pairs led by lower-case libpq keywords
// (host=db password=a;b): that ';' is part of a value.
func DetectFormat(s string) (Format, error) {
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return 0, configErr("connection string is empty")
	case hasURIScheme(t):
		return FormatURI, nil
	case strings.Contains(t, "://"):
		return 0, configErr("unsupported URI scheme: use postgresql:// or postgres://")
	}
	if semi := unquotedSemicolon(t); semi >= 0 && !kvPairs(t[:semi]) {
		return FormatADO, nil
	}
	key, _, ok := strings.Cut(t, "=")
	if !ok {
		return 0, configErr("unrecognized connection string format: expected a postgresql:// URI, key=value pairs (libpq), or Key=Value;… (ADO.NET)")
	}
	key = strings.TrimSpace(key)
	if _, known := libpqKey(key); known && key == strings.ToLower(key) {
		return FormatKV, nil
	}
	if _, known := adoKeys[adoNorm(key)]; known {
		return FormatADO, nil
	}
	return FormatKV, nil
}

// unquotedSemicolon is the index of the first ';' in s outside libpq
// single quotes (where a backslash escapes the next character), or -1.
func unquotedSemicolon(s string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '\'':
			quoted = !quoted
		case s[i] == ';' && !quoted:
			return i
		}
	}
	return -1
}

// kvPairs reports whether head reads as libpq keyword/value pairs: it starts
// with a lower-case libpq keyword and holds at least one more.
func kvPairs(head string) bool {
	rest, keywords := trimSpaceLeft(head), 0
	for rest != "" {
		key, after, ok := strings.Cut(rest, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t\r\n\v\f") {
			break
		}
		if _, known := libpqKey(key); known && key == strings.ToLower(key) {
			keywords++
		} else if keywords == 0 {
			return false
		}
		_, after, err := kvValue(trimSpaceLeft(after), kvItem{})
		if err != nil {
			break
		}
		rest = trimSpaceLeft(after)
	}
	return keywords >= 2
}

func hasURIScheme(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "postgresql://") || strings.HasPrefix(l, "postgres://")
}

func parseConnString(s string) (settings, Format, error) {
	f, err := DetectFormat(s)
	if err != nil {
		return nil, 0, err
	}
	if strings.IndexByte(s, 0) >= 0 {
		return nil, f, configErr("invalid connection string: it contains a NUL byte")
	}
	var set settings
	switch f {
	case FormatURI:
		set, err = parseURI(strings.TrimSpace(s))
	case FormatKV:
		set, err = parseKV(s)
	default:
		set, err = parseADO(s)
	}
	return set, f, err
}

// libpqKey maps a libpq keyword (or an accepted alias, any case) to its
// canonical name; known is false for server parameters.
func libpqKey(k string) (string, bool) {
	l := strings.ToLower(k)
	if a, ok := libpqAliases[l]; ok {
		return a, true
	}
	if coreKeys[l] || libpqIgnored[l] || libpqRefused[l] != "" || pgxKeys[l] {
		return l, true
	}
	return k, false
}

// pgxKeys are libpq keywords pgx acts on itself; they pass through as params.
var pgxKeys = map[string]bool{
	"options": true, "target_session_attrs": true, "channel_binding": true, "require_auth": true,
	"krbsrvname": true, "krbspn": true, "sslcertmode": true, "min_protocol_version": true,
	"max_protocol_version": true, "gssencmode": true, "client_encoding": true,
}

// put stores one libpq-keyword setting, applying the ignore and refuse lists.
func (s settings) put(key, value string) error {
	canon, known := libpqKey(key)
	switch {
	case !known:
		if !validParamName(key) {
			return configErr("invalid connection string: %s is not a valid parameter name (letters, digits, '_', '.' and '-')", shown(key, "a parameter name"))
		}
		s[key] = value
	case libpqRefused[canon] != "":
		return configErr("invalid connection string: %s is not supported: %s", canon, libpqRefused[canon])
	case canon == "requiressl":
		if value == "1" && s["sslmode"] == "" {
			s["sslmode"] = "require"
		}
	case canon == "gssencmode":
		if value == "require" {
			return configErr("invalid connection string: gssencmode=require is not supported (GSSAPI encryption); use SSL")
		}
	case libpqIgnored[canon]:
	case canon == "user" && value == "":
	default:
		s[canon] = value
	}
	return nil
}

// shown quotes s for a message when it is printable ASCII without quotes
// or backslashes, which a message shows as it is (clipped); anything else
// is described as what instead. %q would escape it into text (\x91000)
// that runs together with what follows and can spell a secret.
func shown(s, what string) string {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '"' || s[i] == '\\' {
			return what
		}
	}
	return `"` + clip(s) + `"`
}

func validParamName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// applySettings copies one source's settings into cfg, validating each
// value; source names it in errors.
func applySettings(cfg *Config, s settings, source string) error {
	for _, k := range sortedKeys(s) {
		if err := applySetting(cfg, k, s[k], source); err != nil {
			return err
		}
	}
	return nil
}

func applySetting(cfg *Config, key, v, source string) error {
	var err error
	switch key {
	case "host":
		cfg.Hosts = splitList(v)
	case "port":
		cfg.Ports, err = parsePorts(v, source)
	case "dbname":
		cfg.Database = v
	case "user":
		cfg.User = v
	case "password":
		cfg.Password = Secret(v)
	case "passfile":
		cfg.Passfile = v
	case "sslmode":
		cfg.SSL.Mode, err = parseSSLMode(v, source)
	case "sslcert":
		cfg.SSL.Cert = v
	case "sslkey":
		cfg.SSL.Key = v
	case "sslrootcert":
		cfg.SSL.RootCert = v
	case "sslpassword":
		cfg.SSL.Password = Secret(v)
	case "sslsni":
		cfg.SSL.SNI, err = oneOf("sslsni", v, source, "0", "1")
	case "sslnegotiation":
		cfg.SSL.Negotiation, err = oneOf("sslnegotiation", v, source, "postgres", "direct")
	case "ssl_min_protocol_version":
		cfg.SSL.MinProtocol, err = oneOf(key, v, source, tlsVersionNames...)
	case "ssl_max_protocol_version":
		cfg.SSL.MaxProtocol, err = oneOf(key, v, source, tlsVersionNames...)
	case "application_name":
		cfg.ApplicationName = v
	case "fallback_application_name":
		if cfg.ApplicationName == "" {
			cfg.ApplicationName = v
		}
	case "connect_timeout":
		cfg.ConnectTimeout, err = parseConnectTimeout(v, source)
	default:
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		// The server matches parameter names ignoring case: a later source's
		// timezone replaces PGTZ's TimeZone rather than joining it.
		for k := range cfg.Params {
			if strings.EqualFold(k, key) {
				delete(cfg.Params, k)
			}
		}
		cfg.Params[key] = v
	}
	return err
}

func sortedKeys(s settings) []string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	// fallback_application_name must come after application_name.
	sort.Slice(keys, func(i, j int) bool {
		fi, fj := keys[i] == "fallback_application_name", keys[j] == "fallback_application_name"
		if fi != fj {
			return fj
		}
		return keys[i] < keys[j]
	})
	return keys
}

func splitList(v string) []string {
	if v == "" {
		return nil
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func parsePorts(v, source string) ([]uint16, error) {
	if v == "" {
		return nil, nil
	}
	var out []uint16
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			out = append(out, 0)
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			// The value is not quoted: in a malformed URI it can be part of a password.
			return nil, configErr("invalid port in %s: must be a number between 1 and 65535", source)
		}
		out = append(out, uint16(n))
	}
	return out, nil
}

// SSLModes are libpq's six modes, weakest first.
var SSLModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

func parseSSLMode(v, source string) (string, error) {
	return oneOf("sslmode", v, source, SSLModes...)
}

func oneOf(what, v, source string, allowed ...string) (string, error) {
	if v == "" {
		return "", nil
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", configErr("invalid %s %s in %s: use one of %s", what, shown(v, "value"), source, strings.Join(allowed, ", "))
}

func parseConnectTimeout(v, source string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, configErr("invalid connect_timeout %s in %s: a whole number of seconds, 0 for none", shown(v, "value"), source)
	}
	return time.Duration(n) * time.Second, nil
}

// clip keeps quoted values in messages short; callers never pass secrets.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func configErr(format string, args ...any) *fault.Error {
	return fault.Errorf(fault.Config, format, args...)
}
