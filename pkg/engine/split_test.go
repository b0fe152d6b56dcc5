package engine

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   []string // script[Start:End] of each unit
	}{
		{"empty script", "", []string{""}},
		{"no terminator", "CREATE TABLE t(a int);\nINSERT INTO t VALUES (1);\n",
			[]string{"CREATE TABLE t(a int);\nINSERT INTO t VALUES (1);\n"}},
		{"head and tail", "BEGIN;\nCREATE TABLE t(a int);\nCOMMIT;\nCREATE INDEX CONCURRENTLY i ON t(a);\nSELECT 1;\n",
			[]string{"BEGIN;\nCREATE TABLE t(a int);\nCOMMIT;", "\nCREATE INDEX CONCURRENTLY i ON t(a);", "\nSELECT 1;"}},
		{"bare COMMIT ends an implicit head", "CREATE TABLE t(a int);\nCOMMIT;\nSELECT 1;",
			[]string{"CREATE TABLE t(a int);\nCOMMIT;", "\nSELECT 1;"}},
		{"only a terminator", "COMMIT;", []string{"COMMIT;"}},
		{"CREATE RULE with parenthesised actions stays whole",
			"COMMIT;\nCREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));\nSELECT 1;",
			[]string{"COMMIT;", "\nCREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));", "\nSELECT 1;"}},
		{"CREATE RULE in the head hides no terminator",
			"CREATE RULE r AS ON DELETE TO t DO INSTEAD (DELETE FROM a; COMMIT);\nSELECT 1;",
			[]string{"CREATE RULE r AS ON DELETE TO t DO INSTEAD (DELETE FROM a; COMMIT);\nSELECT 1;"}},
		{"BEGIN ATOMIC with CASE END in the tail",
			"COMMIT;\nCREATE FUNCTION f(x int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\nSELECT f(1);",
			[]string{"COMMIT;", "\nCREATE FUNCTION f(x int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;", "\nSELECT f(1);"}},
		{"BEGIN ATOMIC body END is not a terminator",
			"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\nSELECT 2;",
			[]string{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\nSELECT 2;"}},
		{"terminator after a BEGIN ATOMIC body in the head",
			"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\nCOMMIT;\nSELECT 2;",
			[]string{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\nCOMMIT;", "\nSELECT 2;"}},
		{"empty BEGIN ATOMIC END closes in its own chunk",
			"COMMIT;\nCREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC END;\nSELECT 1;",
			[]string{"COMMIT;", "\nCREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC END;", "\nSELECT 1;"}},
		{"CASE END in the opening chunk keeps the body open",
			"COMMIT; CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; END; SELECT 1;",
			[]string{"COMMIT;", " CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; END;", " SELECT 1;"}},
		{"BEGIN and ATOMIC split by a comment still open a body",
			"COMMIT; CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN /* c */ ATOMIC SELECT 1; END; SELECT 2;",
			[]string{"COMMIT;", " CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN /* c */ ATOMIC SELECT 1; END;", " SELECT 2;"}},
		{"BEGIN, ATOMIC as columns are not a body",
			"COMMIT; SELECT begin, atomic FROM t; SELECT 2;",
			[]string{"COMMIT;", " SELECT begin, atomic FROM t;", " SELECT 2;"}},
		{"COMMIT AND CHAIN is a terminator",
			"BEGIN;\nSELECT 1;\nCOMMIT AND CHAIN;\nSELECT 2;\nCOMMIT;",
			[]string{"BEGIN;\nSELECT 1;\nCOMMIT AND CHAIN;", "\nSELECT 2;", "\nCOMMIT;"}},
		{"ROLLBACK AND NO CHAIN is a terminator", "BEGIN;\nROLLBACK AND NO CHAIN;\nSELECT 2;",
			[]string{"BEGIN;\nROLLBACK AND NO CHAIN;", "\nSELECT 2;"}},
		{"ROLLBACK TO SAVEPOINT is not a terminator",
			"BEGIN;\nSAVEPOINT s;\nROLLBACK TO SAVEPOINT s;\nROLLBACK TRANSACTION TO s;\nROLLBACK WORK TO SAVEPOINT s;\nCOMMIT;\nSELECT 1;",
			[]string{"BEGIN;\nSAVEPOINT s;\nROLLBACK TO SAVEPOINT s;\nROLLBACK TRANSACTION TO s;\nROLLBACK WORK TO SAVEPOINT s;\nCOMMIT;", "\nSELECT 1;"}},
		{"COMMIT PREPARED and ROLLBACK PREPARED are not terminators",
			"COMMIT PREPARED 'x';\nROLLBACK PREPARED 'y';\nSELECT 1;",
			[]string{"COMMIT PREPARED 'x';\nROLLBACK PREPARED 'y';\nSELECT 1;"}},
		{"END is a terminator", "BEGIN;\nSELECT 1;\nEND;\nSELECT 2;", []string{"BEGIN;\nSELECT 1;\nEND;", "\nSELECT 2;"}},
		{"ABORT is a terminator", "BEGIN;\nABORT;\nSELECT 1;", []string{"BEGIN;\nABORT;", "\nSELECT 1;"}},
		{"lower case with WORK", "begin;\ncommit work;\nselect 1;", []string{"begin;\ncommit work;", "\nselect 1;"}},
		{"terminator with a comment before its semicolon", "BEGIN;\nCOMMIT -- done\n;\nSELECT 1;",
			[]string{"BEGIN;\nCOMMIT -- done\n;", "\nSELECT 1;"}},
		{"trailing comment-only remainder makes one unit", "BEGIN;\nSELECT 1;\nCOMMIT;\n-- done\n/* really */\n",
			[]string{"BEGIN;\nSELECT 1;\nCOMMIT;\n-- done\n/* really */\n"}},
		{"trailing comment-only remainder after tail statements is dropped", "COMMIT;\nSELECT 1;\n-- bye\n",
			[]string{"COMMIT;", "\nSELECT 1;"}},
		{"terminator without a semicolon at the end", "BEGIN;\nSELECT 1;\nCOMMIT", []string{"BEGIN;\nSELECT 1;\nCOMMIT"}},
		{"final END without a semicolon, then a comment", "BEGIN;\nEND -- done\n", []string{"BEGIN;\nEND -- done\n"}},
		{"final statement without a semicolon in the tail", "COMMIT;\nSELECT 1", []string{"COMMIT;", "\nSELECT 1"}},
		{"dollar quotes hide semicolons and terminators",
			"DO $body$ BEGIN COMMIT; END $body$;\nCOMMIT;\nDO $$ ; COMMIT; $$;\nSELECT $x$;$x$;",
			[]string{"DO $body$ BEGIN COMMIT; END $body$;\nCOMMIT;", "\nDO $$ ; COMMIT; $$;", "\nSELECT $x$;$x$;"}},
		{"nested block comments hide semicolons and terminators",
			"/* COMMIT; /* nested; */ still; */ SELECT 1;\nCOMMIT;\n/* a /* b */ ; */ SELECT 2;",
			[]string{"/* COMMIT; /* nested; */ still; */ SELECT 1;\nCOMMIT;", "\n/* a /* b */ ; */ SELECT 2;"}},
		{"escape strings hide an escaped quote",
			"SELECT E'it\\'s; COMMIT;';\nCOMMIT;\nSELECT 'back\\';\nSELECT 2;",
			[]string{"SELECT E'it\\'s; COMMIT;';\nCOMMIT;", "\nSELECT 'back\\';", "\nSELECT 2;"}},
		{"quoted identifiers hide semicolons", "SELECT 1 AS \"a;COMMIT;\";\nCOMMIT;\nSELECT 2 AS \"b;\";",
			[]string{"SELECT 1 AS \"a;COMMIT;\";\nCOMMIT;", "\nSELECT 2 AS \"b;\";"}},
		{"empty statement in the tail is a unit", "COMMIT;\n;\nSELECT 1;", []string{"COMMIT;", "\n;", "\nSELECT 1;"}},
		{"stray closing parenthesis stops the tail split", "COMMIT;\nSELECT 1);\nSELECT 2;",
			[]string{"COMMIT;", "\nSELECT 1);\nSELECT 2;"}},
		{"invalid UTF-8 is one unit", "COMMIT;\nSELECT '\xff';", []string{"COMMIT;\nSELECT '\xff';"}},
		{"CRLF and multi-byte characters", "COMMIT;\r\nSELECT 'Ä€'; SELECT 2;\r\n",
			[]string{"COMMIT;", "\r\nSELECT 'Ä€';", " SELECT 2;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			units := Split(tt.script)
			checkUnits(t, tt.script, units)
			var got []string
			for _, u := range units {
				got = append(got, tt.script[u.Start:u.End])
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Split(%q)\n got %q\nwant %q", tt.script, got, tt.want)
			}
		})
	}
}

func TestSplitPadding(t *testing.T) {
	script := "COMMIT;\r\nSELECT 'Ä€'; SELECT bad;\n\t  SELECT 3;"
	units := Split(script)
	want := []struct{ line, col int }{{1, 1}, {1, 8}, {2, 13}, {2, 25}}
	if len(units) != len(want) {
		t.Fatalf("%d units: %+v", len(units), units)
	}
	for i, u := range units {
		if u.Line != want[i].line || u.Column != want[i].col {
			t.Errorf("unit %d at %d:%d, want %d:%d", i, u.Line, u.Column, want[i].line, want[i].col)
		}
	}
	if u := units[2]; u.SQL != "\n"+strings.Repeat(" ", 12)+" SELECT bad;" {
		t.Errorf("unit 2 SQL = %q", u.SQL)
	}
	// PostgreSQL reports "bad" in unit 2 at character 1 (newline) + 12 (spaces) + 9.
	if line, col := PositionInUnit(units[2], 22); line != 2 || col != 21 {
		t.Errorf("bad at %d:%d, want 2:21", line, col)
	}
}

// TestSplitPaddingBudget: once the budget is spent, units are sent bare and
// still map error positions to the same place.
func TestSplitPaddingBudget(t *testing.T) {
	script := "COMMIT;\nSELECT 1;\nSELECT 'Ä', bad;\n  SELECT bad2;"
	padded, bare := Split(script), splitWithin(script, 12)
	if len(padded) != 4 || len(bare) != 4 {
		t.Fatalf("units: %d and %d", len(padded), len(bare))
	}
	if bare[1].SQL != strings.Repeat(" ", 7)+"\nSELECT 1;" || bare[2].SQL != "\nSELECT 'Ä', bad;" || bare[3].SQL != "\n  SELECT bad2;" {
		t.Fatalf("budget of 12 should pad only unit 1: %q", []string{bare[1].SQL, bare[2].SQL, bare[3].SQL})
	}
	for i := 1; i < 4; i++ {
		pad := len(padded[i].SQL) - len(bare[i].SQL)
		for p := 1; p <= utf8.RuneCountInString(bare[i].SQL); p++ {
			wl, wc := PositionInUnit(padded[i], p+pad)
			if gl, gc := PositionInUnit(bare[i], p); gl != wl || gc != wc {
				t.Fatalf("unit %d position %d: bare %d:%d, padded %d:%d", i, p, gl, gc, wl, wc)
			}
		}
	}
}

// TestSplitManyTailStatements keeps a long tail linear: 200 000 one-line
// statements would need about 20 GB of padding without the budget.
func TestSplitManyTailStatements(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 3 MB script")
	}
	script := "COMMIT;\n" + strings.Repeat("SELECT 1;\n", 200000)
	units := Split(script)
	total := 0
	for _, u := range units {
		total += len(u.SQL) - (u.End - u.Start)
	}
	if len(units) != 200001 || total > maxPadding {
		t.Fatalf("%d units with %d bytes of padding", len(units), total)
	}
	last := units[len(units)-1]
	if line, col := PositionInUnit(last, len(last.SQL)); line != 200001 || col != 9 {
		t.Fatalf("last character maps to %d:%d", line, col)
	}
}

func TestIsTerminator(t *testing.T) {
	yes := []string{"COMMIT", "commit;", "END", "ROLLBACK", "ABORT", "COMMIT WORK", "END TRANSACTION",
		"ROLLBACK AND CHAIN", "COMMIT AND NO CHAIN", "COMMIT TRANSACTION AND CHAIN", "  \n COMMIT -- done",
		"/* x */ COMMIT", "Commit/* COMMIT PREPARED */", "COMMIT 'x'"}
	no := []string{"", "BEGIN", "SELECT 1", "ROLLBACK TO s", "ROLLBACK TO SAVEPOINT s", "ROLLBACK WORK TO s",
		"ROLLBACK TRANSACTION TO SAVEPOINT s", "ABORT TRANSACTION TO s", "COMMIT PREPARED 'x'", "ROLLBACK PREPARED 'x'",
		"COMMITTED", "END IF", "COMMIT WORK WORK", "RELEASE SAVEPOINT s", "'COMMIT'", "-- COMMIT"}
	for _, s := range yes {
		if !IsTerminator(s) {
			t.Errorf("IsTerminator(%q) = false", s)
		}
	}
	for _, s := range no {
		if IsTerminator(s) {
			t.Errorf("IsTerminator(%q) = true", s)
		}
	}
}

func TestPositionInUnit(t *testing.T) {
	u := Unit{SQL: "\n\n   SELECT 'Ä', x\n  FROM t;", Start: 10, End: 34, Line: 3, Column: 4}
	tests := []struct{ pos, line, col int }{
		{-5, 1, 1}, {0, 1, 1}, {1, 1, 1}, {3, 3, 1}, {6, 3, 4}, {15, 3, 13}, {17, 3, 15},
		{20, 4, 1}, {22, 4, 3}, {1000, 4, 10},
	}
	for _, tt := range tests {
		if line, col := PositionInUnit(u, tt.pos); line != tt.line || col != tt.col {
			t.Errorf("PositionInUnit(%d) = %d:%d, want %d:%d", tt.pos, line, col, tt.line, tt.col)
		}
	}
}

func TestSourceLine(t *testing.T) {
	script := "one\r\ntwo\n\nfour"
	tests := []struct {
		line int
		want string
	}{{0, ""}, {1, "one"}, {2, "two"}, {3, ""}, {4, "four"}, {5, ""}}
	for _, tt := range tests {
		if got := SourceLine(script, tt.line); got != tt.want {
			t.Errorf("SourceLine(%d) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestSplitGolden(t *testing.T) {
	goldenCase(t, "split", ".sql", func(t *testing.T, in []byte) string {
		checkUnits(t, string(in), Split(string(in)))
		return renderUnits(string(in))
	})
}

// renderUnits lists the units of script, each unit's text (without its
// padding) on lines starting with '│'.
func renderUnits(script string) string {
	var b strings.Builder
	units := Split(script)
	fmt.Fprintf(&b, "units: %d\n", len(units))
	for i, u := range units {
		fmt.Fprintf(&b, "--- unit %d: bytes %d..%d, line %d, column %d\n", i, u.Start, u.End, u.Line, u.Column)
		for line := range strings.SplitSeq(script[u.Start:u.End], "\n") {
			b.WriteString("│" + line + "\n")
		}
	}
	return b.String()
}

// checkUnits asserts the splitter's invariants: at least one unit; spans in
// order, without overlap, starting at 0; what lies between and after them is
// blank once masked; each unit's SQL is its padding and its span; the
// padding puts the span at the line and column it has in the script; and
// PositionInUnit agrees with a direct count in the script.
func checkUnits(t *testing.T, script string, units []Unit) {
	t.Helper()
	if len(units) == 0 || units[0].Start != 0 {
		t.Fatalf("units must start at byte 0: %+v", units)
	}
	mask, ok := Mask(script)
	if !ok {
		mask = script
	}
	prev := 0
	for i, u := range units {
		if u.Start < prev || u.End < u.Start || u.End > len(script) {
			t.Fatalf("unit %d span %d..%d out of order (previous end %d, len %d)", i, u.Start, u.End, prev, len(script))
		}
		if ok && !isBlankMask(mask[prev:u.Start]) {
			t.Fatalf("non-blank text %q dropped before unit %d", script[prev:u.Start], i)
		}
		checkPadding(t, script, u)
		prev = u.End
	}
	if ok && !isBlankMask(mask[prev:]) {
		t.Fatalf("non-blank text %q dropped at the end", script[prev:])
	}
	if !ok && (len(units) != 1 || units[0].End != len(script)) {
		t.Fatalf("invalid UTF-8 must be one unit: %+v", units)
	}
}

// checkPadding checks a unit's padding (none is allowed too: see
// maxPadding) and that PositionInUnit maps the unit's first, middle and
// last characters to their place in the script.
func checkPadding(t *testing.T, script string, u Unit) {
	t.Helper()
	line, col := naivePosition(script, u.Start)
	pad := strings.Repeat("\n", line-1) + strings.Repeat(" ", col-1)
	text := script[u.Start:u.End]
	if u.Line != line || u.Column != col || u.SQL != pad+text && u.SQL != text {
		t.Fatalf("unit %d..%d: at %d:%d with SQL %q; want %d:%d with padding %q", u.Start, u.End, u.Line, u.Column, u.SQL, line, col, pad)
	}
	if !utf8.ValidString(u.SQL) {
		return // PostgreSQL never sees invalid UTF-8
	}
	padChars := len(u.SQL) - len(text)
	chars := padChars + utf8.RuneCountInString(text)
	for _, p := range []int{padChars + 1, (padChars + chars + 1) / 2, chars} {
		if p <= padChars || p > chars {
			continue
		}
		off := u.Start + len(string([]rune(text)[:p-1-padChars]))
		wl, wc := naivePosition(script, off)
		if gl, gc := PositionInUnit(u, p); gl != wl || gc != wc {
			t.Fatalf("position %d of unit %d..%d maps to %d:%d, want %d:%d", p, u.Start, u.End, gl, gc, wl, wc)
		}
	}
}

// naivePosition is the 1-based line and character column of script[off].
func naivePosition(script string, off int) (line, col int) {
	before := script[:off]
	line = 1 + strings.Count(before, "\n")
	return line, 1 + utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:])
}

// FuzzSplit checks checkUnits' invariants on arbitrary input; Split must
// never panic.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"", "COMMIT;", "BEGIN;\nSELECT 1;\nCOMMIT;\nSELECT 2;\n-- end\n",
		"COMMIT; CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; END; SELECT 1;",
		"COMMIT;\nCREATE RULE r AS ON INSERT TO t DO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));",
		"COMMIT AND CHAIN; SELECT 'Ä€'; ROLLBACK TO s; COMMIT PREPARED 'x';",
		"COMMIT;\r\nSELECT E'\\';'; SELECT $t$;$t$; /* a /* b */ ; */ SELECT 2",
		"COMMIT;\n;\n;", "COMMIT;\nSELECT 1);\nSELECT 2;", "COMMIT;\xff;SELECT 1;", "END\n",
	} {
		f.Add(s)
	}
	for _, s := range goldenInputs(f, "split", ".sql") {
		f.Add(string(s))
	}
	f.Fuzz(func(t *testing.T, script string) {
		units := Split(script)
		checkUnits(t, script, units)
		unpadded := splitWithin(script, 0)
		checkUnits(t, script, unpadded)
		if len(units) != len(unpadded) {
			t.Fatalf("the padding budget changed the units: %d vs %d", len(units), len(unpadded))
		}
		for i := range units {
			if units[i].Start != unpadded[i].Start || units[i].End != unpadded[i].End {
				t.Fatalf("the padding budget changed unit %d", i)
			}
		}
	})
}
