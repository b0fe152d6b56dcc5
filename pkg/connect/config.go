package connect

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Secret is a value that never prints: every fmt verb shows [redacted] (or
// nothing when it is empty). Reveal returns the value itself.
type Secret string

// Reveal returns the secret's value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts under %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format redacts under every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(s.String()))
		return
	}
	fmt.Fprint(f, s.String())
}

// SSL is the TLS part of a connection, with libpq's names and semantics.
type SSL struct {
	Mode        string // disable, allow, prefer, require, verify-ca, verify-full; "" means prefer
	Cert        string // client certificate file (sslcert)
	Key         string // client key file (sslkey), possibly encrypted
	RootCert    string // CA file (sslrootcert), or "system" for the system pool
	Password    Secret // passphrase of an encrypted Key (sslpassword, PGSSLPASSWORD)
	SNI         string // "0" turns Server Name Indication off; "" or "1" sends it
	Negotiation string // "postgres" (default) or "direct" (PostgreSQL 17+)
	MinProtocol string // ssl_min_protocol_version: TLSv1, TLSv1.1, TLSv1.2 (default), TLSv1.3
	MaxProtocol string // ssl_max_protocol_version
}

// Config is a resolved connection, structured end to end: it reaches the
// connector as it is, never through a connection string that could lose
// fields. Formatting a Config never shows its password or key passphrase.
type Config struct {
	// Hosts are tried in order. Each is a DNS name, an IP literal (IPv6
	// without brackets) or an absolute Unix-socket directory.
	Hosts []string
	// Ports holds one port for every host, or one per host; empty means 5432.
	Ports    []uint16
	User     string
	Password Secret // "" means: look it up in Passfile per database
	Passfile string // .pgpass file to consult, "" for none
	// Database is the target; MaintenanceDatabase is where a missing target
	// is created or an --overwrite drops and recreates it.
	Database            string
	MaintenanceDatabase string
	SSL                 SSL
	ApplicationName     string
	ConnectTimeout      time.Duration // bounds the connect to each host, retries included; 0 means none
	// Params are further libpq settings and server parameters, as in a
	// connection string: pgx acts on the libpq keywords it knows (options,
	// target_session_attrs, channel_binding, require_auth, krbsrvname, …) and
	// sends every other key to the server as a startup parameter (a GUC).
	Params map[string]string
	// Auth is the auth method; "" means password. AuthSettings are its
	// settings, by the method's own keys (see Method).
	Auth         AuthMethod
	AuthSettings AuthSettings
}

// DefaultPort is PostgreSQL's port.
const DefaultPort = 5432

// Endpoint is one host and its port.
type Endpoint struct {
	Host string
	Port uint16
}

// Endpoints pairs Hosts with Ports (one port for all, or one each).
func (c Config) Endpoints() []Endpoint {
	hosts := c.Hosts
	if len(hosts) == 0 {
		hosts = []string{"localhost"}
	}
	out := make([]Endpoint, len(hosts))
	for i, h := range hosts {
		if h == "" {
			h = "localhost"
		}
		port := uint16(DefaultPort)
		switch {
		case len(c.Ports) == 1:
			port = c.Ports[0]
		case i < len(c.Ports) && c.Ports[i] != 0:
			port = c.Ports[i]
		}
		if port == 0 {
			port = DefaultPort
		}
		out[i] = Endpoint{Host: h, Port: port}
	}
	return out
}

// String is host:port, [v6]:port, or the socket file for a Unix socket.
func (e Endpoint) String() string {
	if IsSocketDir(e.Host) {
		return strings.TrimRight(e.Host, "/") + "/.s.PGSQL." + strconv.Itoa(int(e.Port))
	}
	return net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
}

// IsSocketDir reports whether host names a Unix-socket directory.
func IsSocketDir(host string) bool {
	return strings.HasPrefix(host, "/") || strings.HasPrefix(host, "@")
}

// Address describes where the connection goes, for messages.
func (c Config) Address() string {
	eps := c.Endpoints()
	parts := make([]string, len(eps))
	for i, e := range eps {
		parts[i] = e.String()
	}
	return strings.Join(parts, ",")
}

// Clone is a deep copy.
func (c Config) Clone() *Config {
	out := c
	out.Hosts = append([]string(nil), c.Hosts...)
	out.Ports = append([]uint16(nil), c.Ports...)
	if c.Params != nil {
		out.Params = make(map[string]string, len(c.Params))
		for k, v := range c.Params {
			out.Params[k] = v
		}
	}
	out.AuthSettings = c.AuthSettings.clone()
	return &out
}

func (c Config) sslMode() string {
	if c.SSL.Mode == "" {
		return "prefer"
	}
	return c.SSL.Mode
}

// String shows the settings that help someone check a connection, never a secret.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "host=%s user=%s database=%s maintenance=%s sslmode=%s auth=%s",
		c.Address(), c.User, c.Database, c.MaintenanceDatabase, c.sslMode(), c.authName())
	for _, f := range []struct{ k, v string }{{"sslcert", c.SSL.Cert}, {"sslkey", c.SSL.Key}, {"sslrootcert", c.SSL.RootCert}} {
		if f.v != "" {
			fmt.Fprintf(&b, " %s=%s", f.k, f.v)
		}
	}
	fmt.Fprintf(&b, " password=%s sslpassword=%s", secretState(c.Password), secretState(c.SSL.Password))
	if s := c.AuthSettings.String(); s != "" {
		fmt.Fprintf(&b, " auth_settings=[%s]", s)
	}
	return b.String()
}

func (c Config) authName() AuthMethod {
	if c.Auth == "" {
		return AuthPassword
	}
	return c.Auth
}

func secretState(s Secret) string {
	if s == "" {
		return "unset"
	}
	return "[redacted]"
}

// GoString keeps %#v as safe as %v.
func (c Config) GoString() string { return "connect.Config{" + c.String() + "}" }

// Format makes every verb (%v, %+v, %#v, %s, %q …) print String or GoString.
func (c Config) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, c.GoString())
	case verb == 'q':
		fmt.Fprint(f, strconv.Quote(c.String()))
	default:
		fmt.Fprint(f, c.String())
	}
}
