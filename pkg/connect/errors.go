package connect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// classify turns a failed connection into an error that says what to check.
// The kind decides the exit code: fault.Timeout (16) when ctx's deadline (the
// run's) expired, fault.Canceled for an interrupt, the kind an auth provider
// chose, otherwise fault.Connection (11), connect_timeout and other connect
// timeouts included. Server errors are told apart by SQLSTATE, network and
// TLS failures by type. The cause stays in the chain, redacted; of a TLS
// attempt the server declined and a plaintext fallback that failed too,
// only the fallback's failure (see withoutDeclinedTLS).
func classify(ctx context.Context, cfg *pgx.ConnConfig, method AuthMethod, err error, attempts int) error {
	err = withoutDeclinedTLS(err)
	where := describe(cfg)
	cause := redactedError{err}
	tries := ""
	if attempts > 1 {
		tries = fmt.Sprintf(" after %d attempts", attempts)
	}
	var kinded *fault.Error
	if errors.As(err, &kinded) && kinded.Kind != fault.Internal {
		return err
	}
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return fault.Wrap(fault.Canceled, cause, "interrupted while connecting to %s", where)
	case ctx.Err() != nil:
		return fault.Wrap(fault.Timeout, cause, "timed out connecting to %s%s: check that the host and port are right and reachable, or raise --timeout", where, tries)
	}
	var prov *providerError
	if errors.As(err, &prov) {
		return fault.Wrap(fault.Connection, cause, "could not get an access token (%s authentication) to connect to %s%s: check the cloud credentials available to pgmi", method, where, tries)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fault.Wrap(fault.Connection, cause, "%s", serverRefusal(pgErr, cfg, method, where))
	}
	var budget *connectTimeoutError
	if errors.As(err, &budget) {
		return fault.Wrap(fault.Connection, cause, "connecting to %s timed out (connect_timeout %s)%s: check the host, port and firewall, or raise connect_timeout",
			where, budget.limit, tries)
	}
	if isTimeout(err) {
		return fault.Wrap(fault.Connection, cause, "connecting to %s timed out%s: check the host, port and firewall, or raise connect_timeout", where, tries)
	}
	return fault.Wrap(fault.Connection, cause, "%s%s", networkFailure(err, cfg, where), tries)
}

func networkFailure(err error, cfg *pgx.ConnConfig, where string) string {
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot resolve host %q: check --host, PGHOST or the connection string", dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection refused by %s: is PostgreSQL running and listening there? (pg_isready -h %s -p %d)", where, cfg.Host, cfg.Port)
	case IsSocketDir(cfg.Host) && errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("no PostgreSQL socket at %s: is the server running, and is the socket directory right?", where)
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return fmt.Sprintf("%s is unreachable: check the network route and firewall", where)
	case isTLSFailure(err):
		return tlsFailure(err, cfg, where)
	}
	return fmt.Sprintf("failed to connect to %s", where)
}

func tlsFailure(err error, cfg *pgx.ConnConfig, where string) string {
	var (
		he x509.HostnameError
		ua x509.UnknownAuthorityError
	)
	switch {
	case errors.As(err, &he):
		return fmt.Sprintf("SSL/TLS failure with %s: the server certificate is not issued for %q: connect with a host name it lists, or use --sslmode verify-ca", where, cfg.Host)
	case errors.As(err, &ua):
		return fmt.Sprintf("SSL/TLS failure with %s: the server certificate is not signed by a CA in --sslrootcert (PGSSLROOTCERT, sslrootcert=): point it at the CA that signed the server's certificate", where)
	}
	return fmt.Sprintf("SSL/TLS failure with %s: check --sslmode, --sslrootcert (the CA that signed the server certificate), --sslcert and --sslkey", where)
}

// isTLSFailure recognises handshake and verification errors by type. pgx
// reports a server that declines TLS only as text, so that one case is
// matched by its message.
func isTLSFailure(err error) bool {
	var (
		verr  *tls.CertificateVerificationError
		alert tls.AlertError
		rec   tls.RecordHeaderError
		ua    x509.UnknownAuthorityError
		he    x509.HostnameError
		ci    x509.CertificateInvalidError
	)
	if errors.As(err, &verr) || errors.As(err, &alert) || errors.As(err, &rec) ||
		errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) {
		return true
	}
	return strings.Contains(err.Error(), "server refused TLS connection")
}

