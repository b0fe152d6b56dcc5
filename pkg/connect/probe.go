package connect

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// Server is what the compatibility probe learned about a connection.
type Server struct {
	Version    string      // version()
	Database   string      // current_database()
	User       string      // current_user
	BackendPID uint32      // pg_backend_pid()
	Addr       *netip.Addr // inet_server_addr(); nil over a Unix socket
	Port       *int32      // inet_server_port(); nil over a Unix socket
	VersionNum int         // server_version_num
}

// MinVersionNum is the oldest PostgreSQL pgmi supports (11: the deploy lock
// needs hashtextextended).
const MinVersionNum = 110000

// probeSQL is the compatibility test of pgmi's documentation.
const probeSQL = `SELECT
    version(),
    current_database(),
    current_user,
    pg_backend_pid(),
    inet_server_addr(),
    inet_server_port(),
    current_setting('server_version_num')::int`

// Probe runs the compatibility test on a fresh connection, before any
// session object exists, and refuses (fault.Config, exit 10) what
// cannot run a pgmi deployment:
//   - a server that is not PostgreSQL: CockroachDB, YugabyteDB and Amazon
//     Aurora DSQL are named; anything older than PostgreSQL 11 is refused;
//   - a pooler in transaction or statement mode (PgBouncer, Supavisor, RDS
//     Proxy while multiplexing …), which would move the session's temporary
//     tables to another backend between transactions.
//
// Pooler detection: a direct connection's BackendKeyData carries the real
// backend pid. When it differs from pg_backend_pid(), something stands in
// between; Probe then opens a second connection with the same settings while
// the first is idle. In session mode the second gets a backend of its own; in
// transaction or statement mode the pooler hands it the same backend. A
// query failure is a connection error (exit 11).
func Probe(ctx context.Context, conn *pgx.Conn) (*Server, error) {
	if err := checkProduct(conn.PgConn(), ""); err != nil {
		return nil, err
	}
	s, err := probeQuery(ctx, conn)
	if err != nil {
		return nil, err
	}
	if err := checkProduct(conn.PgConn(), s.Version); err != nil {
		return nil, err
	}
	if err := checkHost(conn.Config().Host); err != nil {
		return nil, err
	}
	if s.VersionNum < MinVersionNum {
		return nil, configErr("the server reports %s, and pgmi needs PostgreSQL 11 or newer", shortVersion(s.Version))
	}
	if conn.PgConn().PID() != s.BackendPID {
		if err := checkPooler(ctx, conn, s.BackendPID); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func probeQuery(ctx context.Context, conn *pgx.Conn) (*Server, error) {
	var s Server
	var pid int32
	err := conn.QueryRow(ctx, probeSQL, pgx.QueryExecModeSimpleProtocol).Scan(
		&s.Version, &s.Database, &s.User, &pid, &s.Addr, &s.Port, &s.VersionNum)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxError(ctx, err, "running the compatibility probe")
		}
		if isUnsupportedFeature(err) {
			return nil, fault.Wrap(fault.Config, err, "the server does not answer pgmi's PostgreSQL compatibility probe: pgmi needs PostgreSQL (or a fully compatible server such as Aurora PostgreSQL, AlloyDB, Citus, Neon or Supabase)")
		}
		return nil, fault.Wrap(fault.Connection, err, "the PostgreSQL compatibility probe failed")
	}
	s.BackendPID = uint32(pid)
	return &s, nil
}

func isUnsupportedFeature(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == "0A000" || pgErr.Code == "42883" || pgErr.Code == "42704"
}

// checkProduct looks at what the server reported at startup and, once
// known, at version().
func checkProduct(pc *pgconn.PgConn, version string) error {
	sv := pc.ParameterStatus("server_version")
	switch {
	case pc.ParameterStatus("crdb_version") != "" || strings.Contains(version, "CockroachDB"):
		return refuse("CockroachDB", "its temporary tables are experimental and its pg_temp behaves differently")
	case strings.Contains(sv, "-YB-") || strings.Contains(version, "-YB-") || strings.Contains(version, "YugabyteDB"):
		return refuse("YugabyteDB", "its savepoints behave differently in distributed mode")
	case strings.Contains(version, "DSQL"):
		return refuse("Amazon Aurora DSQL", "it has no temporary tables and no PL/pgSQL")
	}
	return nil
}

// checkHost recognises Aurora DSQL endpoints (<id>.dsql.<region>.on.aws),
// whose version() reads like PostgreSQL's.
func checkHost(host string) error {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if strings.Contains(h, ".dsql.") && strings.HasSuffix(h, ".on.aws") {
		return refuse("Amazon Aurora DSQL", "it has no temporary tables and no PL/pgSQL")
	}
	return nil
}

func refuse(product, why string) error {
	return configErr("the server is %s, which pgmi does not support: %s. pgmi needs PostgreSQL or a fully compatible server (Aurora PostgreSQL, RDS, Azure Database for PostgreSQL, Cloud SQL, AlloyDB, Citus, Neon, Supabase)", product, why)
}

func checkPooler(ctx context.Context, conn *pgx.Conn, pid uint32) error {
	cfg := conn.Config()
	cfg.OnNotice = nil
	second, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return ctxError(ctx, err, "checking for a connection pooler")
		}
		return fault.Wrap(fault.Connection, redactedError{err}, "checking for a connection pooler at %s: a second connection failed", describe(cfg))
	}
	defer second.Close(context.WithoutCancel(ctx))
	var other int32
	if err := second.QueryRow(ctx, "SELECT pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&other); err != nil {
		return fault.Wrap(fault.Connection, err, "checking for a connection pooler at %s", describe(cfg))
	}
	if uint32(other) == pid {
		return configErr("%s is a connection pooler in transaction or statement mode (two sessions share one server backend): pgmi's session tables in pg_temp must live for the whole deployment. Connect to the database directly (usually port 5432, not the pooler's 6432), or use the pooler in session mode", describe(cfg))
	}
	return nil
}

func ctxError(ctx context.Context, err error, doing string) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fault.Wrap(fault.Canceled, err, "interrupted while %s", doing)
	}
	return fault.Wrap(fault.Timeout, err, "timed out while %s", doing)
}

func shortVersion(v string) string {
	if i := strings.Index(v, " on "); i > 0 {
		return v[:i]
	}
	return fmt.Sprint(clip(v))
}
