// Package crashtest is the kill-and-redeliver scenario the crash tests of
// pgmi local (cmd/pgmi) and of the Lambda bootstrap (functions/aws) share:
// a deploy.sql with a timed atomic head and tail, the kill points spread
// over them, and the check of ARCHITECTURE §6's contract on what the
// database holds after the redeliveries (every head step exactly once, each
// tail unit at least once and at most one of them twice, one succeeded
// ledger row).
package crashtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DeploySQL is an atomic head of five steps, then a tail of five
// autocommit units; every step takes 0.2 s, so the head runs for about
// 1 s and the tail for about 1 s. The CREATE TABLEs belong to the head unit
// (everything up to the first top-level COMMIT is one message).
var DeploySQL = func() string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS head_steps (step int);\nCREATE TABLE IF NOT EXISTS tail_steps (step int);\nBEGIN;\n")
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&b, "INSERT INTO head_steps VALUES (%d); SELECT pg_sleep(0.2);\n", i)
	}
	b.WriteString("COMMIT;\n")
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&b, "INSERT INTO tail_steps SELECT %d FROM pg_sleep(0.2);\n", i)
	}
	return b.String()
}()

// Concurrency is how many kill points run at once.
const Concurrency = 4

// KillPoints are the kill points, as times after the head reached the
// server: 0 means earlyKillPoint, before deploy.sql, then 15 points every
// 0.125 s from 0.15 s to 1.9 s: seven inside the head (0–1 s), one just
// after its COMMIT, seven inside the tail (1–2 s). The last point leaves
// 0.1 s before the tail ends, so a busy machine does not push it past the
// deploy.
func KillPoints() []time.Duration {
	points := []time.Duration{0}
	for i := range 15 {
		points = append(points, 150*time.Millisecond+time.Duration(i)*125*time.Millisecond)
	}
	return points
}

// PointName names a kill point for test names and accounts.
func PointName(at time.Duration, early string) string {
	if at == 0 {
		return "at " + early
	}
	return fmt.Sprintf("at head+%04dms", at.Milliseconds())
}

// WaitForHead polls pg_stat_activity until a backend of db runs deploy.sql's
// head and returns when it saw it. gone reports a deployer that exited.
func WaitForHead(t *testing.T, conn *pgx.Conn, db string, gone func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%INSERT INTO head_steps%'`, db).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return time.Now()
		}
		if gone() {
			t.Fatal("the deployer finished before deploy.sql reached the server")
		}
		if time.Now().After(deadline) {
			t.Fatal("deploy.sql did not reach the server within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// StatementOf names what the deploying backend of db runs: "the head",
// "tail unit N", "no statement", or the start of another statement.
func StatementOf(t *testing.T, conn *pgx.Conn, db string) string {
	t.Helper()
	var q string
	err := conn.QueryRow(t.Context(), `SELECT coalesce(string_agg(query, ' | '), '') FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid() AND state = 'active'`, db).Scan(&q)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case strings.Contains(q, "INSERT INTO head_steps"):
		return "the head"
	case strings.Contains(q, "INSERT INTO tail_steps SELECT"):
		var n int
		_, _ = fmt.Sscanf(q[strings.Index(q, "INSERT INTO tail_steps SELECT"):], "INSERT INTO tail_steps SELECT %d", &n)
		return fmt.Sprintf("tail unit %d", n)
	case q == "":
		return "no statement"
	default:
		return fmt.Sprintf("%.16q", strings.Join(strings.Fields(q), " "))
	}
}

func Connect(t *testing.T, admin string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Account is one line of the per-point summary.
func Account(t *testing.T, at time.Duration, early, phase string, outcomes []string, state State) string {
	s := fmt.Sprintf("kill %-16s in %-20s redeliveries %-20s %s", PointName(at, early)+",", phase+":", strings.Join(outcomes, ", ")+";", state)
	if t.Failed() {
		s += "  FAIL"
	}
	return s
}

// State is what the database holds after the redeliveries.
type State struct {
	head, tail map[int]int    // step → rows
	ledger     map[string]int // status → rows
}

func (s State) String() string {
	if s.head == nil {
		return ""
	}
	return fmt.Sprintf("head %s tail %s ledger %v", steps(s.head), steps(s.tail), s.ledger)
}

func steps(m map[int]int) string {
	var parts []string
	for i := 1; i <= 5; i++ {
		parts = append(parts, fmt.Sprint(m[i]))
	}
	for k := range m {
		if k < 1 || k > 5 {
			parts = append(parts, fmt.Sprintf("step %d:%d", k, m[k]))
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func ReadState(t *testing.T, admin, db string) State {
	t.Helper()
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = db
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	count := func(sql string) map[int]int {
		m := map[int]int{}
		rows, err := conn.Query(t.Context(), sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		for rows.Next() {
			var k, n int
			if err := rows.Scan(&k, &n); err != nil {
				t.Fatal(err)
			}
			m[k] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return m
	}
	s := State{
		head:   count("SELECT step, count(*) FROM head_steps GROUP BY step"),
		tail:   count("SELECT step, count(*) FROM tail_steps GROUP BY step"),
		ledger: map[string]int{},
	}
	rows, err := conn.Query(t.Context(), "SELECT status, count(*) FROM pgmi_ledger.deployments GROUP BY status")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			t.Fatal(err)
		}
		s.ledger[status] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

// problems lists what breaks the contract: every head step exactly once,
// every tail unit at least once and at most one of them twice, one ledger
// row and it succeeded.
func (s State) Problems() []string {
	var p []string
	var twice []int
	for i := 1; i <= 5; i++ {
		if s.head[i] != 1 {
			p = append(p, fmt.Sprintf("head step %d applied %d times, want exactly once", i, s.head[i]))
		}
		switch n := s.tail[i]; {
		case n == 0 || n > 2:
			p = append(p, fmt.Sprintf("tail unit %d ran %d times, want once (or twice for the unit in flight)", i, n))
		case n == 2:
			twice = append(twice, i)
		}
	}
	if len(twice) > 1 {
		p = append(p, fmt.Sprintf("tail units %v ran twice, want at most one", twice))
	}
	if len(s.head) != 5 || len(s.tail) != 5 {
		p = append(p, fmt.Sprintf("unexpected steps: head %v tail %v", s.head, s.tail))
	}
	total := 0
	for _, n := range s.ledger {
		total += n
	}
	if total != 1 || s.ledger["succeeded"] != 1 {
		p = append(p, fmt.Sprintf("ledger rows by status %v, want exactly one row, succeeded", s.ledger))
	}
	return p
}
