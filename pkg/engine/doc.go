// Package engine is a pgmi session API v1 deployment engine.
//
// A pgmi project is a directory (any fs.FS) with a deploy.sql at its root.
// The engine scans it offline (Scan), then, over one direct session given
// as a *pgx.Conn, takes the per-database advisory lock, creates the session
// objects in pg_temp (tables, views, types and functions with pgmi's names
// and shapes), streams every file into them with one COPY per table, loads
// the parameters as rows and pgmi.<key> settings, expands CALL pgmi_test()
// macros and runs deploy.sql as an atomic head followed by psql-style tail
// units (DeployProject).
//
// Contract:
//   - Every check that needs no server runs in Scan, Params.Validate and
//     CheckCompat, so a bad project never reaches the database.
//   - Errors are *fault.Error values carrying a fault.Kind (pkg/fault is the
//     failure vocabulary every package shares); fault.KindOf classifies any
//     error with pgmi's precedence, and internal/exitcode maps kinds to
//     pgmi's exit codes.
//   - When the context ends the running statement is cancelled on the server
//     and the error is fault.Timeout (deadline) or fault.Canceled.
//   - The engine never resolves connections; it imports only the standard
//     library, pgx and pgmi's leaf packages (pkg/fault, internal/exitcode,
//     internal/backoff, internal/lockkey).
//
// Where the engine deliberately differs from pgmi: offline checks (binary,
// non-UTF-8, symlinked or oversize files, parameter keys) are configuration
// errors raised before any server change; a deploy.sql that leaves a
// transaction open fails instead of reporting success; an invalid
// pgmi_test() pattern or callback is an execution error.
package engine
