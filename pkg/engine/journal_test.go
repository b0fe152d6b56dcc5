package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// testJournal records marks in a table of the session's database.
func testJournal(t *testing.T, s *session) *engine.Journal {
	t.Helper()
	if _, err := s.conn.Exec(context.Background(), "CREATE TABLE public.journal (done int, script text)"); err != nil {
		t.Fatal(err)
	}
	return &engine.Journal{Mark: func(done int, script string) string {
		return fmt.Sprintf("INSERT INTO public.journal VALUES (%d, '%s')", done, script)
	}}
}

func marks(t *testing.T, db string) []int32 {
	return query[int32](t, db, "SELECT done FROM journal ORDER BY done")
}

// sameTransaction reports whether the journal row for done was written by
// the transaction that created table rel.
func sameTransaction(t *testing.T, db string, done int, rel string) bool {
	t.Helper()
	n := query[int64](t, db, `SELECT count(*) FROM journal j, pg_class c
		WHERE j.done = $1 AND c.relname = $2 AND j.xmin::text = c.xmin::text`, done, rel)
	return n[0] == 1
}

// The head's mark commits in the head's own transaction; a tail
// transaction's mark in that transaction; autocommit tail units are marked
// after they run, once each.
func TestJournalMarksCommitWithTheirWork(t *testing.T) {
	s := newSession(t)
	j := testJournal(t, s)
	sql := "BEGIN;\nCREATE TABLE head ();\nCOMMIT;\nCREATE TABLE one ();\nBEGIN;\nCREATE TABLE two ();\nCOMMIT;\nCREATE INDEX CONCURRENTLY ix ON journal (done);\n"
	res, err := s.deploy(t, files("deploy.sql", sql), engine.Options{Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(marks(t, s.db)); got != "[1 2 5 6]" {
		t.Fatalf("marks %s, want [1 2 5 6] (head, one, the tail transaction at its COMMIT, the index)", got)
	}
	if !sameTransaction(t, s.db, 1, "head") || !sameTransaction(t, s.db, 5, "two") {
		t.Fatal("a mark did not commit in the transaction of the work it records")
	}
	if res.ExecutionUnits != 6 || res.UnitsCommitted != 6 || len(res.ScriptSHA256) != 64 {
		t.Fatalf("result %+v", res)
	}
	if n := query[int64](t, s.db, "SELECT count(DISTINCT script) FROM journal WHERE script = $1", res.ScriptSHA256); n[0] != 1 {
		t.Fatal("the marks do not carry the script digest")
	}
}

// A failing head leaves no mark; the error position is the one without a
// journal.
func TestJournalFailedHeadLeavesNoMark(t *testing.T) {
	sql := "BEGIN;\nCREATE TABLE head ();\nSELECT nosuch FROM pg_class;\nCOMMIT;\nSELECT 1;\n"
	plain := newSession(t)
	want, _ := plain.deploy(t, files("deploy.sql", sql), engine.Options{})
	s := newSession(t)
	res, err := s.deploy(t, files("deploy.sql", sql), engine.Options{Journal: testJournal(t, s)})
	wantKind(t, err, fault.Execution)
	if len(marks(t, s.db)) != 0 {
		t.Fatal("a failed head left a mark")
	}
	if res.Position == nil || want.Position == nil || *res.Position != *want.Position {
		t.Fatalf("position %+v, want %+v", res.Position, want.Position)
	}
}

// An error in the terminator itself (a deferred constraint) maps to the
// COMMIT, not into the mark.
func TestJournalHeadErrorAtCommit(t *testing.T) {
	s := newSession(t)
	sql := "CREATE TABLE p (id int PRIMARY KEY);\nCREATE TABLE c (p int REFERENCES p DEFERRABLE INITIALLY DEFERRED);\nBEGIN;\nINSERT INTO c VALUES (1);\nCOMMIT;\nSELECT 1;\n"
	_, err := s.deploy(t, files("deploy.sql", sql), engine.Options{Journal: testJournal(t, s)})
	wantKind(t, err, fault.Execution)
	if len(marks(t, s.db)) != 0 {
		t.Fatal("a head whose COMMIT failed left a mark")
	}
}

// Resume skips the units an earlier attempt committed, and refuses a
// script that expands differently.
func TestJournalResume(t *testing.T) {
	s := newSession(t)
	j := testJournal(t, s)
	sql := "BEGIN;\nCREATE TABLE head ();\nCOMMIT;\nCREATE TABLE tail ();\n"
	res, err := s.deploy(t, files("deploy.sql", sql), engine.Options{Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.conn.Exec(context.Background(), "DROP TABLE tail"); err != nil {
		t.Fatal(err)
	}
	resume := *j
	resume.Resume, resume.ResumeScript = 1, res.ScriptSHA256
	again, err := s.deploy(t, files("deploy.sql", sql), engine.Options{Journal: &resume})
	if err != nil {
		t.Fatalf("resume ran the head again: %v", err)
	}
	if again.UnitsResumed != 1 || again.UnitsCommitted != 2 {
		t.Fatalf("result %+v", again)
	}
	if n := query[int64](t, s.db, "SELECT count(*) FROM pg_class WHERE relname = 'tail'"); n[0] != 1 {
		t.Fatal("the tail did not run on resume")
	}
	resume.ResumeScript = strings.Repeat("0", 64)
	_, err = s.deploy(t, files("deploy.sql", sql), engine.Options{Journal: &resume})
	wantKind(t, err, fault.Config)
	resume.ResumeScript, resume.Resume = res.ScriptSHA256, 3
	_, err = s.deploy(t, files("deploy.sql", sql), engine.Options{Journal: &resume})
	wantKind(t, err, fault.Config)
}

// A script that is one statement that cannot run in a transaction block
// still runs: its mark is a round trip of its own.
func TestJournalSingleStatementScript(t *testing.T) {
	s := newSession(t)
	j := testJournal(t, s)
	if _, err := s.deploy(t, files("deploy.sql", "CREATE INDEX CONCURRENTLY ix ON journal (done)"), engine.Options{Journal: j}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(marks(t, s.db)); got != "[1]" {
		t.Fatalf("marks %s", got)
	}
	// Several statements without a terminator are one implicit
	// transaction: the mark is appended, even after a trailing comment.
	s2 := newSession(t)
	j2 := testJournal(t, s2)
	if _, err := s2.deploy(t, files("deploy.sql", "CREATE TABLE a ();\nCREATE TABLE b () -- no semicolon"), engine.Options{Journal: j2}); err != nil {
		t.Fatal(err)
	}
	if !sameTransaction(t, s2.db, 1, "b") {
		t.Fatal("the appended mark is not in the script's implicit transaction")
	}
}

// crashAtHeadMark is a Journal whose first mark kills the deployer's
// session, as a deployer that dies right at that point would.
func crashAtHeadMark() *engine.Journal {
	return &engine.Journal{Mark: func(done int, script string) string {
		if done == 1 {
			return "SELECT pg_terminate_backend(pg_backend_pid())"
		}
		return fmt.Sprintf("INSERT INTO public.journal VALUES (%d, '%s')", done, script)
	}}
}

// The Journal contract (journal.go, ARCHITECTURE §6): "the head runs exactly
// once": the head's mark commits with the head's work, so a deployer that
// dies leaves either no head work or a mark. That holds for a deploy.sql of
// one statement (a DO block) too: its mark used to be a round trip of its
// own, so dying between the two left the head committed and unrecorded, and
// the takeover (Resume 0) ran the head a second time.
func TestSingleStatementHeadCommitsWithItsMark(t *testing.T) {
	for _, script := range []string{
		"INSERT INTO public.counter VALUES (1);\nINSERT INTO public.counter VALUES (2);\n", // control: two statements
		"DO $$ BEGIN INSERT INTO public.counter VALUES (1); INSERT INTO public.counter VALUES (2); END $$;\n",
	} {
		s := newSession(t)
		setup := cluster.Connect(t, s.db)
		if _, err := setup.Exec(context.Background(), "CREATE TABLE public.counter (n int); CREATE TABLE public.journal (done int, script text)"); err != nil {
			t.Fatal(err)
		}
		_, err := s.deploy(t, files("deploy.sql", script), engine.Options{Journal: crashAtHeadMark()})
		if err == nil {
			t.Fatalf("%q: the killed session did not fail the deploy", script)
		}
		rows := query[int64](t, s.db, "SELECT count(*) FROM public.counter")[0]
		marked := query[int64](t, s.db, "SELECT count(*) FROM public.journal")[0]
		if rows > 0 && marked == 0 {
			t.Errorf("deploy.sql %q: the head's work committed (%d rows) but no mark was recorded, "+
				"so a takeover (Resume 0) runs the head a second time", script, rows)
		}
	}
}
