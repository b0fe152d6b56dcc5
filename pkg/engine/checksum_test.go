package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// The test vectors of ENGINE-REFERENCE §4, verified against the real pgmi.
func TestChecksumVectors(t *testing.T) {
	const bom = "\xEF\xBB\xBF"
	tests := []struct {
		name, file, normalized, pgmiChecksum, rawChecksum string
	}{
		{name: "simple", file: "SELECT 1;\n", normalized: "select 1;",
			pgmiChecksum: "354b7196c9ba5fb4b21cf615bb6ec4cd5c07503c34229feef033fc081a8c03f4",
			rawChecksum:  "b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd"},
		{name: "literal whitespace, quoted identifier, line comment",
			file:         "SELECT  'Hello   World' AS \"Col\" -- trailing comment\nFROM t;\n",
			normalized:   `select 'Hello World' as "Col" from t;`,
			pgmiChecksum: "dfc4eed64a194e99b7352a755be8a2bea671803cedea1bf7587151dba5a3d91c"},
		{name: "block comment between letters", file: "a/*x*/b", normalized: "a b",
			pgmiChecksum: "c8687a08aa5d6ed2044328fa6a697ab8e96dc34291e8c2034ae8c38e6fcc6d65"},
		{name: "nested comment, escape string, dollar tag",
			file:         `/* outer /* nested */ still */SELECT E'It\'s -- not a comment' , $Tag$ BODY -- kept $Tag$;`,
			normalized:   `select e'It\'s -- not a comment' , $Tag$ BODY -- kept $Tag$;`,
			pgmiChecksum: "6d18148505c7f198f743796acbf8c70c3a4375055c204d2cb8282daf734681a2"},
		{name: "tabs and CRLF", file: "SELECT\t1;\r\n-- c\r\nSELECT 2;\r\n", normalized: "select 1; select 2;",
			pgmiChecksum: "71aa4895ff332c26b93624f4959ff3281133ef64eacaea16d851f39ac74cf8e6"},
		{name: "BOM", file: bom + "SELECT 1;\n", normalized: "select 1;",
			pgmiChecksum: "354b7196c9ba5fb4b21cf615bb6ec4cd5c07503c34229feef033fc081a8c03f4",
			rawChecksum:  "b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd"},
		{name: "text file", file: "Hello World\n", normalized: "hello world",
			pgmiChecksum: "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"},
		{name: "non-ASCII not folded, NBSP is whitespace", file: "SELECT 'Ä'  AS Ü;\u00a0\n", normalized: "select 'Ä' as Ü;",
			pgmiChecksum: "368c0b1e050d82a05051403443f59e83d7c43202e565ce5fb3e0e3d6e343debf"},
		{name: "parameter is not a dollar tag", file: "SELECT $1, $$a  b$$;", normalized: "select $1, $$a b$$;",
			pgmiChecksum: "2d2ffbe6318606123f7a6fcb5b7e6880782ac2c99527ff05e7934daf5868c396"},
		{name: "only a block comment", file: "/* nothing */", normalized: "",
			pgmiChecksum: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := StripBOM([]byte(tt.file))
			if got := string(Normalize(content)); got != tt.normalized {
				t.Errorf("Normalize = %q, want %q", got, tt.normalized)
			}
			raw, norm := Checksums(content)
			if norm != tt.pgmiChecksum {
				t.Errorf("normalized checksum = %s, want %s", norm, tt.pgmiChecksum)
			}
			if tt.rawChecksum != "" && raw != tt.rawChecksum {
				t.Errorf("raw checksum = %s, want %s", raw, tt.rawChecksum)
			}
			if want := sha256Hex(content); raw != want {
				t.Errorf("raw checksum = %s, want sha256 of the stripped bytes %s", raw, want)
			}
		})
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestStripBOM(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"\xEF\xBB", "\xEF\xBB"},
		{"\xEF\xBB\xBF", ""},
		{"\xEF\xBB\xBFx", "x"},
		{"\xEF\xBB\xBF\xEF\xBB\xBFx", "\xEF\xBB\xBFx"}, // only one
		{"x\xEF\xBB\xBF", "x\xEF\xBB\xBF"},
	}
	for _, tt := range tests {
		if got := string(StripBOM([]byte(tt.in))); got != tt.want {
			t.Errorf("StripBOM(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeRules(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"whitespace only", " \t\r\n\v\f", ""},
		{"unicode whitespace inside literal", "'a\u2003\u0085b'", "'a b'"},
		{"line comment lone CR is skipped", "a --x\ry\nb", "a b"},
		{"comment joins nothing", "-/**/-", "- -"},
		{"quoted identifier keeps case", `SELECT "MyCol" FROM T`, `select "MyCol" from t`},
		{"doubled quote in identifier", `"A""B" C`, `"A""B" c`},
		{"dollar body keeps case and comments", "$F$ SELECT /*x*/ 1 $F$ X", "$F$ SELECT /*x*/ 1 $F$ x"},
		{"different tag does not close", "$a$ $b$ X $a$ Y", "$a$ $b$ X $a$ y"},
		{"standard string: backslash does not escape", `'a\' B 'c'`, `'a\' b 'c'`},
		{"escape string: backslash escapes", `E'a\' B ' C`, `e'a\' B ' c`},
		{"identifier E is not an escape prefix", `typE'\' X '`, `type'\' x '`},
		{"unterminated string runs to end", "X 'A  B", "x 'A B"},
		{"unterminated comment runs to end", "X /* A", "x"},
		{"unterminated dollar runs to end", "X $q$ A  B", "x $q$ A B"},
		{"nested comment", "a /* 1 /* 2 */ 3 */ b", "a b"},
		{"comment inside string is text", "'--x' Y", "'--x' y"},
		{"invalid UTF-8 kept", "A\xffB \xc3", "a\xffb \xc3"},
		{"non-ASCII letters not folded", "ÄBC ÉX", "Äbc Éx"},
		{"unicode tag not a tag for checksums", "$ä$ X $ä$", "$ä$ x $ä$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Normalize([]byte(tt.in))); got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if _, norm := Checksums([]byte(tt.in)); norm != sha256Hex([]byte(tt.want)) {
				t.Errorf("Checksums disagrees with Normalize for %q", tt.in)
			}
		})
	}
}