func serverRefusal(pgErr *pgconn.PgError, cfg *pgx.ConnConfig, method AuthMethod, where string) string {
	user, db := cfg.User, cfg.Database
	switch pgErr.Code {
	case "28P01":
		if method != AuthPassword && method != "" {
			return fmt.Sprintf("the %s token for user %q was rejected by %s: check that this user is set up for %s authentication on the server", method, user, where, method)
		}
		return fmt.Sprintf("password authentication failed for user %q on database %q at %s: check PGPASSWORD, the password file (~/.pgpass, PGPASSFILE), or the password in the connection string", user, db, where)
	case "28000":
		return fmt.Sprintf("authentication rejected for user %q on database %q at %s: %s; check the server's pg_hba.conf and, for certificate authentication, --sslcert and --sslkey", user, db, where, pgErr.Message)
	case "3D000":
		return fmt.Sprintf("database %q does not exist on %s", db, where)
	case "42501":
		return fmt.Sprintf("user %q may not connect to database %q: %s; grant it with GRANT CONNECT ON DATABASE %s TO %s", user, db, pgErr.Message, quoteIdent(db), quoteIdent(user))
	case "53300":
		return fmt.Sprintf("too many connections to %s: %s; wait, close idle sessions, or raise max_connections", where, pgErr.Message)
	case "57P03":
		return fmt.Sprintf("server at %s is not accepting connections: %s; it is starting up, shutting down or recovering: retry shortly", where, pgErr.Message)
	case "42704", "22023":
		return fmt.Sprintf("server at %s rejected a connection setting: %s; remove it from the connection string or PGOPTIONS", where, pgErr.Message)
	}
	return fmt.Sprintf("server at %s refused the connection: %s (SQLSTATE %s)", where, pgErr.Message, pgErr.Code)
}

// withoutDeclinedTLS leaves out of pgx's connect error the failures of TLS
// attempts when a plaintext attempt failed as well. With sslmode=prefer
// (the default) pgx tries TLS, then plaintext to the same address, and
// joins both failures; when the server declines TLS, the first failure only
// says so ("server refused TLS connection"), which prefer allows, and the
// plaintext failure is the real one. Likewise a TLS failure of the attempt
// that sslmode=allow makes after a plaintext one.
func withoutDeclinedTLS(err error) error {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return err
	}
	joined, ok := ce.Unwrap().(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	var kept []error
	for _, e := range joined.Unwrap() {
		if !isTLSFailure(e) {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 || len(kept) == len(joined.Unwrap()) {
		return err
	}
	return &fallbackFailure{user: ce.Config.User, database: ce.Config.Database, errs: kept}
}

// fallbackFailure is a pgconn.ConnectError without its declined TLS
// attempts, worded as pgx words it.
type fallbackFailure struct {
	user, database string
	errs           []error
}

func (f *fallbackFailure) Error() string {
	details := errors.Join(f.errs...).Error()
	prefix := fmt.Sprintf("failed to connect to `user=%s database=%s`:", f.user, f.database)
	if strings.Contains(details, "\n") {
		return prefix + "\n\t" + strings.ReplaceAll(details, "\n", "\n\t")
	}
	return prefix + " " + details
}

func (f *fallbackFailure) Unwrap() []error { return f.errs }

// describe names the address a configuration dials, for messages.
func describe(cfg *pgx.ConnConfig) string {
	e := Endpoint{Host: cfg.Host, Port: cfg.Port}
	return e.String()
}

// IsMissingDatabase reports whether err says the database does not exist.
func IsMissingDatabase(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "3D000"
}

// redactedError hides secrets in an underlying error's text.
type redactedError struct{ err error }

func (r redactedError) Error() string { return fault.Redact(r.err.Error()) }
func (r redactedError) Unwrap() error { return r.err }
