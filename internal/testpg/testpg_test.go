package testpg_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/internal/pgserver"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// shared is the package's one cluster from StartMain, exercising that path.
var (
	shared    *testpg.Cluster
	sharedErr error
)

func TestMain(m *testing.M) {
	var stop func()
	shared, stop, sharedErr = testpg.StartMain()
	code := m.Run()
	stop()
	os.Exit(code)
}

func timedStart(t *testing.T, opts ...testpg.Option) *testpg.Cluster {
	t.Helper()
	begin := time.Now()
	c := testpg.Start(t, opts...)
	t.Logf("start (initdb to first connection) took %v", time.Since(begin))
	return c
}

func queryInt(t *testing.T, conn *pgx.Conn, sql string) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// procUID reads the real uid of a process from /proc.
func procUID(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc on this system: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if fields := strings.Fields(line); len(fields) > 1 && fields[0] == "Uid:" {
			uid, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			return uid
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return -1
}

func fileUID(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

func TestStartRunsServerAsNonRoot(t *testing.T) {
	c := timedStart(t)
	serverUID := procUID(t, c.PID())
	if os.Geteuid() == 0 {
		if serverUID == 0 {
			t.Fatalf("postmaster pid %d runs as root; want the privilege drop", c.PID())
		}
	} else if serverUID != os.Geteuid() {
		t.Fatalf("postmaster runs as uid %d, want the test's uid %d", serverUID, os.Geteuid())
	}
	if got := fileUID(t, c.DataDir()); got != serverUID {
		t.Errorf("data directory owned by uid %d, server runs as %d", got, serverUID)
	}
	t.Logf("test euid %d, postmaster pid %d uid %d", os.Geteuid(), c.PID(), serverUID)
	if n := queryInt(t, c.Connect(t, "postgres"), "SELECT 1"); n != 1 {
		t.Fatalf("SELECT 1 = %d", n)
	}
}

func TestSelectOverTCPAndSocket(t *testing.T) {
	testpg.Require(t, sharedErr)
	ctx := t.Context()
	tcp := shared.Connect(t, "postgres")
	var tcpAddr *string
	if err := tcp.QueryRow(ctx, "SELECT host(inet_client_addr())").Scan(&tcpAddr); err != nil {
		t.Fatal(err)
	}
	if tcpAddr == nil || *tcpAddr != "127.0.0.1" {
		t.Fatalf("TCP client address = %v, want 127.0.0.1", tcpAddr)
	}

	sock, err := pgx.Connect(ctx, shared.SocketConnString("postgres"))
	if err != nil {
		t.Fatalf("connect over socket in %s: %v", shared.SocketDir(), err)
	}
	defer sock.Close(ctx)
	var sockAddr *string
	var one int
	if err := sock.QueryRow(ctx, "SELECT 1, host(inet_client_addr())").Scan(&one, &sockAddr); err != nil {
		t.Fatal(err)
	}
	if one != 1 || sockAddr != nil {
		t.Fatalf("over the socket got (%d, %v), want (1, NULL client address)", one, sockAddr)
	}
	if _, err := os.Stat(filepath.Join(shared.SocketDir(), fmt.Sprintf(".s.PGSQL.%d", shared.Port()))); err != nil {
		t.Fatalf("socket file: %v", err)
	}
}

func TestPasswordAuth(t *testing.T) {
	c := timedStart(t, pgserver.WithPasswordAuth())
	if c.Password() == "" {
		t.Fatal("WithPasswordAuth gave no password")
	}
	ctx := t.Context()

	wrong := strings.Replace(c.ConnString("postgres"), c.Password(), "not-the-password", 1)
	_, err := pgx.Connect(ctx, wrong)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Fatalf("wrong password: got %v, want SQLSTATE 28P01 invalid_password", err)
	}
	if strings.Contains(err.Error(), c.Password()) {
		t.Fatal("the authentication error prints the real password")
	}
	noPassword := fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres", c.Host(), c.Port())
	if _, err := pgx.Connect(ctx, noPassword); err == nil {
		t.Fatal("connected over TCP without a password")
	}

	if n := queryInt(t, c.Connect(t, "postgres"), "SELECT 1"); n != 1 {
		t.Fatalf("SELECT 1 with the right password = %d", n)
	}
	sock, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres", c.SocketDir(), c.Port()))
	if err != nil {
		t.Fatalf("socket stays trusted without a password: %v", err)
	}
	sock.Close(ctx)
}

// Children lists a session's backend while it runs and until its process
// has exited, which is after pg_stat_activity stopped listing it.
func TestChildrenListASessionUntilItsProcessExits(t *testing.T) {
	testpg.Require(t, sharedErr)
	conn := shared.Connect(t, "postgres")
	pid := queryInt(t, conn, "SELECT pg_backend_pid()")
	has := func() bool {
		kids, err := shared.Children()
		if errors.Is(err, errors.ErrUnsupported) {
			t.Skipf("no /proc on this system: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(kids, pid)
	}
	if !has() {
		t.Fatalf("the session's backend %d is not among the postmaster's children", pid)
	}
	conn.Close(t.Context())
	for deadline := time.Now().Add(10 * time.Second); has(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("backend %d still a child of the postmaster 10 s after its session closed", pid)
		}
	}
}

func TestStopStopsPostmasterAndRemovesDirs(t *testing.T) {
	c := timedStart(t)
	pid := c.PID()
	dirs := []string{c.DataDir(), c.SocketDir(), filepath.Dir(c.DataDir())}
	idle := c.Connect(t, "postgres") // an idle client must not block fast shutdown
	queryInt(t, idle, "SELECT 1")
	children, err := c.Children()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("no /proc on this system: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(children) == 0 {
		t.Fatal("found no postmaster children to check")
	}

	begin := time.Now()
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("stop with one idle connection took %v", time.Since(begin))

	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("postmaster pid %d after Stop: kill(pid, 0) = %v, want ESRCH", pid, err)
	}
	for _, child := range children {
		if err := syscall.Kill(child, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("postmaster child pid %d after Stop: kill(pid, 0) = %v, want ESRCH", child, err)
		}
	}
	for _, dir := range dirs {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Stop: stat = %v, want not exist", dir, err)
		}
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := pgx.Connect(t.Context(), c.ConnString("postgres")); err == nil {
		t.Error("connected after Stop")
	}
}

func TestTwoClustersAtOnce(t *testing.T) {
	a, b := timedStart(t), timedStart(t)
	if a.Port() == b.Port() {
		t.Fatalf("both clusters on port %d", a.Port())
	}
	if a.DataDir() == b.DataDir() || a.SocketDir() == b.SocketDir() {
		t.Fatal("clusters share a directory")
	}
	sysID := func(c *testpg.Cluster) (id int64) {
		if err := c.Connect(t, "postgres").QueryRow(t.Context(),
			"SELECT system_identifier FROM pg_control_system()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	if sysID(a) == sysID(b) {
		t.Fatal("both connections reached the same cluster")
	}
	a.Exec(t, "postgres", "CREATE TABLE only_in_a ()")
	n := queryInt(t, b.Connect(t, "postgres"), "SELECT count(*) FROM pg_class WHERE relname = 'only_in_a'")
	if n != 0 {
		t.Fatal("a table created in cluster a is visible in cluster b")
	}
}

func TestNewDatabaseIsDroppedWithForce(t *testing.T) {
	testpg.Require(t, sharedErr)
	var name string
	t.Run("inner", func(t *testing.T) {
		name = shared.NewDatabase(t)
		conn := shared.Connect(t, name)
		queryInt(t, conn, "SELECT 1")
		// A session left open at cleanup: only WITH (FORCE) can drop under it.
		leaked, err := pgx.Connect(t.Context(), shared.ConnString(name))
		if err != nil {
			t.Fatal(err)
		}
		_ = leaked
	})
	if name == "" || len(name) > 63 || !strings.HasPrefix(name, "t_testnewdatabaseisdroppedwithforce") {
		t.Fatalf("database name %q", name)
	}
	conn := shared.Connect(t, "postgres")
	var exists bool
	if err := conn.QueryRow(t.Context(), "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatalf("database %s still exists after its test ended", name)
	}
}

func TestNewDatabaseNamesAreUnique(t *testing.T) {
	testpg.Require(t, sharedErr)
	a, b := shared.NewDatabase(t), shared.NewDatabase(t)
	if a == b {
		t.Fatalf("NewDatabase returned %s twice", a)
	}
}

func TestOptionsConfigHBAAndFile(t *testing.T) {
	secret := []byte("not really a key\n")
	c := timedStart(t,
		pgserver.WithConfig("work_mem", "7MB"),
		pgserver.WithConfig("fsync", "on"), // overrides a default
		pgserver.WithHBA("local all all trust"),
		pgserver.WithFile("certs/server.key", secret),
	)
	ctx := t.Context()

	// Readiness must not depend on TCP being allowed by pg_hba.conf.
	_, err := pgx.Connect(ctx, c.ConnString("postgres"))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28000" {
		t.Fatalf("TCP with only a local rule: got %v, want SQLSTATE 28000 (no pg_hba.conf entry)", err)
	}
	conn, err := pgx.Connect(ctx, c.SocketConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for setting, want := range map[string]string{"work_mem": "7MB", "fsync": "on", "full_page_writes": "off"} {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", setting).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %s, want %s", setting, got, want)
		}
	}

	path := filepath.Join(c.DataDir(), "certs", "server.key")
	got, err := os.ReadFile(path)
	if err != nil || string(got) != string(secret) {
		t.Fatalf("WithFile content: %q, %v", got, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("WithFile mode %v, want 0600", fi.Mode().Perm())
	}
	if owner, server := fileUID(t, path), procUID(t, c.PID()); owner != server {
		t.Errorf("WithFile owner uid %d, server uid %d", owner, server)
	}
	var readable bool
	if err := conn.QueryRow(ctx, "SELECT pg_read_file('certs/server.key') = $1", string(secret)).Scan(&readable); err != nil || !readable {
		t.Errorf("the server cannot read its WithFile file: %v", err)
	}
}

func TestInvalidOptionsAreErrors(t *testing.T) {
	for name, opt := range map[string]testpg.Option{
		"file outside data dir": pgserver.WithFile("../escape", nil),
		"absolute file":         pgserver.WithFile("/etc/passwd", nil),
		"empty config key":      pgserver.WithConfig("", "x"),
		"config key with =":     pgserver.WithConfig("a=b", "x"),
		"empty hba":             pgserver.WithHBA(),
	} {
		t.Run(name, func(t *testing.T) {
			c, stop, err := testpg.StartMain(opt)
			defer stop()
			if err == nil || c != nil {
				t.Fatalf("StartMain = %v, %v; want an error", c, err)
			}
		})
	}
}

func TestBadBinDirIsAnErrorNotASkip(t *testing.T) {
	t.Setenv("PGMI_PG_BINDIR", t.TempDir())
	_, stop, err := testpg.StartMain()
	defer stop()
	if err == nil || errors.Is(err, testpg.ErrNotInstalled) || !strings.Contains(err.Error(), "PGMI_PG_BINDIR") {
		t.Fatalf("StartMain with an empty PGMI_PG_BINDIR = %v; want an error naming PGMI_PG_BINDIR", err)
	}
}

func TestExecReturnsCommandTag(t *testing.T) {
	testpg.Require(t, sharedErr)
	db := shared.NewDatabase(t)
	shared.Exec(t, db, "CREATE TABLE t (n int)")
	tag := shared.Exec(t, db, "INSERT INTO t SELECT generate_series(1, $1::int)", 3)
	if tag.RowsAffected() != 3 {
		t.Fatalf("INSERT tag %q", tag)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var n int
	if err := shared.Connect(t, db).QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 3 {
		t.Fatalf("count = %d, %v", n, err)
	}
}

func TestServerThatCannotStartReportsItsLog(t *testing.T) {
	testpg.Require(t, sharedErr) // needs the binaries, not the shared cluster
	c, stop, err := testpg.StartMain(pgserver.WithConfig("shared_buffers", "not-a-size"))
	defer stop()
	if err == nil {
		t.Fatalf("started a cluster on port %d with an invalid setting", c.Port())
	}
	for _, want := range []string{"did not become ready", "--- server log ---", "shared_buffers"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
