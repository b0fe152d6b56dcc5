package engine

import (
	"strings"
	"unicode/utf8"
)

// Unit is one execution unit of deploy.sql, sent as one simple-query message.
type Unit struct {
	SQL          string // text to send: padding, then script[Start:End]
	Start, End   int    // byte span in the script
	Line, Column int    // 1-based position of script[Start]; the column counts characters
}

// maxPadding bounds the padding bytes of all the units of one script
// together. Padding grows with the number of lines before each unit, so a
// tail of many thousands of statements would otherwise need memory (and
// network) quadratic in the script's size; units past the budget are sent
// without padding, and PositionInUnit still maps them through Line and
// Column.
const maxPadding = 32 << 20

// Split cuts the macro-expanded deploy.sql into execution units: pgmi's
// "atomic head, psql tail" (ENGINE-REFERENCE §8).
//
// Statements end at a ';' at parenthesis depth 0, except inside a
// SQL-standard BEGIN ATOMIC … END body; strings, comments, quoted identifiers
// and dollar bodies are invisible (the scan runs on Mask). The head runs up
// to and including the first top-level transaction terminator (see
// IsTerminator) and is one unit; every later statement that is not blank
// after masking is a unit of its own, together with the comments and
// whitespace before it. Each tail unit's SQL starts with padding — newlines,
// then spaces — that puts its first byte at the same line and character
// column as in the script, so a server error position maps back with
// PositionInUnit. (Past maxPadding bytes of padding in total, units go
// unpadded; PositionInUnit handles both.)
//
// The whole script is one unit when it has no terminator, when nothing but
// blanks and comments follows the first one, or when it is not valid UTF-8.
func Split(script string) []Unit { return splitWithin(script, maxPadding) }

// splitWithin is Split with a padding budget.
func splitWithin(script string, budget int) []Unit {
	whole := []Unit{{SQL: script, End: len(script), Line: 1, Column: 1}}
	mask, ok := Mask(script)
	if !ok {
		return whole
	}
	head := headEnd(mask)
	if head < 0 || isBlankMask(mask[head:]) {
		return whole
	}
	units := []Unit{{SQL: script[:head], End: head, Line: 1, Column: 1}}
	where := lineCounter{text: script, line: 1, col: 1}
	sc := stmtScanner{mask: mask, pos: head, chunk: head}
	for start := head; start < len(mask); {
		end, _ := sc.next()
		if !isBlankMask(mask[start:end]) {
			line, col := where.at(start)
			u := paddedUnit(script, start, end, line, col, budget)
			budget -= len(u.SQL) - (end - start)
			units = append(units, u)
		}
		start = end
	}
	return units
}

// headEnd is the end of the first top-level terminator (after its ';', or
// the end of the script for a final statement without one), or -1.
func headEnd(mask string) int {
	_, end, _ := firstTerminator(mask)
	return end
}

// firstTerminator finds the first top-level terminator statement of a
// mask: its span (start, end) — start -1 and end -1 when there is none —
// and how many non-blank statements come before it (all of them when
// there is none).
func firstTerminator(mask string) (start, end, before int) {
	sc := stmtScanner{mask: mask}
	for start = 0; start < len(mask); start = end {
		var hasSemicolon bool
		end, hasSemicolon = sc.next()
		stmt := mask[start:end]
		if hasSemicolon {
			stmt = stmt[:len(stmt)-1]
		}
		if isTerminatorMasked(stmt) {
			return start, end, before
		}
		if !isBlankMask(stmt) {
			before++
		}
	}
	return -1, -1, before
}

// paddedUnit builds the unit for script[start:end], which begins at line,
// col of the script; it is padded only if the padding fits the budget.
func paddedUnit(script string, start, end, line, col, budget int) Unit {
	if line-1+col-1 > budget {
		return Unit{SQL: script[start:end], Start: start, End: end, Line: line, Column: col}
	}
	var b strings.Builder
	b.Grow(line - 1 + col - 1 + end - start)
	for range line - 1 {
		b.WriteByte('\n')
	}
	for range col - 1 {
		b.WriteByte(' ')
	}
	b.WriteString(script[start:end])
	return Unit{SQL: b.String(), Start: start, End: end, Line: line, Column: col}
}

// stmtScanner finds where top-level statements end in a mask: at a ';' at
// parenthesis depth 0 that is not inside a BEGIN ATOMIC body.
type stmtScanner struct {
	mask   string
	pos    int  // next byte to read
	chunk  int  // start of the text after the previous top-level ';'
	depth  int  // parenthesis depth; a stray ')' makes it negative, as in pgmi
	atomic bool // inside a BEGIN ATOMIC … END body
}

// next returns the end of the next statement: just after its ';', or the
// end of the mask (hasSemicolon false) when the input runs out first.
func (s *stmtScanner) next() (end int, hasSemicolon bool) {
	for s.pos < len(s.mask) {
		c := s.mask[s.pos]
		s.pos++
		switch c {
		case '(':
			s.depth++
		case ')':
			s.depth--
		case ';':
			if s.depth == 0 && s.endsStatement(s.mask[s.chunk:s.pos-1]) {
				return s.pos, true
			}
		}
	}
	return len(s.mask), false
}

