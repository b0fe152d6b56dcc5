package engine

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// Mask returns a copy of sql with the same length in bytes in which nothing
// but top-level code stays visible (ENGINE-REFERENCE §7.4): comments, and the
// contents of strings, quoted identifiers and dollar bodies, are blanked,
// while quotes and dollar tags are kept. Inside a string a doubled quote is
// kept as well, so a string with an embedded quote still shows quotes; in
// E-strings every backslash pair is blanked. Blanked bytes become spaces,
// except newlines, which are kept so that the mask has the same lines as sql.
// Dollar tags may contain Unicode letters and digits.
//
// ok is false, and the mask empty, when sql is not valid UTF-8: pgmi's mask
// is not length-preserving then, and callers fall back accordingly.
func Mask(sql string) (mask string, ok bool) {
	if !utf8.ValidString(sql) {
		return "", false
	}
	out := []byte(sql)
	for sp := range lexSpans(sql, unicodeTags) {
		switch sp.kind {
		case spanCode:
		case spanLineComment, spanBlockComment:
			blank(out[sp.start:sp.end])
		case spanString:
			maskString(out[sp.bodyStart:sp.bodyEnd], sp.escape)
		default:
			blank(out[sp.bodyStart:sp.bodyEnd])
		}
	}
	return string(out), true
}

// blank replaces every byte but '\n' with a space.
func blank(b []byte) {
	for i, c := range b {
		if c != '\n' {
			b[i] = ' '
		}
	}
}

// maskString blanks a string body, keeping doubled quotes. In an escape
// string a backslash and the byte after it are blanked together, so an
// escaped quote never shows.
func maskString(body []byte, escape bool) {
	for i := 0; i < len(body); {
		switch {
		case body[i] == '\'':
			i += 2 // always doubled inside a body
		case escape && body[i] == '\\':
			blank(body[i:min(i+2, len(body))])
			i += 2
		default:
			blank(body[i : i+1])
			i++
		}
	}
}

// Macro is one CALL pgmi_test(...) found in deploy.sql.
type Macro struct {
	Start, End int    // byte span in the script; End includes the optional ';'
	Pattern    string // first argument; "" means NULL (every test)
	Callback   string // second argument; "" means NULL (the default callback)
}

// testMacro is pgmi's macro pattern, applied to the mask. The "preceded by
// start or a non-word byte" condition is checked separately so that a macro
// directly after another one (CALL pgmi_test();CALL pgmi_test()) is still
// found. As in pgmi, whitespace after ')' is part of the match even when no
// ';' follows.
var testMacro = regexp.MustCompile(`(?i)CALL\s+(?:pg_temp\.)?pgmi_test\s*\(\s*(?:'([^']*)'|NULL)?(?:\s*,\s*'([^']*)')?\s*\)\s*;?`)

// FindTestMacros finds the CALL pgmi_test([pattern[, callback]]) macros of
// deploy.sql (ENGINE-REFERENCE §7.4). Only plain top-level code counts: a
// call inside a string, comment, quoted identifier or dollar body (a DO
// block, say) is not a macro, and neither is one whose arguments are not
// plain '…' strings (or NULL for the pattern). Arguments are taken from sql
// itself. A callback that is not [schema.]function is a fault.Execution error
// naming its line. sql that is not valid UTF-8 has no macros.
func FindTestMacros(sql string) ([]Macro, error) {
	mask, ok := Mask(sql)
	if !ok {
		return nil, nil
	}
	var macros []Macro
	for pos := 0; pos < len(mask); {
		loc := testMacro.FindStringSubmatchIndex(mask[pos:])
		if loc == nil {
			break
		}
		for i := range loc {
			if loc[i] >= 0 {
				loc[i] += pos
			}
		}
		if loc[0] > 0 && isWordByte(mask[loc[0]-1]) {
			pos = loc[0] + 1
			continue
		}
		m := Macro{Start: loc[0], End: loc[1], Pattern: group(sql, loc, 1), Callback: group(sql, loc, 2)}
		if !validCallback(m.Callback) {
			return nil, fault.Errorf(fault.Execution, "invalid callback name %q in pgmi_test() at deploy.sql line %d: expected [schema.]function",
				m.Callback, 1+strings.Count(sql[:m.Start], "\n"))
		}
		macros = append(macros, m)
		pos = loc[1]
	}
	return macros, nil
}

// group is submatch n of a FindStringSubmatchIndex result, "" when absent.
func group(s string, loc []int, n int) string {
	if loc[2*n] < 0 {
		return ""
	}
	return s[loc[2*n]:loc[2*n+1]]
}

func isWordByte(b byte) bool { return b == '_' || isASCIILetter(b) || isASCIIDigit(b) }

// validCallback reports whether cb is empty (the default callback) or
// [schema.]function with each part ^[a-zA-Z_][a-zA-Z0-9_]*$ of at most 63
// characters.
func validCallback(cb string) bool {
	if cb == "" {
		return true
	}
	parts := strings.Split(cb, ".")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 63 || isASCIIDigit(p[0]) {
			return false
		}
		for i := 0; i < len(p); i++ {
			if !isWordByte(p[i]) {
				return false
			}
		}
	}
	return true
}

// ExpandMacros replaces each macro's span in sql with the expansion at the
// same index (one expansion per macro). macros must be in order and must not
// overlap, as FindTestMacros returns them; since every span refers to sql as
// given, the result is the same as replacing them back to front.
func ExpandMacros(sql string, macros []Macro, expansions []string) string {
	var b strings.Builder
	size := len(sql)
	for i, m := range macros {
		size += len(expansions[i]) - (m.End - m.Start)
	}
	b.Grow(size)
	prev := 0
	for i, m := range macros {
		b.WriteString(sql[prev:m.Start])
		b.WriteString(expansions[i])
		prev = m.End
	}
	b.WriteString(sql[prev:])
	return b.String()
}
