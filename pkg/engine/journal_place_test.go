package engine

import "testing"

func TestHeadMarkPlace(t *testing.T) {
	cases := []struct {
		sql   string
		place markPlace
		at    int
	}{
		{"BEGIN; SELECT 1; COMMIT;", markBefore, 16},
		{"BEGIN;\nSELECT ';COMMIT;';\n-- c\nEND;", markBefore, 25},
		{"COMMIT;", markBefore, 0},
		{"BEGIN; SELECT 1; ROLLBACK;", markAfter, 0},
		{"SELECT 1; SELECT 2", markAppend, 18},
		// One statement shares the implicit transaction with its mark,
		// unless it cannot run in a transaction block or may end
		// transactions itself.
		{"SELECT 1; -- only one", markAppend, 21},
		{"DO $$ BEGIN INSERT INTO t VALUES (1); END $$;", markAppend, 45},
		{"DO $$ BEGIN INSERT INTO t VALUES (1); COMMIT; END $$;", markAfter, 0},
		{"do $$begin rollback; end$$", markAfter, 0},
		{"CALL migrate()", markAfter, 0},
		{"CREATE INDEX CONCURRENTLY i ON t (c)", markAfter, 0},
		{"VACUUM ANALYZE t;", markAfter, 0},
		{"create database app", markAfter, 0},
		{"DROP TABLESPACE ts", markAfter, 0},
		{"ALTER SYSTEM SET work_mem = '8MB'", markAfter, 0},
		{"PREPARE TRANSACTION 'x'", markAfter, 0},
		{"CREATE TABLE database (id int)", markAppend, 30},
		{"BEGIN; SELECT $$COMMIT;$$; COMMIT AND CHAIN;", markBefore, 26},
		{"BEGIN; ROLLBACK TO SAVEPOINT a; COMMIT;", markBefore, 31},
	}
	for _, c := range cases {
		place, at := headMark(c.sql)
		if place != c.place || at != c.at {
			t.Errorf("headMark(%q) = %d, %d; want %d, %d", c.sql, place, at, c.place, c.at)
		}
	}
}

func TestInsertionPosition(t *testing.T) {
	u := Unit{SQL: "BEGIN; SELECT 1; COMMIT;", End: 24, Line: 1, Column: 1}
	marked, ins := withMark(u, markBefore, 16, "SELECT mark()")
	if marked.SQL != "BEGIN; SELECT 1;SELECT mark(); COMMIT;" {
		t.Fatalf("marked %q", marked.SQL)
	}
	for pos, want := range map[int]int{1: 1, 16: 16, 17: 17, 30: 17, 31: 17, 32: 18, 38: 24} {
		if got := ins.position(pos); got != want {
			t.Errorf("position(%d) = %d, want %d", pos, got, want)
		}
	}
}