// endsStatement takes the text between two top-level semicolons and says
// whether the second one ends a statement. A chunk holding BEGIN ATOMIC
// opens a body, unless the body also closes in it (BEGIN ATOMIC END); an
// open body closes at the first later chunk whose first word is END.
// CASE … END pairs do not close a body.
func (s *stmtScanner) endsStatement(chunk string) bool {
	s.chunk = s.pos
	if s.atomic {
		first, _ := nextWord(chunk)
		s.atomic = !strings.EqualFold(first, "END")
		return !s.atomic
	}
	if body, ok := afterBeginAtomic(chunk); ok && !closesBody(body) {
		s.atomic = true
		return false
	}
	return true
}

// afterBeginAtomic finds BEGIN and ATOMIC separated only by whitespace and
// returns the text after ATOMIC.
func afterBeginAtomic(s string) (string, bool) {
	for w, rest := nextWord(s); w != ""; w, rest = nextWord(rest) {
		if !strings.EqualFold(w, "BEGIN") || !onlySpaceBeforeWord(rest) {
			continue
		}
		if next, after := nextWord(rest); strings.EqualFold(next, "ATOMIC") {
			return after, true
		}
	}
	return "", false
}

// closesBody reports whether s holds an END that no CASE claims.
func closesBody(s string) bool {
	open := 0
	for w, rest := nextWord(s); w != ""; w, rest = nextWord(rest) {
		switch {
		case strings.EqualFold(w, "CASE"):
			open++
		case strings.EqualFold(w, "END") && open == 0:
			return true
		case strings.EqualFold(w, "END"):
			open--
		}
	}
	return false
}

// IsTerminator reports whether a top-level statement ends the transaction:
// its first word is COMMIT, END, ROLLBACK or ABORT, optionally followed by
// WORK or TRANSACTION, and then by nothing or by AND (AND [NO] CHAIN). So
// ROLLBACK TO SAVEPOINT, COMMIT PREPARED and ROLLBACK PREPARED are not
// terminators. Words are runs of ASCII letters compared without case;
// comments and literals are ignored, as is a trailing ';'.
func IsTerminator(stmt string) bool {
	if mask, ok := Mask(stmt); ok {
		stmt = mask
	}
	return isTerminatorMasked(stmt)
}

func isTerminatorMasked(stmt string) bool {
	first, rest := nextWord(stmt)
	if !equalsAny(first, "COMMIT", "END", "ROLLBACK", "ABORT") {
		return false
	}
	next, rest := nextWord(rest)
	if equalsAny(next, "WORK", "TRANSACTION") {
		next, _ = nextWord(rest)
	}
	return next == "" || strings.EqualFold(next, "AND")
}

func equalsAny(word string, choices ...string) bool {
	for _, c := range choices {
		if strings.EqualFold(word, c) {
			return true
		}
	}
	return false
}

// nextWord returns the first run of ASCII letters in s ("" if none) and the
// text after it. Everything else — digits, '_', punctuation — separates words.
func nextWord(s string) (word, rest string) {
	i := 0
	for i < len(s) && !isASCIILetter(s[i]) {
		i++
	}
	j := i
	for j < len(s) && isASCIILetter(s[j]) {
		j++
	}
	return s[i:j], s[j:]
}

// onlySpaceBeforeWord reports whether s has only whitespace before its
// first letter.
func onlySpaceBeforeWord(s string) bool {
	for i := 0; i < len(s) && !isASCIILetter(s[i]); i++ {
		if !isMaskBlank(s[i]) {
			return false
		}
	}
	return true
}

// isBlankMask reports whether masked text holds nothing to execute.
func isBlankMask(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isMaskBlank(s[i]) {
			return false
		}
	}
	return true
}

func isMaskBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// lineCounter converts increasing byte offsets of text into 1-based lines
// and character columns, reading each byte once.
type lineCounter struct {
	text      string
	off       int
	line, col int
}

func (c *lineCounter) at(off int) (line, col int) {
	c.line, c.col = advance(c.text[:off], c.off, c.line, c.col, off-c.off)
	c.off = off
	return c.line, c.col
}

// PositionInUnit maps pos, the 1-based character position PostgreSQL reports
// for an error in u.SQL, to the 1-based line and character column in the
// whole script. Positions inside the unit's text are counted from the
// unit's Line and Column, which is what the padding encodes; for a unit
// without padding the result is the same. A pos past the end maps to the
// end; pos < 1 maps to the start of u.SQL.
func PositionInUnit(u Unit, pos int) (line, column int) {
	pad := len(u.SQL) - (u.End - u.Start)
	if pad < 0 || pos-1 < pad {
		return advance(u.SQL, 0, 1, 1, pos-1) // not a unit of Split, or inside the padding
	}
	return advance(u.SQL, pad, u.Line, u.Column, pos-1-pad)
}

// advance moves n characters forward from byte off of s, which is at line,
// col, and returns the position reached (stopping at the end of s).
func advance(s string, off, line, col, n int) (int, int) {
	for ; n > 0 && off < len(s); n-- {
		r, size := utf8.DecodeRuneInString(s[off:])
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		off += size
	}
	return line, col
}

// SourceLine returns line number line (1-based) of script, without its line
// ending, or "" when there is no such line.
func SourceLine(script string, line int) string {
	if line < 1 {
		return ""
	}
	for ; line > 1; line-- {
		i := strings.IndexByte(script, '\n')
		if i < 0 {
			return ""
		}
		script = script[i+1:]
	}
	if i := strings.IndexByte(script, '\n'); i >= 0 {
		script = script[:i]
	}
	return strings.TrimSuffix(script, "\r")
}
