// Package pgserver runs throwaway PostgreSQL clusters: `pgmi local` starts
// one when no server is named, internal/tools/demo runs its walkthrough on
// one, and internal/testpg wraps it with helpers for tests. It does not
// import the testing package, so a shipped binary can link it.
//
// Each cluster is a fresh initdb in its own temporary directory, served by a
// postgres process that listens on 127.0.0.1 at a random free port and on a
// unix socket in a private directory. Nothing is shared with a system cluster:
// no fixed ports, no fixed paths, no pg_ctl, and the server is stopped by
// signalling the postmaster pid this package started, never by name.
//
//	c, err := pgserver.Start(ctx)
//	if err != nil {
//		return err // errors.Is(err, pgserver.ErrNotInstalled) without binaries
//	}
//	defer c.Stop()
//	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
//
// # Binaries
//
// The server binaries are taken from $PGMI_PG_BINDIR when set, else from
// `pg_config --bindir`, else from the highest /usr/lib/postgresql/*/bin that
// holds initdb and postgres. PostgreSQL 14 or newer is assumed (scram-sha-256
// password storage by default, DROP DATABASE ... WITH (FORCE)). When no
// binaries are found the error is ErrNotInstalled. `make deps`
// (scripts/deps.sh) installs them.
//
// # Running as root
//
// initdb refuses to run as root. When the process is root, initdb and
// postgres run as the "postgres" OS user if it exists, else as "nobody",
// through SysProcAttr.Credential; the cluster's directories are created under
// a temporary directory every parent of which that user can traverse, and are
// chowned to it. Otherwise they run as the current user.
//
// # Cleanup
//
// Stop sends SIGINT (fast shutdown) to the postmaster pid and waits; after a
// bound it escalates to SIGQUIT (immediate shutdown), then SIGKILL, and
// removes the cluster's directories. The postmaster runs in a process group
// of its own (Setpgid), so a terminal's ^C reaches only the process that
// started it. On Linux the postmaster also gets SIGQUIT if that process dies
// without cleaning up (a panic, a go test timeout), so no server outlives
// it; its directory is then left in the temporary directory.
//
// # Errors
//
// ErrNotInstalled when no server binaries are found. Every other failure is an
// error whose message names the step that failed; failures to become ready
// include the server log.
package pgserver