// TestChecksumsLargeInput crosses the streaming buffer many times and checks
// that the streamed hash equals the hash of the materialized text.
func TestChecksumsLargeInput(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 3<<20; i++ {
		fmt.Fprintf(&b, "INSERT INTO T VALUES (%d, 'Ä  %d');  -- row %d\r\n/* x */ $B$ body\t%d $B$;\n", i, i, i, i)
	}
	// One span far longer than the stream buffer, with multi-byte characters
	// and whitespace runs across every piece boundary.
	b.WriteString("SELECT '" + strings.Repeat("Ä\u00a0 x", 40000) + "' AS " + strings.Repeat("ÖCol ", 30000) + ";")
	content := []byte(b.String())
	_, norm := Checksums(content)
	if want := sha256Hex(Normalize(content)); norm != want {
		t.Fatalf("streamed checksum %s != checksum of Normalize %s", norm, want)
	}
}

func TestNormalizeGolden(t *testing.T) {
	goldenCase(t, "normalize", ".txt", func(t *testing.T, in []byte) string {
		content := StripBOM(in)
		raw, norm := Checksums(content)
		return fmt.Sprintf("normalized: %s\nchecksum: %s\npgmi_checksum: %s\n", quoteLines(string(Normalize(content))), raw, norm)
	})
}

// BenchmarkChecksums measures Checksums on 10 MiB of SQL (two corpora) and
// on one 10 KB file against one plain SHA-256 of the same bytes timed in the
// same iterations (interleaved, so that a busy machine slows both alike):
// x-sha256 = time(Checksums) / time(sha256.Sum256), cpu-x-sha256 the same
// in process CPU time, cpu-MB/s the throughput per CPU second (all
// goroutines), best-MB/s the fastest single iteration — the last two are
// the figures least disturbed by other load on the machine. impl=reference
// runs the implementation Checksums replaced, for a before/after in one run.
func BenchmarkChecksums(b *testing.B) {
	corpora := []struct{ name, line string }{
		{"ddl", "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL); -- comment\n/* block */ INSERT INTO t VALUES (1, 'x');\n"},
		{"rows", "INSERT INTO t42 (id, note) VALUES (123456, 'row\t1f2e3d4c5b6a7988');\n-- comment 42\n"},
	}
	impls := []struct {
		name string
		fn   func([]byte) (string, string)
	}{{"new", Checksums}, {"reference", referenceChecksums}}
	for _, corpus := range corpora {
		b.Run("corpus="+corpus.name, func(b *testing.B) { benchChecksums(b, corpus.line, 10<<20, impls) })
	}
	// One file of the size the project benchmarks use (run ~100 times an iteration).
	b.Run("corpus=file10k", func(b *testing.B) { benchChecksums(b, corpora[1].line, 10_000, impls) })
}

