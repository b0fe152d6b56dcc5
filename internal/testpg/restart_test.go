package testpg_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/pgserver"
)

// Restart in each mode brings the same server back: same port, same data,
// same settings, same connection string, a new postmaster run by the same OS
// user; sessions open across a fast or immediate restart are ended and their
// open transactions rolled back.
func TestRestartKeepsPortDataAndConnString(t *testing.T) {
	c := timedStart(t, pgserver.WithPasswordAuth(), pgserver.WithConfig("work_mem", "7MB"),
		pgserver.WithConfig("synchronous_commit", "on")) // rows committed just before an immediate restart must survive it
	ctx := t.Context()
	connString, port, uid := c.ConnString("postgres"), c.Port(), procUID(t, c.PID())
	c.Exec(t, "postgres", "CREATE TABLE kept (mode text)")

	for _, mode := range []string{"smart", "fast", "immediate"} {
		c.Exec(t, "postgres", "INSERT INTO kept VALUES ($1)", mode)
		var held *pgx.Conn
		if mode != "smart" { // smart shutdown waits for clients, so none stays connected
			var err error
			if held, err = pgx.Connect(ctx, connString); err != nil {
				t.Fatal(err)
			}
			defer held.Close(context.Background())
			if _, err := held.Exec(ctx, "BEGIN; INSERT INTO kept VALUES ('uncommitted')"); err != nil {
				t.Fatal(err)
			}
		}
		oldPID := c.PID()
		begin := time.Now()
		if err := c.Restart(mode); err != nil {
			t.Fatalf("Restart(%q): %v", mode, err)
		}
		t.Logf("%s restart took %v", mode, time.Since(begin))

		if err := syscall.Kill(oldPID, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s: old postmaster pid %d after Restart: kill(pid, 0) = %v, want ESRCH", mode, oldPID, err)
		}
		if c.PID() == oldPID || c.Port() != port {
			t.Fatalf("%s: after Restart pid %d (was %d), port %d (was %d)", mode, c.PID(), oldPID, c.Port(), port)
		}
		if got := procUID(t, c.PID()); got != uid {
			t.Errorf("%s: the restarted postmaster runs as uid %d, the first one ran as %d", mode, got, uid)
		}
		conn, err := pgx.Connect(ctx, connString)
		if err != nil {
			t.Fatalf("%s: the connection string from before the restart: %v", mode, err)
		}
		var modes, workMem string
		err = conn.QueryRow(ctx, "SELECT string_agg(mode, ',' ORDER BY mode), current_setting('work_mem') FROM kept").Scan(&modes, &workMem)
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(modes, "uncommitted") || !strings.Contains(modes, mode) || workMem != "7MB" {
			t.Fatalf("%s: after Restart kept = %q and work_mem = %s; want every committed row, no uncommitted one, and the WithConfig setting",
				mode, modes, workMem)
		}
		if held != nil {
			if _, err := held.Exec(ctx, "SELECT 1"); err == nil {
				t.Errorf("%s: a session from before the restart still works", mode)
			}
		}
	}
	if log := c.Log(); !strings.Contains(log, "restart after a immediate shutdown") ||
		!strings.Contains(log, "automatic recovery in progress") {
		t.Errorf("the server log lacks the restart marker or the crash recovery after the immediate restart:\n%s", log)
	}
}

func TestRestartRefusesUnknownModeAndStoppedCluster(t *testing.T) {
	c := timedStart(t)
	pid := c.PID()
	if err := c.Restart("graceful"); err == nil || !strings.Contains(err.Error(), "graceful") {
		t.Fatalf("Restart(graceful) = %v, want an error naming the mode", err)
	}
	if c.PID() != pid {
		t.Fatal("an unknown mode restarted the server")
	}
	c.Exec(t, "postgres", "SELECT 1")
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart("fast"); err == nil {
		t.Fatal("Restart of a stopped cluster succeeded")
	}
}
