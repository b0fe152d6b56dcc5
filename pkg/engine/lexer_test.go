package engine

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// updateGolden rewrites the golden files under testdata/lexer instead of
// comparing against them: go test ./pkg/engine/ -run 'Golden' -update
var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/lexer")

var spanNames = map[spanKind]string{
	spanCode: "code", spanLineComment: "line", spanBlockComment: "block",
	spanString: "str", spanQuotedIdent: "ident", spanDollar: "dollar",
}

// renderSpans shows each region as kind«text», with "e" after str for
// escape strings.
func renderSpans[T sqlText](src T, rule tagRule) string {
	var parts []string
	for sp := range lexSpans(src, rule) {
		name := spanNames[sp.kind]
		if sp.escape {
			name += "e"
		}
		parts = append(parts, name+"«"+string(src[sp.start:sp.end])+"»")
	}
	return strings.Join(parts, " ")
}

func TestLexerSpans(t *testing.T) {
	tests := []struct {
		name, in string
		rule     tagRule
		want     string
	}{
		{"empty", "", asciiTags, ""},
		{"code only", "SELECT 1;", asciiTags, "code«SELECT 1;»"},
		{"line comment keeps newline out", "a -- c\nb", asciiTags, "code«a » line«-- c» code«\nb»"},
		{"line comment crlf", "a --c\r\nb", asciiTags, "code«a » line«--c\r» code«\nb»"},
		{"line comment at eof", "a --c", asciiTags, "code«a » line«--c»"},
		{"block comment", "a/*x*/b", asciiTags, "code«a» block«/*x*/» code«b»"},
		{"nested block comment", "/* a /* b */ c */x", asciiTags, "block«/* a /* b */ c */» code«x»"},
		{"unterminated block comment", "x /* a /* b */", asciiTags, "code«x » block«/* a /* b */»"},
		{"slash star slash", "/*/ x */y", asciiTags, "block«/*/ x */» code«y»"},
		{"string with doubled quote", "'it''s' x", asciiTags, "str«'it''s'» code« x»"},
		{"standard string backslash closes", `'a\' x`, asciiTags, `str«'a\'» code« x»`},
		{"E string escaped quote", `E'\'' x`, asciiTags, `code«E» stre«'\''» code« x»`},
		{"e string lower case", `e'a\'b' x`, asciiTags, `code«e» stre«'a\'b'» code« x»`},
		{"E after identifier byte", `xE'\' x`, asciiTags, `code«xE» str«'\'» code« x»`},
		{"E after digit", `1E'\' x`, asciiTags, `code«1E» str«'\'» code« x»`},
		{"E after dollar", `$E'\' x`, asciiTags, `code«$E» str«'\'» code« x»`},
		{"E after non-ASCII", `ÄE'\' x`, asciiTags, `code«ÄE» str«'\'» code« x»`},
		{"E after paren", `(E'\'')`, asciiTags, `code«(E» stre«'\''» code«)»`},
		{"E after comment", `/**/E'\''`, asciiTags, `block«/**/» code«E» stre«'\''»`},
		{"unterminated string", "'abc", asciiTags, "str«'abc»"},
		{"E string trailing backslash", `E'ab\`, asciiTags, `code«E» stre«'ab\»`},
		{"comment markers inside string", "'--x /* y' z", asciiTags, "str«'--x /* y'» code« z»"},
		{"quoted identifier", `"a""b;" x`, asciiTags, `ident«"a""b;"» code« x»`},
		{"dollar plain", "$$a;b$$ x", asciiTags, "dollar«$$a;b$$» code« x»"},
		{"dollar tag", "$Tag$ $$ $tag$ $Tag$;", asciiTags, "dollar«$Tag$ $$ $tag$ $Tag$» code«;»"},
		{"dollar parameter is not a tag", "$1, $2$", asciiTags, "code«$1, $2$»"},
		{"dollar underscore tag", "$_a1$x$_a1$", asciiTags, "dollar«$_a1$x$_a1$»"},
		{"dollar unterminated", "$a$ body", asciiTags, "dollar«$a$ body»"},
		{"dollar after identifier still opens", "x$a$y$a$", asciiTags, "code«x» dollar«$a$y$a$»"},
		{"unicode tag refused by ascii rule", "$ä$x$ä$", asciiTags, "code«$ä» dollar«$x$ä$»"},
		{"unicode tag accepted by unicode rule", "$ä$x$ä$", unicodeTags, "dollar«$ä$x$ä$»"},
		{"unicode digit continues a tag", "$a٣$x$a٣$", unicodeTags, "dollar«$a٣$x$a٣$»"},
		{"unicode digit cannot start a tag", "$٣$", unicodeTags, "code«$٣$»"},
		{"invalid byte ends a unicode tag", "$a\xff$", unicodeTags, "code«$a\xff$»"},
		{"minus alone", "a - b", asciiTags, "code«a - b»"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renderSpans(tt.in, tt.rule); got != tt.want {
				t.Errorf("spans of %q\n got %s\nwant %s", tt.in, got, tt.want)
			}
			if got := renderSpans([]byte(tt.in), tt.rule); got != tt.want {
				t.Errorf("[]byte spans of %q differ from string spans: %s", tt.in, got)
			}
		})
	}
}

