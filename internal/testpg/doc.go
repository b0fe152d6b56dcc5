// Package testpg starts throwaway PostgreSQL clusters for tests: thin
// helpers over internal/pgserver (which does the process management, and
// which `pgmi local` uses without linking the testing package) that tie a
// cluster to a test's lifetime and fail or skip the test instead of
// returning errors.
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
// A Cluster is a pgserver.Cluster (binaries, running as root, shutdown and
// Restart are documented there) with helpers that take a testing.TB. When
// no server binaries are found the error is ErrNotInstalled: Start and
// Require skip the test, unless $CI is set (to anything but "false" or
// "0"), in which case they fail it, so a CI machine without PostgreSQL
// cannot pass by skipping.
package testpg
