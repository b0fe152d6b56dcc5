package engine

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

func TestMask(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"code kept", "SELECT 1;", "SELECT 1;"},
		{"line comment", "a -- x\nb", "a     \nb"},
		{"block comment keeps newlines", "a/* x\ny */b", "a    \n    b"},
		{"nested block comment", "/* a /* b */ c */x", "                 x"},
		{"string contents", "'abc' x", "'   ' x"},
		{"doubled quote kept", "'it''s'", "'  '' '"},
		{"escape string pairs blanked", `E'\'a\\' x`, "E'     ' x"},
		{"standard string backslash", `'a\' x`, "'  ' x"},
		{"quoted identifier", `"a;b" x`, `"   " x`},
		{"dollar body, tags kept", "$fn$ ; $fn$;", "$fn$   $fn$;"},
		{"unicode dollar tag", "$äö$ ; $äö$;", "$äö$   $äö$;"},
		{"multi-byte content blanked byte by byte", "'Ä€' x", "'     ' x"},
		{"unterminated string", "x 'abc\ndef", "x '   \n   "},
		{"newline in string kept", "'a\nb'", "' \n '"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Mask(tt.in)
			if !ok || got != tt.want {
				t.Errorf("Mask(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
			}
		})
	}
	if got, ok := Mask("SELECT '\xff';"); ok || got != "" {
		t.Errorf("invalid UTF-8: got %q, %v; want \"\", false", got, ok)
	}
}

func TestFindTestMacros(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []Macro
	}{
		{"bare", "CALL pgmi_test();", []Macro{{Start: 0, End: 17}}},
		{"no semicolon at end", "CALL pgmi_test()", []Macro{{Start: 0, End: 16}}},
		{"pattern", "CALL pgmi_test('.*/users/.*');", []Macro{{End: 30, Pattern: ".*/users/.*"}}},
		{"pattern and callback", "CALL pgmi_test('x', 'public.my_cb');", []Macro{{End: 36, Pattern: "x", Callback: "public.my_cb"}}},
		{"NULL pattern and callback", "CALL pgmi_test(NULL, 'cb');", []Macro{{End: 27, Callback: "cb"}}},
		{"NULL pattern only", "CALL pgmi_test(null);", []Macro{{End: 21}}},
		{"empty strings are NULL", "CALL pgmi_test('', '');", []Macro{{End: 23}}},
		{"missing pattern before the comma (pgmi's pattern allows it)", "CALL pgmi_test(, 'cb');", []Macro{{End: 23, Callback: "cb"}}},
		{"case-insensitive with pg_temp", "call PG_TEMP.PGMI_TEST ( 'a' , 'b' ) ;", []Macro{{End: 38, Pattern: "a", Callback: "b"}}},
		{"spaces and newlines inside", "CALL\n  pgmi_test(\n  'a'\n);", []Macro{{End: 26, Pattern: "a"}}},
		{"comment between CALL and name", "CALL /* c */ pgmi_test();", []Macro{{End: 25}}},
		{"pattern keeps comment-looking text", "CALL pgmi_test('-- not a comment');", []Macro{{End: 35, Pattern: "-- not a comment"}}},
		{"whitespace after ) taken with the semicolon", "CALL pgmi_test()  ;\nSELECT 1;", []Macro{{End: 19}}},
		{"whitespace after ) taken without a semicolon", "CALL pgmi_test()\n\nSELECT 1;", []Macro{{End: 18}}},
		{"preceded by punctuation", "SELECT 1;CALL pgmi_test();", []Macro{{Start: 9, End: 26}}},
		{"two adjacent calls are both found", "CALL pgmi_test('a');CALL pgmi_test('b');",
			[]Macro{{End: 20, Pattern: "a"}, {Start: 20, End: 40, Pattern: "b"}}},
		{"after a comment on the same line", "/*x*/CALL pgmi_test();", []Macro{{Start: 5, End: 22}}},
		{"unicode pattern", "CALL pgmi_test('ä/€');", []Macro{{End: 25, Pattern: "ä/€"}}},
		{"preceded by a letter", "xCALL pgmi_test();", nil},
		{"preceded by a digit", "1CALL pgmi_test();", nil},
		{"preceded by underscore", "_CALL pgmi_test();", nil},
		{"inside a string", "SELECT 'CALL pgmi_test();';", nil},
		{"inside a line comment", "-- CALL pgmi_test();\nSELECT 1;", nil},
		{"inside a block comment", "/* CALL pgmi_test(); */", nil},
		{"inside a DO body", "DO $$ BEGIN CALL pgmi_test(); END $$;", nil},
		{"inside a tagged DO body", "DO $t$ BEGIN CALL pgmi_test(); END $t$;", nil},
		{"inside a quoted identifier", `SELECT 1 AS "CALL pgmi_test()";`, nil},
		{"NULL callback", "CALL pgmi_test(NULL, NULL);", nil},
		{"dollar-quoted argument", "CALL pgmi_test($$x$$);", nil},
		{"escape-string argument", "CALL pgmi_test(E'x');", nil},
		{"pattern containing a quote", "CALL pgmi_test('it''s');", nil},
		{"other procedure", "CALL pgmi_tests();", nil},
		{"no CALL", "pgmi_test();", nil},
		{"three arguments", "CALL pgmi_test('a', 'b', 'c');", nil},
		{"other schema", "CALL public.pgmi_test();", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FindTestMacros(tt.sql)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FindTestMacros(%q)\n got %+v\nwant %+v", tt.sql, got, tt.want)
			}
		})
	}
}