func TestLexerSpansCoverInput(t *testing.T) {
	inputs := []string{"", "a", "'", "$", "$$", "/*", "--", `E'\`, "\"", "a/**/b--c\n'd'$$e$$\"f\""}
	for _, in := range inputs {
		for _, rule := range []tagRule{asciiTags, unicodeTags} {
			checkSpansCover(t, in, rule)
		}
	}
}

func checkSpansCover(t *testing.T, in string, rule tagRule) {
	t.Helper()
	pos := 0
	for sp := range lexSpans(in, rule) {
		if sp.start != pos || sp.end <= sp.start || sp.bodyStart < sp.start || sp.bodyEnd > sp.end || sp.bodyStart > sp.bodyEnd {
			t.Fatalf("%q: bad span %+v at %d", in, sp, pos)
		}
		pos = sp.end
	}
	if pos != len(in) {
		t.Fatalf("%q: spans end at %d of %d", in, pos, len(in))
	}
}

// goldenCase runs render over every input file with extension ext in
// testdata/lexer/<dir> and compares the result with the file's .golden twin.
func goldenCase(t *testing.T, dir, ext string, render func(t *testing.T, input []byte) string) {
	t.Helper()
	inputs, err := filepath.Glob(filepath.Join("testdata", "lexer", dir, "*"+ext))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs in testdata/lexer/%s (%v)", dir, err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ext)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := render(t, data)
			golden := strings.TrimSuffix(in, ext) + ".golden"
			if *updateGolden {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", in, got, want)
			}
		})
	}
}

// goldenInputs returns the input files of a golden directory, for fuzz seeds.
func goldenInputs(f *testing.F, dir, ext string) [][]byte {
	f.Helper()
	paths, _ := filepath.Glob(filepath.Join("testdata", "lexer", dir, "*"+ext))
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

func TestLexerGolden(t *testing.T) {
	goldenCase(t, "spans", ".sql", func(t *testing.T, in []byte) string {
		var b strings.Builder
		for _, rule := range []tagRule{asciiTags, unicodeTags} {
			b.WriteString([]string{"== ascii tags (checksums)\n", "== unicode tags (mask, metadata)\n"}[rule])
			for sp := range lexSpans(in, rule) {
				name := spanNames[sp.kind]
				if sp.escape {
					name += "e"
				}
				b.WriteString(name + " " + quoteLines(string(in[sp.start:sp.end])) + "\n")
			}
		}
		return b.String()
	})
}

// quoteLines renders text on one line with visible control characters.
func quoteLines(s string) string {
	r := strings.NewReplacer("\\", `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return "«" + r.Replace(s) + "»"
}
