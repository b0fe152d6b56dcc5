package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/internal/lockkey"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// Approver asks for approval to drop and recreate database db; a refusal
// is an fault.Approval error.
type Approver func(ctx context.Context, db string) error

// Lifecycle creates or recreates the target database before the session.
// Every connection it opens passes Probe before it is used, so a server or
// pooler pgmi cannot work with is refused before any database is created
// and before any session object exists.
type Lifecycle struct {
	Target *Target
	// Database is the database to open or recreate; "" means the
	// target's (Target.Database). A deployer that routes bundles to several
	// databases of one server sets it per request.
	Database string
	Dial     Dialer               // nil means Target.Dial (the auth provider, retries)
	Log      *slog.Logger         // progress lines at INFO; nil discards them
	Notice   func(*pgconn.Notice) // unused today; reserved for maintenance notices
}

// dial connects to db and probes the server.
func (l *Lifecycle) dial(ctx context.Context, db string) (*pgx.Conn, error) {
	var conn *pgx.Conn
	var err error
	if l.Dial != nil {
		conn, err = l.Dial(ctx, l.Target.For(db))
	} else {
		conn, err = l.Target.Dial(ctx, db)
	}
	if err != nil {
		return nil, err
	}
	if _, err := Probe(ctx, conn); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return conn, nil
}

func (l *Lifecycle) database() string {
	if l.Database != "" {
		return l.Database
	}
	return l.Target.Database()
}

func (l *Lifecycle) log(format string, args ...any) {
	if l.Log != nil {
		l.Log.Info(fmt.Sprintf(format, args...))
	}
}

// Connect connects to the target as it is, probed like every connection
// the Lifecycle opens: a missing database is an error (IsMissingDatabase),
// never created, so it changes nothing on the server. Open does the rest.
func (l *Lifecycle) Connect(ctx context.Context) (*pgx.Conn, error) {
	return l.dial(ctx, l.database())
}