func TestFindTestMacrosInvalidUTF8(t *testing.T) {
	got, err := FindTestMacros("CALL pgmi_test(); SELECT '\xff';")
	if got != nil || err != nil {
		t.Fatalf("got %v, %v; want no macros", got, err)
	}
}

func TestFindTestMacrosCallbackValidation(t *testing.T) {
	long := strings.Repeat("a", 63)
	valid := []string{"cb", "_cb", "Cb1", "public.cb", "s_1.f_2", long, long + "." + long}
	invalid := []string{"1cb", "a-b", "a.b.c", ".cb", "cb.", "a..b", long + "a", "my cb", "cb()", "ä"}
	for _, cb := range valid {
		if _, err := FindTestMacros("CALL pgmi_test(NULL, '" + cb + "');"); err != nil {
			t.Errorf("%q rejected: %v", cb, err)
		}
	}
	for _, cb := range invalid {
		sql := "SELECT 1;\n\n  CALL pgmi_test(NULL, '" + cb + "');"
		_, err := FindTestMacros(sql)
		var e *fault.Error
		if !errors.As(err, &e) || e.Kind != fault.Execution || exitcode.Of(err) != 13 {
			t.Errorf("%q: want a fault.Execution error, got %v", cb, err)
			continue
		}
		want := fmt.Sprintf("invalid callback name %q in pgmi_test() at deploy.sql line 3: expected [schema.]function", cb)
		if err.Error() != want {
			t.Errorf("message\n got %s\nwant %s", err, want)
		}
	}
}

func TestExpandMacros(t *testing.T) {
	sql := "BEGIN;\nCALL pgmi_test('a');\nSELECT 1;\nCALL pgmi_test()\nCOMMIT;\n"
	macros, err := FindTestMacros(sql)
	if err != nil || len(macros) != 2 {
		t.Fatalf("macros %+v, %v", macros, err)
	}
	got := ExpandMacros(sql, macros, []string{"SELECT 'one';\nSELECT 'two';", "SELECT 'three';"})
	want := "BEGIN;\nSELECT 'one';\nSELECT 'two';\nSELECT 1;\nSELECT 'three';COMMIT;\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := ExpandMacros(sql, nil, nil); got != sql {
		t.Errorf("no macros changed the text: %q", got)
	}
}