func benchChecksums(b *testing.B, line string, size int, impls []struct {
	name string
	fn   func([]byte) (string, string)
}) {
	var sb strings.Builder
	for sb.Len() < size {
		sb.WriteString(line)
	}
	content := []byte(sb.String())
	// Small inputs are run reps times per iteration, so that the timer
	// stops and starts around the baseline cost nothing in comparison.
	reps := max(1, (1<<20)/len(content))
	for _, impl := range impls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			var ours, base, oursCPU, baseCPU time.Duration
			best := time.Duration(math.MaxInt64)
			b.SetBytes(int64(reps * len(content)))
			b.ReportAllocs()
			for b.Loop() {
				cpu0, start := processCPU(), time.Now()
				for range reps {
					impl.fn(content)
				}
				d := time.Since(start)
				oursCPU += processCPU() - cpu0
				ours += d
				best = min(best, d)
				b.StopTimer()
				cpu0, start = processCPU(), time.Now()
				for range reps {
					sha256.Sum256(content)
				}
				base += time.Since(start)
				baseCPU += processCPU() - cpu0
				b.StartTimer()
			}
			b.ReportMetric(float64(ours)/float64(base), "x-sha256")
			b.ReportMetric(float64(reps*len(content))/best.Seconds()/1e6, "best-MB/s")
			if oursCPU > 0 && baseCPU > 0 {
				b.ReportMetric(float64(oursCPU)/float64(baseCPU), "cpu-x-sha256")
				b.ReportMetric(float64(reps*len(content))*float64(b.N)/oursCPU.Seconds()/1e6, "cpu-MB/s")
			}
		})
	}
}

// processCPU is the CPU time the whole process has used, all goroutines
// included (0 where the platform does not tell): the benchmark's measure
// that other load on the machine does not inflate.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if runtime.GOOS != "linux" || syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// FuzzNormalize: never panics; the result is collapsed (no leading, trailing
// or doubled whitespace, no whitespace but ASCII space); Checksums agrees with
// Normalize; and Normalize is idempotent on inputs without backslashes.
//
// Why only without backslashes: normalization can change the byte before an
// E (a U+0085 or tab becomes a space, leading whitespace is trimmed), which
// can turn a standard string into an escape string on the second pass. The
// two readings differ only in what a backslash does, so with no backslash
// the second pass sees exactly the regions of the first, with the same text.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"SELECT 1;\n", "a/*x*/b", `/* a /* b */ c */SELECT E'It\'s -- no' , $T$ x -- $T$;`,
		"SELECT\t1;\r\n-- c\r\n", "SELECT 'Ä'  AS Ü;\u00a0\n", "SELECT $1, $$a  b$$;", "\u0085E'\\' x'--y'",
		"'unterminated", "/* unterminated", "$q$ unterminated", `"A""B"`, "\xff\xfe", "-/**/-",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := Normalize(in)
		checkCollapsed(t, out)
		if _, norm := Checksums(in); norm != sha256Hex(out) {
			t.Fatalf("Checksums and Normalize disagree for %q", in)
		}
		if !bytes.ContainsRune(in, '\\') {
			if again := Normalize(out); !bytes.Equal(again, out) {
				t.Fatalf("not idempotent:\n in    %q\n once  %q\n twice %q", in, out, again)
			}
		}
	})
}

func checkCollapsed(t *testing.T, out []byte) {
	t.Helper()
	prevSpace := true // also rejects a leading space
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRune(out[i:])
		space := n > 1 && unicode.IsSpace(r) || n == 1 && isASCIISpace(out[i])
		switch {
		case space && (r != ' ' || prevSpace):
			t.Fatalf("whitespace %q at %d not collapsed in %q", r, i, out)
		}
		prevSpace = space
		i += n
	}
	if prevSpace && len(out) > 0 {
		t.Fatalf("trailing space in %q", out)
	}
}

// The implementation Checksums and Normalize replaced, kept verbatim (renamed)
// as the reference FuzzChecksums compares them with: one span at a time from
// lexSpans, each fed to a whitespace collapser.

func referenceNormalize(content []byte) []byte {
	c := refCollapser{buf: make([]byte, 0, len(content))}
	referenceNormalizeInto(content, &c)
	return c.buf
}

func referenceChecksums(content []byte) (raw, normalized string) {
	sum := sha256.Sum256(content)
	h := sha256.New()
	c := refCollapser{w: h, buf: make([]byte, 0, 32<<10)}
	referenceNormalizeInto(content, &c)
	c.flush()
	return hex.EncodeToString(sum[:]), hex.EncodeToString(h.Sum(nil))
}

func referenceNormalizeInto(content []byte, c *refCollapser) {
	for sp := range lexSpans(content, asciiTags) {
		switch sp.kind {
		case spanCode:
			c.text(content[sp.start:sp.end], true)
		case spanLineComment, spanBlockComment:
			c.gap = true
		default:
			c.text(content[sp.start:sp.end], false)
		}
	}
}

type refCollapser struct {
	w       io.Writer
	buf     []byte
	started bool
	gap     bool
}