// Open connects to the target, creating it through the maintenance database
// when it does not exist. The returned connection is the deploy session.
func (l *Lifecycle) Open(ctx context.Context) (*pgx.Conn, error) {
	db := l.database()
	conn, err := l.dial(ctx, db)
	if err == nil || !IsMissingDatabase(err) {
		return conn, err
	}
	l.log("Database %q does not exist; creating", db)
	err = l.withMaintenance(ctx, func(m *pgx.Conn) error {
		err := createIfMissing(ctx, m, db, "")
		if createdMeanwhile(err) {
			// Another deployer (a concurrent delivery of the same
			// upload) created it first: it exists now, which is all this
			// one needs; the deploy lock orders the rest.
			l.log("Database %q was created meanwhile by another deployer", db)
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return l.dial(ctx, db)
}

// createdMeanwhile reports a CREATE DATABASE that lost the race against
// another session creating the same database.
func createdMeanwhile(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505")
}

// Recreate drops and recreates the target (--overwrite) after approve says
// yes, keeping its owner, encoding, locale, connection limit, settings and
// comment, then connects to it.
func (l *Lifecycle) Recreate(ctx context.Context, approve Approver) (*pgx.Conn, error) {
	db := l.database()
	if err := CheckOverwrite(db, l.Target.Maintenance); err != nil {
		return nil, err
	}
	err := l.withMaintenance(ctx, func(m *pgx.Conn) error {
		exists, err := databaseExists(ctx, m, db)
		if err != nil || !exists {
			if err == nil {
				l.log("Database %q does not exist; creating", db)
				err = createIfMissing(ctx, m, db, "")
			}
			return err
		}
		if err := approve(ctx, db); err != nil {
			return err
		}
		if err := recreate(ctx, m, db); err != nil {
			return err
		}
		l.log("Recreated database %q", db)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l.dial(ctx, db)
}

// CheckOverwrite refuses, offline, to overwrite the maintenance or a template database.
func CheckOverwrite(db, maintenance string) error {
	// Database names are case-sensitive: "POSTGRES" is not "postgres" (pgmi bug B17).
	if db == maintenance {
		return fault.Errorf(fault.Config, "cannot overwrite maintenance database %q: pgmi connects to it to drop and recreate the target; pick another target with -d", db)
	}
	if db == "template0" || db == "template1" {
		return fault.Errorf(fault.Config, "cannot drop template database %q", db)
	}
	return nil
}

func (l *Lifecycle) withMaintenance(ctx context.Context, fn func(*pgx.Conn) error) error {
	m, err := l.dial(ctx, l.Target.Maintenance)
	if IsMissingDatabase(err) {
		return fault.Wrap(fault.Connection, err, "the maintenance database %q does not exist, so pgmi cannot create or recreate %q: set connection.maintenance_database in pgmi.yaml to a database that exists, or name one in the connection string and the target with -d", l.Target.Maintenance, l.database())
	}
	if err != nil {
		return err
	}
	defer m.Close(context.WithoutCancel(ctx))
	return fn(m)
}

func databaseExists(ctx context.Context, m *pgx.Conn, db string) (bool, error) {
	var ok bool
	err := m.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&ok)
	if err != nil {
		return false, fault.Wrap(fault.Internal, err, "checking whether database %q exists", db)
	}
	return ok, nil
}

func createIfMissing(ctx context.Context, m *pgx.Conn, db, options string) error {
	exists, err := databaseExists(ctx, m, db)
	if err != nil || exists {
		return err
	}
	return createDatabase(ctx, m, db, options)
}

func createDatabase(ctx context.Context, m *pgx.Conn, db, options string) error {
	_, err := m.Exec(ctx, "CREATE DATABASE "+quoteIdent(db)+options)
	if createdMeanwhile(err) {
		return fault.Wrap(fault.Concurrent, err, "concurrent deployment in progress: database %q was created by another deploy while this one was starting", db)
	}
	if err != nil {
		return fault.Wrap(fault.Internal, err, "creating database %q", db)
	}
	return nil
}

type dbProps struct {
	encoding, collate, ctype string
	sameLocale               bool
	owner                    string
	connLimit                int
	settings                 []string
	comment                  *string
}

const propsSQL = `
SELECT pg_encoding_to_char(d.encoding), d.datcollate, d.datctype,
       d.encoding = t.encoding AND d.datcollate = t.datcollate AND d.datctype = t.datctype,
       pg_get_userbyid(d.datdba), d.datconnlimit,
       COALESCE((SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0), '{}'),
       shobj_description(d.oid, 'pg_database'), d.datistemplate,
       current_setting('server_version_num')::int
FROM pg_database d, pg_database t
WHERE d.datname = $1 AND t.datname = 'template1'`

func recreate(ctx context.Context, m *pgx.Conn, db string) error {
	var p dbProps
	var isTemplate bool
	var versionNum int
	err := m.QueryRow(ctx, propsSQL, db).Scan(&p.encoding, &p.collate, &p.ctype, &p.sameLocale,
		&p.owner, &p.connLimit, &p.settings, &p.comment, &isTemplate, &versionNum)
	if err != nil {
		return fault.Wrap(fault.Internal, err, "reading the properties of database %q", db)
	}
	if isTemplate {
		return fault.Errorf(fault.Config, "cannot overwrite %q: it is a template database (pg_database.datistemplate), which new databases are copied from", db)
	}
	if err := refuseWhileDeploying(ctx, m, db); err != nil {
		return err
	}
	if _, err := m.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", db); err != nil {
		return fault.Wrap(fault.Internal, err, "disconnecting other sessions from %q", db)
	}
	drop := "DROP DATABASE IF EXISTS " + quoteIdent(db)
	if versionNum >= 130000 {
		drop += " WITH (FORCE)" // a session that slips in after the terminate cannot fail the drop
	}
	if _, err := m.Exec(ctx, drop); err != nil {
		return fault.Wrap(fault.Internal, err, "dropping database %q", db)
	}
	if err := createDatabase(ctx, m, db, p.createOptions()); err != nil {
		return err
	}
	return p.restore(ctx, m, db)
}

// deployLockHeldSQL reports whether a session holds pgmi's deploy lock in
// database $1: the advisory lock on the deploy lock key (internal/lockkey) of that name,
// which pg_locks shows split into classid (high 32 bits) and objid (low).
var deployLockHeldSQL = `
SELECT EXISTS (
  SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
  WHERE d.datname = $1 AND l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
    AND ((l.classid::int8 << 32) | l.objid::int8) = ` + lockkey.SQL("$1") + `)`

// refuseWhileDeploying keeps --overwrite from terminating and dropping a
// database under a deployment that is running (pgmi bug B18): a held deploy
// lock is a concurrent deployment, exit 15, and nothing is dropped.
func refuseWhileDeploying(ctx context.Context, m *pgx.Conn, db string) error {
	var held bool
	if err := m.QueryRow(ctx, deployLockHeldSQL, db).Scan(&held); err != nil {
		return fault.Wrap(fault.Internal, err, "checking for a deployment running against %q", db)
	}
	if held {
		return fault.Errorf(fault.Concurrent, "concurrent deployment in progress: another pgmi deployment is running against %q, so --overwrite will not drop it; retry when it has finished", db)
	}
	return nil
}

func (p dbProps) createOptions() string {
	var b strings.Builder
	if !p.sameLocale {
		fmt.Fprintf(&b, " TEMPLATE template0 ENCODING %s LC_COLLATE %s LC_CTYPE %s",
			quoteLiteral(p.encoding), quoteLiteral(p.collate), quoteLiteral(p.ctype))
	}
	fmt.Fprintf(&b, " OWNER %s", quoteIdent(p.owner))
	if p.connLimit >= 0 {
		fmt.Fprintf(&b, " CONNECTION LIMIT %d", p.connLimit)
	}
	return b.String()
}

func (p dbProps) restore(ctx context.Context, m *pgx.Conn, db string) error {
	for _, s := range p.settings {
		name, value, _ := strings.Cut(s, "=")
		if _, err := m.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s SET %s = %s", quoteIdent(db), quoteIdent(name), settingValue(name, value))); err != nil {
			return fault.Wrap(fault.Internal, err, "restoring setting %s on %q", name, db)
		}
	}
	if p.comment != nil {
		if _, err := m.Exec(ctx, fmt.Sprintf("COMMENT ON DATABASE %s IS %s", quoteIdent(db), quoteLiteral(*p.comment))); err != nil {
			return fault.Wrap(fault.Internal, err, "restoring the comment on %q", db)
		}
	}
	return nil
}

// listSettings are the settings a database can hold that PostgreSQL stores
// as a list of identifiers, each quoted when it needs to be (GUC_LIST_QUOTE,
// as pg_dump lists them): search_path = app, public is stored as
// `app, public`, which as one literal would become the single schema
// "app, public".
var listSettings = map[string]bool{
	"search_path": true, "temp_tablespaces": true, "local_preload_libraries": true, "session_preload_libraries": true,
}

// settingValue is the SQL that sets name back to value, its stored form
// (pg_db_role_setting): one literal, or for a list setting one literal per
// element, which PostgreSQL quotes again as it stores them.
func settingValue(name, value string) string {
	elems, ok := splitGUCList(value)
	if !listSettings[strings.ToLower(name)] || !ok || len(elems) == 0 {
		return quoteLiteral(value)
	}
	for i, e := range elems {
		elems[i] = quoteLiteral(e)
	}
	return strings.Join(elems, ", ")
}

// splitGUCList splits a stored list setting as PostgreSQL's SplitGUCList
// does: elements separated by commas and optional whitespace, a
// double-quoted element keeping its text ("" inside stands for one quote).
// ok is false when value is not such a list.
func splitGUCList(value string) (elems []string, ok bool) {
	rest := trimSpaceLeft(value)
	for rest != "" {
		var elem string
		if rest[0] == '"' {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && (rest[i] != '"' || i+1 < len(rest) && rest[i+1] == '"'); i++ {
				if rest[i] == '"' {
					i++
				}
				b.WriteByte(rest[i])
			}
			if i >= len(rest) {
				return nil, false
			}
			elem, rest = b.String(), rest[i+1:]
		} else {
			end := strings.IndexFunc(rest, func(r rune) bool { return r == ',' || r < 0x80 && isSpace(byte(r)) })
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, false
			}
			elem, rest = rest[:end], rest[end:]
		}
		elems = append(elems, elem)
		rest = trimSpaceLeft(rest)
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, false
		}
		if rest = trimSpaceLeft(rest[1:]); rest == "" {
			return nil, false
		}
	}
	return elems, true
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
