package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// withoutPath drops the file name from a *fs.PathError, for errors about a
// temporary file whose name means nothing to the user; the caller names the
// file the user asked for.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// quoteName returns a file or object name as it is when every character
// prints as itself, else Go-quoted (strconv.Quote): a name holding a
// newline, an escape sequence or a bidi control can neither forge output
// lines nor drive the terminal, and its ends stay visible.
func quoteName(name string) string {
	plain := utf8.ValidString(name) && !strings.HasPrefix(name, `"`) &&
		!strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) })
	if plain {
		return name
	}
	return strconv.Quote(name)
}

// escapeLine escapes what would break one line of output: control and
// format characters, line separators and invalid UTF-8, as in Go strings.
// Lines without them are returned as they are.
func escapeLine(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, breaksLine) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case breaksLine(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func breaksLine(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// output writes human text to stderr (progress, notices, summary, error)
// and, with --json, the envelope to stdout.
type output struct {
	s       streams
	json    bool
	verbose bool
	start   time.Time
	mu      sync.Mutex // notices arrive on the connection's goroutine
	// log prints the records of the engine, the connection's resolution
	// and its lifecycle as output lines (lineHandler): progress as it is,
	// warnings after "warning: ", and with --verbose the DEBUG records
	// after "[VERBOSE] ".
	log *slog.Logger
}

func newOutput(s streams, json, verbose bool, start time.Time) *output {
	o := &output{s: s, json: json, verbose: verbose, start: start}
	min := slog.LevelInfo
	if verbose {
		min = slog.LevelDebug
	}
	o.log = newLineLogger(min, "[VERBOSE] ", o.write)
	return o
}

func (o *output) write(text string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range strings.Split(text, "\n") {
		if o.verbose {
			fmt.Fprintf(o.s.err, "[%.2fs] %s\n", time.Since(o.start).Seconds(), l)
		} else {
			fmt.Fprintln(o.s.err, l)
		}
	}
}

func (o *output) line(msg string) { o.write(msg) }

func (o *output) notice(n *pgconn.Notice) { o.write(engine.FormatNotice(n)) }

func (o *output) report(res *engine.Result, err error) {
	if o.json {
		env := engine.NewEnvelope(res, err)
		data, _ := json.MarshalIndent(env, "", "  ")
		fmt.Fprintln(o.s.out, string(data))
	} else if res != nil && res.Database != "" {
		o.summary(res, err)
	}
	if err != nil {
		o.errorLines(res, err)
	}
}

func (o *output) summary(res *engine.Result, err error) {
	ok, failed := "✓", "✗"
	if _, set := o.s.env("NO_COLOR"); set {
		ok, failed = "ok", "FAILED"
	}
	secs := res.Duration.Seconds()
	if err == nil {
		line := fmt.Sprintf("%s %s: %d files loaded", ok, res.Database, res.FilesLoaded)
		if res.TestMacros > 0 {
			line += fmt.Sprintf(", %d test macro(s) expanded", res.TestMacros)
		}
		fmt.Fprintf(o.s.err, "%s in %.2fs\n", line, secs)
		return
	}
	line := fmt.Sprintf("%s %s: failed after %.2fs", failed, res.Database, secs)
	if res.ExecutionMode == "psql" {
		line += fmt.Sprintf(" (unit %d of %d failed; %d earlier unit(s) already committed)",
			res.UnitsCommitted+1, res.ExecutionUnits, res.UnitsCommitted)
	}
	fmt.Fprintln(o.s.err, line)
}

func (o *output) errorLines(res *engine.Result, err error) {
	w := o.s.err
	fmt.Fprintf(w, "pgmi: error: %s\n", fault.Redact(err.Error()))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return
	}
	for _, f := range [][2]string{{"DETAIL", pgErr.Detail}, {"HINT", pgErr.Hint}, {"WHERE", pgErr.Where}} {
		if f[1] != "" {
			fmt.Fprintf(w, "%s: %s\n", f[0], fault.Redact(f[1]))
		}
	}
	if res == nil || res.Position == nil {
		return
	}
	p := res.Position
	loc := fmt.Sprintf("LOCATION: deploy.sql line %d, column %d", p.Line, p.Column)
	if p.Expanded {
		loc += " (of the expanded script: pgmi_test() macros shift line numbers relative to the file on disk)"
	}
	fmt.Fprintln(w, loc)
	prefix := fmt.Sprintf("LINE %d: ", p.Line)
	fmt.Fprintf(w, "%s%s\n", prefix, fault.Redact(p.SourceLine))
	caret := utf8.RuneCountInString(prefix) + p.Column - 1
	fmt.Fprintf(w, "%s^\n", strings.Repeat(" ", max(caret, 0)))
}
