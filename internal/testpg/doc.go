// Package testpg starts throwaway PostgreSQL clusters for tests.
//
// Each cluster is a fresh initdb in its own temporary directory, served by a
// postgres process that listens on 127.0.0.1 at a random free port and on a
// unix socket in a private directory. Nothing is shared with a system cluster:
// no fixed ports, no fixed paths, no pg_ctl, and the server is stopped by
// signalling the postmaster pid this package started, never by name.
//
// Two ways to get a cluster:
//
//   - Start(tb, opts...) starts a cluster for one test; tb.Cleanup stops it
//     and removes its directories.
//   - StartMain(opts...) starts one cluster for a whole package from TestMain,
//     and NewDatabase gives each test its own database in it, dropped
//     WITH (FORCE) at the test's cleanup.
//
// One cluster per package:
//
//	var pg *testpg.Cluster
//	var pgErr error
//
//	func TestMain(m *testing.M) {
//		var stop func()
//		pg, stop, pgErr = testpg.StartMain()
//		code := m.Run()
//		stop()
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		testpg.Require(t, pgErr) // skip or fail when PostgreSQL is missing
//		db := pg.NewDatabase(t)
//		conn := pg.Connect(t, db)
//		// ...
//	}
//
// # Binaries
//
// The server binaries are taken from $PGMI_PG_BINDIR when set, else from
// `pg_config --bindir`, else from the highest /usr/lib/postgresql/*/bin that
// holds initdb and postgres. PostgreSQL 14 or newer is assumed (scram-sha-256
// password storage by default, DROP DATABASE ... WITH (FORCE)). When no
// binaries are found the error is ErrNotInstalled: Start and Require skip the
// test, unless $CI is set (to anything but "false" or "0"), in which case they
// fail it, so a CI machine without PostgreSQL cannot pass by skipping.
// `make deps` (scripts/deps.sh) installs them.
//
// # Running as root
//
// initdb refuses to run as root. When the test process is root, initdb and
// postgres run as the "postgres" OS user if it exists, else as "nobody",
// through SysProcAttr.Credential; the cluster's directories are created under
// a temporary directory every parent of which that user can traverse, and are
// chowned to it. Otherwise they run as the current user.
//
// # Cleanup
//
// Stop sends SIGINT (fast shutdown) to the postmaster pid and waits; after a
// bound it escalates to SIGQUIT (immediate shutdown), then SIGKILL. The
// postmaster runs in a process group of its own (Setpgid), so a terminal's
// ^C reaches only the test binary. On Linux the postmaster also gets
// SIGQUIT if the test binary dies without cleaning up (a panic or a go test
// timeout), so no server outlives its test run; its directory is then left in
// the temporary directory.
//
// # Errors
//
// ErrNotInstalled when no server binaries are found. Every other failure is an
// error whose message names the step that failed; failures to become ready
// include the server log.
package testpg