// TestMacroExpansionPositions checks that after expansion the splitter's
// padding maps an error position back to the expanded script.
func TestMacroExpansionPositions(t *testing.T) {
	sql := "BEGIN;\nCALL pgmi_test();\nCOMMIT;\nSELECT 1;\n  SELECT bad;\n"
	macros, _ := FindTestMacros(sql)
	expanded := ExpandMacros(sql, macros, []string{"SAVEPOINT s;\nSELECT 'Ä';\nROLLBACK TO SAVEPOINT s;"})
	units := Split(expanded)
	if len(units) != 3 {
		t.Fatalf("want head + 2 tail units, got %d: %+v", len(units), units)
	}
	last := units[2]
	pos := utf8.RuneCountInString(last.SQL[:strings.Index(last.SQL, "bad")]) + 1
	line, col := PositionInUnit(last, pos)
	if line != 7 || col != 10 || !strings.HasPrefix(SourceLine(expanded, line)[col-1:], "bad") {
		t.Errorf("bad maps to %d:%d (%q), want 7:10", line, col, SourceLine(expanded, line))
	}
}

func TestMaskGolden(t *testing.T) {
	goldenCase(t, "mask", ".sql", func(t *testing.T, in []byte) string {
		mask, ok := Mask(string(in))
		if !ok {
			return "not valid UTF-8: no mask\n"
		}
		return renderMask(string(in), mask)
	})
}

// renderMask shows the mask with every blanked byte as '·', so blanked
// spaces and original spaces can be told apart.
func renderMask(src, mask string) string {
	var b strings.Builder
	for i := 0; i < len(src); i++ {
		if mask[i] != src[i] {
			b.WriteString("·")
		} else {
			b.WriteByte(src[i])
		}
	}
	return b.String()
}

func TestMacroGolden(t *testing.T) {
	goldenCase(t, "macro", ".sql", func(t *testing.T, in []byte) string {
		sql := string(in)
		macros, err := FindTestMacros(sql)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		var b strings.Builder
		expansions := make([]string, len(macros))
		fmt.Fprintf(&b, "macros: %d\n", len(macros))
		for i, m := range macros {
			fmt.Fprintf(&b, "- bytes %d..%d line %d: pattern=%q callback=%q text=%s\n", m.Start, m.End,
				1+strings.Count(sql[:m.Start], "\n"), m.Pattern, m.Callback, quoteLines(sql[m.Start:m.End]))
			expansions[i] = fmt.Sprintf("SAVEPOINT __pgmi_d%d__;\nSELECT 'expansion %d';\nRELEASE SAVEPOINT __pgmi_d%d__;", i, i, i)
		}
		expanded := ExpandMacros(sql, macros, expansions)
		b.WriteString("== expanded\n" + expanded)
		b.WriteString("\n== units\n" + renderUnits(expanded))
		return b.String()
	})
}

// FuzzMask: for valid UTF-8 the mask has the same length, keeps every
// newline and only blanks bytes; invalid UTF-8 is refused.
func FuzzMask(f *testing.F) {
	for _, s := range []string{
		"SELECT 'a''b', E'\\'', $t$ x $t$, \"q\"\"\" -- c\n/* a /* b */ */;",
		"$ä$ body $ä$", "E'\\", "'\n'", "/*", "\xff", "CALL pgmi_test('x');",
	} {
		f.Add(s)
	}
	for _, s := range goldenInputs(f, "mask", ".sql") {
		f.Add(string(s))
	}
	f.Fuzz(func(t *testing.T, sql string) {
		mask, ok := Mask(sql)
		if !utf8.ValidString(sql) {
			if ok {
				t.Fatal("invalid UTF-8 accepted")
			}
			return
		}
		if !ok || len(mask) != len(sql) {
			t.Fatalf("length %d -> %d (ok %v)", len(sql), len(mask), ok)
		}
		for i := 0; i < len(sql); i++ {
			if (sql[i] == '\n') != (mask[i] == '\n') || mask[i] != sql[i] && mask[i] != ' ' {
				t.Fatalf("byte %d: %q masked as %q", i, sql[i], mask[i])
			}
		}
		if again, _ := Mask(mask); len(again) != len(mask) {
			t.Fatal("masking the mask changed its length")
		}
		if _, err := FindTestMacros(sql); err != nil && fault.KindOf(err) != fault.Execution {
			t.Fatalf("FindTestMacros: %v", err)
		}
	})
}
