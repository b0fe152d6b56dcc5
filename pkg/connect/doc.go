// Package connect turns pgmi's connection settings into one direct
// PostgreSQL session: resolution and precedence, connection-string parsing,
// the password file, TLS, authentication providers, retries, the
// compatibility probe and the target database's lifecycle.
//
// # Resolution
//
// Resolve (or ResolveWith) takes the command-line Flags, the environment (an
// Env function; composition roots pass os.LookupEnv) and pgmi.yaml's
// connection block, and returns a Target. Each field is taken from the first
// source that sets it:
//
//	flags > connection string > PG* environment > pgmi.yaml > defaults
//
// The connection string is --connection, else PGMI_CONNECTION_STRING, else
// DATABASE_URL. ResolveConfig documents the defaults and the two-database
// pattern (target vs maintenance database). The result is a structured
// Config that reaches pgx field by field: nothing is serialised into a URI
// and parsed again, so IPv6 literals, Unix-socket directories and cloud
// settings survive.
//
// # Connection strings
//
// ParseConnString reads three syntaxes (DetectFormat tells them apart):
//
//	postgresql://user:pass@host:5432,host2:5433/db?sslmode=verify-full   URI (also postgres://)
//	postgresql://[::1]:5432/db   postgresql://%2Fvar%2Frun%2Fpostgresql/db   postgresql:///db?host=/tmp
//	host=h port=5432 dbname=db user=u password='a b'                    libpq keyword/value
//	Host=h;Port=5432;Database=db;Username=u;Password=p;SSL Mode=VerifyFull   ADO.NET (Npgsql keys)
//
// Unknown ADO.NET keys are an error that lists the accepted ones; Npgsql's
// client-side keys (pooling, command timeouts …) are accepted and have no
// effect. In URIs and keyword/value strings, keys that are not libpq
// settings are sent to the server as startup parameters, as libpq and pgx do.
//
// # Authentication
//
// AuthPassword uses the password from the connection string, PGPASSWORD, or
// the password file (PGPASSFILE, else ~/.pgpass; ignored with a warning when
// group- or world-readable, as libpq does). No secret has a flag. Every
// other method lives in its own folder, pkg/connect/<name> (rdsiam, entra,
// cloudsql today), and registers a Method from init(); a binary links a
// method by importing its folder. A Provider prepares every physical
// connection (a fresh token as the password, or a dialer), so a session
// outlives its token. The root of this package names no method: a test in
// internal/archtest holds it to that.
//
// # Adding an auth method
//
// A method is one new folder plus one import line per composition root
// (cmd/pgmi's drivers.go, the function that deploys to that platform).
// Nothing in this package, pkg/pgmiyaml, pkg/deploy or the CLI's flag code
// changes. The folder's init() calls Register with a Method:
//
//   - Name, the value of PGMI_AUTH and pgmi.yaml's auth_method, which the
//     package also exports as its AuthMethod constant (a function passes it
//     as Options.DefaultAuth); Title for messages; Flag and Usage, the
//     boolean flag that picks it.
//   - Settings, each with the method's own Key (read back with
//     AuthSettings.Get and Source), a Flag and its Usage (the flag implies
//     the method), PGMI_* variables in Env that claim the method, Ambient
//     variables that only supply a value, the pgmi.yaml connection key
//     (named <method>_<setting>, registered with pgmiyaml so that the file
//     stays strict), and Fold to lower-case the value. Sources win in that
//     order: flag, Env, Ambient, pgmi.yaml.
//   - Validate, the offline check resolution runs: it reports a missing
//     value with Missing (the CLI's words, and the variables' for
//     ForEnvironment) and names an invalid value's source. The factory
//     should reuse the same parsing rather than repeat it.
//   - Describe, optionally, where its connections go, for messages
//     (Config.Describe).
//   - Factory, which builds the Provider once per Target, with the logger
//     of Options.Log (never nil; it discards when Log is nil).
//
// Composition roots define the methods' flags by iterating Methods() and
// hand the values over in Flags.Auth, keyed by flag name (a boolean flag
// that is on is "true"). Every source that names a method claims it: its
// flag, a setting's flag, PGMI_AUTH, a setting's PGMI_* variable,
// auth_method or a setting's pgmi.yaml key. Claims for two methods are an
// error whatever their sources; with no claim, Options.DefaultAuth, else
// password. ParseAuthMethod and its messages list the methods this binary
// registered, password first.
//
// # TLS
//
// The six libpq sslmodes with libpq's semantics: allow tries plaintext
// first, prefer TLS first; require verifies the chain when a root
// certificate is configured (including ~/.postgresql/root.crt); verify-ca
// checks the chain but not the host name; verify-full checks both and needs a
// root certificate (sslrootcert=system uses the system's CAs). Client keys may
// be encrypted (legacy PEM or PKCS#8), with the passphrase in PGSSLPASSWORD
// or sslpassword. Every certificate file is read during resolution.
//
// # Connecting
//
// Target.Dial (and Connect) retry transient failures only, judged by SQLSTATE
// and network error types: Retries retries with 100 ms·2ⁿ backoff ±10 %,
// connect timeouts included; the last real error is reported.
// connect_timeout bounds the whole connect to each host (the TLS attempt,
// sslmode's plaintext fallback and the retries together). When a TLS
// attempt the server declined is followed by a plaintext one that failed
// too, the plaintext failure is the one reported. Lifecycle opens
// the deploy session: it connects to the target, creates it through the
// maintenance database when missing, or drops and recreates it for
// --overwrite. Every connection it opens passes Probe, which runs pgmi's
// compatibility query and refuses CockroachDB, YugabyteDB, Aurora DSQL,
// PostgreSQL before 11, and poolers in transaction or statement mode before
// anything is created.
//
// # Errors
//
// Errors are *fault.Error values whose kind the CLI maps to an exit code:
// fault.Config (10) for anything wrong before the network (a bad setting from
// any source, an unreadable certificate, a conflicting auth method, a server
// or pooler that cannot run pgmi); fault.Connection (11) for a refused,
// unreachable or rejected connection, with a message that says what to
// check, connect_timeout expiring included; fault.Timeout (16) when the
// caller's deadline (the run's --timeout) expires while connecting;
// fault.Canceled (130) when interrupted. No message, and no formatting of a
// Config, ever shows a password, token or key passphrase: a connection
// string that does not parse is described by the position and key of what
// is wrong, never by text that may be part of a password.
//
// A setting that no source gives is a *SettingError: its message names the
// CLI's flag first; ForEnvironment words it for a caller configured by
// environment variables alone (the cloud functions). An invalid value is
// named by where it came from: the flag, the variable or the pgmi.yaml key.
package connect