func (c *refCollapser) text(p []byte, fold bool) {
	if c.w == nil {
		c.textInto(p, fold)
		return
	}
	piece := cap(c.buf)/2 - utf8.UTFMax
	for len(p) > 0 {
		n := min(len(p), piece)
		for n < len(p) && !utf8.RuneStart(p[n]) {
			n++
		}
		if len(c.buf)+n+1 > cap(c.buf) {
			c.flush()
		}
		c.textInto(p[:n], fold)
		p = p[n:]
	}
}

func (c *refCollapser) textInto(p []byte, fold bool) {
	buf := c.buf
	for i := 0; i < len(p); {
		b := p[i]
		if b < utf8.RuneSelf {
			i++
			if isASCIISpace(b) {
				c.gap = true
				continue
			}
			if c.gap && c.started {
				buf = append(buf, ' ')
			}
			c.gap, c.started = false, true
			if fold && b >= 'A' && b <= 'Z' {
				b += 'a' - 'A'
			}
			buf = append(buf, b)
			continue
		}
		r, n := utf8.DecodeRune(p[i:])
		if n > 1 && unicode.IsSpace(r) {
			c.gap = true
			i += n
			continue
		}
		if c.gap && c.started {
			buf = append(buf, ' ')
		}
		c.gap, c.started = false, true
		buf = append(buf, p[i:i+n]...)
		i += n
	}
	c.buf = buf
}

func (c *refCollapser) flush() {
	if c.w != nil && len(c.buf) > 0 {
		_, _ = c.w.Write(c.buf)
		c.buf = c.buf[:0]
	}
}

// FuzzChecksums compares Checksums and Normalize with the implementation
// they replaced (referenceChecksums, above), byte for byte.
func FuzzChecksums(f *testing.F) {
	for _, s := range []string{
		"", " ", "SELECT 1;\n", "a/*x*/b", "-/**/-", "--", "/*", "/*/", "/**/", "*/", "'", `"`, "$", "$$", "$a", "$a$", "$1$",
		`/* a /* b */ c */SELECT E'It\'s -- no' , $T$ x -- $T$;`, "/* a /* b */ still open",
		"E'\\'' e'\\\\' typE'\\' x' E'unterminated\\", "\u0085E'\\' x'--y'", "x$a$b$a$ $_x1$ y $_x1$ $1$",
		"$fn$ BEGIN /* x */ RETURN 1; END $fn$ LANGUAGE plpgsql", "$a$ $b$ X $a$ Y", "$ä$ X $ä$",
		"SELECT\t1;\r\n-- c\r\nSELECT 2;\r\n", "a --x\ry\nb", "SELECT 'Ä'  AS Ü;\u00a0\n", "'a\u2003\u0085b'",
		"\u3000 x \u2028\u2029\u00a0\u1680 y \u202f", "'\u00a0' \"\u00a0 A\" $$\u00a0$$",
		"SELECT $1, $$a  b$$;", "'unterminated", "/* unterminated", "$q$ unterminated  ", "\"unterminated  ",
		`"A""B" 'c''d'`, "\xff\xfe", "A\xffB \xc3", "\xe2\x80", "\xe2\x80 \xe2\x80\x83x", "x\x00Y", "\t\v\f",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkSameAsReference(t, in)
	})
}

func checkSameAsReference(t *testing.T, in []byte) {
	t.Helper()
	if got, want := Normalize(in), referenceNormalize(in); !bytes.Equal(got, want) {
		t.Fatalf("Normalize(%q)\n got  %q\n want %q", in, got, want)
	}
	raw, norm := Checksums(in)
	wantRaw, wantNorm := referenceChecksums(in)
	if raw != wantRaw || norm != wantNorm {
		t.Fatalf("Checksums(%q) = %s %s, want %s %s", in, raw, norm, wantRaw, wantNorm)
	}
}

// TestChecksumsSameAsReferenceLarge runs the differential check on inputs
// longer than the stream buffer, built from random SQL-ish pieces, so that
// buffer boundaries fall everywhere.
func TestChecksumsSameAsReferenceLarge(t *testing.T) {
	pieces := []string{
		"SELECT ", "a", "Z", " ", "  ", "\t", "\r\n", "\n", "-- c\n", "--", "-", "/", "/* x /* y */ */", "/*", "*/",
		"'", "''", "E'", "\\", "\\'", `"`, `""`, "$$", "$t$", "$1", "$", "Ä", "\u00a0", "\u2003", "\u0085", "\xff", "\xe2\x80",
		";", "(", ")", strings.Repeat("x", 5000), strings.Repeat(" ", 3000), strings.Repeat("\u00a0", 2000),
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for range 300 {
		var sb strings.Builder
		size := rng.IntN(200_000)
		for sb.Len() < size {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		checkSameAsReference(t, []byte(sb.String()))
	}
}
