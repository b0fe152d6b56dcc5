package engine

import (
	"iter"
	"unicode"
	"unicode/utf8"
)

// This file holds the one SQL lexer the engine uses: checksum normalization
// (checksum.go), <pgmi-meta> discovery (meta.go), the pgmi_test() macro mask
// (macro.go) and the execution-unit splitter (split.go) all read SQL through
// lexSpans. The lexer only cuts the input into regions; what to do with each
// region is the caller's business.
//
// The lexer knows six regions: plain code, -- line comments, nested /* */
// block comments, '…' strings (E'…' strings honour backslash escapes),
// "…" quoted identifiers and $tag$…$tag$ dollar-quoted strings. Unterminated
// constructs run to the end of the input. All delimiters are ASCII, so the
// lexer works on bytes; the only rune-aware decision is which characters a
// dollar-quote tag may contain, selected by a tagRule.

// sqlText is what the lexer reads: file contents arrive as []byte and
// deploy.sql as a string, and neither is copied to become the other.
type sqlText interface{ ~string | ~[]byte }

// tagRule says which characters a dollar-quote tag may contain.
type tagRule uint8

const (
	// asciiTags is the checksum rule (ENGINE-REFERENCE §4): $$ or
	// $[A-Za-z_][A-Za-z0-9_]*$.
	asciiTags tagRule = iota
	// unicodeTags is the mask rule (§7.4), also used for metadata: the tag
	// starts with '_' or a Unicode letter and continues with '_', Unicode
	// letters or Unicode digits.
	unicodeTags
)

// spanKind is the kind of one lexical region.
type spanKind uint8

const (
	spanCode         spanKind = iota // ordinary SQL text
	spanLineComment                  // -- up to, not including, the newline
	spanBlockComment                 // /* … */, nesting counted
	spanString                       // '…' or the quoted part of E'…'
	spanQuotedIdent                  // "…"
	spanDollar                       // $tag$…$tag$
)

// span is one region of the input. [start, end) covers the whole region with
// its delimiters; [bodyStart, bodyEnd) is what lies between the delimiters
// (for code and line comments, the region itself minus the "--"). An
// unterminated region has bodyEnd == end == len(input).
type span struct {
	kind               spanKind
	start, end         int
	bodyStart, bodyEnd int
	escape             bool // an E'…' string: a backslash escapes the next byte
}

// lexSpans yields the regions of src in order. They are contiguous and
// together cover src exactly.
func lexSpans[T sqlText](src T, rule tagRule) iter.Seq[span] {
	return func(yield func(span) bool) {
		for pos := 0; pos < len(src); {
			sp := nextSpan(src, pos, rule)
			if !yield(sp) {
				return
			}
			pos = sp.end
		}
	}
}

// nextSpan lexes the region that starts at pos.
func nextSpan[T sqlText](src T, pos int, rule tagRule) span {
	kind, open := openerAt(src, pos, rule)
	switch kind {
	case spanLineComment:
		end := indexByteFrom(src, pos+open, '\n')
		return span{kind: kind, start: pos, end: end, bodyStart: pos + open, bodyEnd: end}
	case spanBlockComment:
		return blockComment(src, pos)
	case spanString:
		return quoted(src, pos, '\'', isEscapeQuote(src, pos))
	case spanQuotedIdent:
		return quoted(src, pos, '"', false)
	case spanDollar:
		return dollarQuoted(src, pos, open)
	}
	end := pos + 1
	for end < len(src) {
		if mayOpen[src[end]] {
			if k, _ := openerAt(src, end, rule); k != spanCode {
				break
			}
		}
		end++
	}
	return span{kind: spanCode, start: pos, end: end, bodyStart: pos, bodyEnd: end}
}

// mayOpen marks the bytes that can start a delimiter.
var mayOpen = [256]bool{'-': true, '/': true, '\'': true, '"': true, '$': true}

// openerAt reports which region an opening delimiter at src[i] starts, and
// the delimiter's length; spanCode means src[i] opens nothing.
func openerAt[T sqlText](src T, i int, rule tagRule) (spanKind, int) {
	switch src[i] {
	case '-':
		if i+1 < len(src) && src[i+1] == '-' {
			return spanLineComment, 2
		}
	case '/':
		if i+1 < len(src) && src[i+1] == '*' {
			return spanBlockComment, 2
		}
	case '\'':
		return spanString, 1
	case '"':
		return spanQuotedIdent, 1
	case '$':
		if n := dollarTagLen(src, i, rule); n > 0 {
			return spanDollar, n
		}
	}
	return spanCode, 0
}

// isEscapeQuote reports whether the quote at src[i] opens an escape string:
// it directly follows an E or e that does not itself follow an identifier
// byte ([A-Za-z0-9_$] or any byte >= 0x80).
func isEscapeQuote[T sqlText](src T, i int) bool {
	if i < 1 || (src[i-1] != 'E' && src[i-1] != 'e') {
		return false
	}
	return i < 2 || !isIdentByte(src[i-2])
}

func isIdentByte(b byte) bool {
	return b >= utf8.RuneSelf || b == '_' || b == '$' || isASCIILetter(b) || isASCIIDigit(b)
}

func isASCIILetter(b byte) bool { return (b|0x20) >= 'a' && (b|0x20) <= 'z' }

func isASCIIDigit(b byte) bool { return b >= '0' && b <= '9' }

// dollarTagLen is the length of the dollar-quote tag ("$$" or "$name$") at
// src[i], or 0 when src[i] does not start one ($1 is a parameter, not a tag).
func dollarTagLen[T sqlText](src T, i int, rule tagRule) int {
	for j := i + 1; j < len(src); {
		if src[j] == '$' {
			return j + 1 - i
		}
		r, size := tagRune(src, j, rule)
		if !tagRuneOK(r, j == i+1) {
			return 0
		}
		j += size
	}
	return 0
}

// tagRune decodes the tag character at src[j]: one byte under asciiTags, one
// UTF-8 sequence under unicodeTags (an invalid byte decodes as RuneError).
func tagRune[T sqlText](src T, j int, rule tagRule) (rune, int) {
	if rule == asciiTags || src[j] < utf8.RuneSelf {
		if src[j] >= utf8.RuneSelf {
			return utf8.RuneError, 1
		}
		return rune(src[j]), 1
	}
	var buf [utf8.UTFMax]byte
	n := copy(buf[:], src[j:min(j+utf8.UTFMax, len(src))])
	return utf8.DecodeRune(buf[:n])
}

// tagRuneOK applies the tag alphabet. For ASCII runes it is the §4 rule;
// under asciiTags every non-ASCII byte arrives as RuneError and is refused.
func tagRuneOK(r rune, first bool) bool {
	if r == '_' || unicode.IsLetter(r) {
		return true
	}
	return !first && unicode.IsDigit(r)
}

// blockComment lexes a /* comment starting at pos, counting nested /* */.
func blockComment[T sqlText](src T, pos int) span {
	depth := 0
	for i := pos; i+1 < len(src); {
		switch {
		case src[i] == '/' && src[i+1] == '*':
			depth++
			i += 2
		case src[i] == '*' && src[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return span{kind: spanBlockComment, start: pos, end: i, bodyStart: pos + 2, bodyEnd: i - 2}
			}
		default:
			i++
		}
	}
	return span{kind: spanBlockComment, start: pos, end: len(src), bodyStart: pos + 2, bodyEnd: len(src)}
}

// quoted lexes a string or quoted identifier opened by the quote byte at
// pos. A doubled quote stands for itself; in an escape string a backslash
// also takes the following byte with it.
func quoted[T sqlText](src T, pos int, quote byte, escape bool) span {
	kind := spanString
	if quote == '"' {
		kind = spanQuotedIdent
	}
	sp := span{kind: kind, start: pos, bodyStart: pos + 1, escape: escape}
	for i := pos + 1; i < len(src); {
		switch {
		case src[i] == quote && i+1 < len(src) && src[i+1] == quote:
			i += 2
		case src[i] == quote:
			sp.bodyEnd, sp.end = i, i+1
			return sp
		case escape && src[i] == '\\':
			i += 2
		default:
			i++
		}
	}
	sp.bodyEnd, sp.end = len(src), len(src)
	return sp
}

// dollarQuoted lexes a dollar-quoted string whose tag (tagLen bytes) starts
// at pos; the body ends at the first identical tag.
func dollarQuoted[T sqlText](src T, pos, tagLen int) span {
	sp := span{kind: spanDollar, start: pos, bodyStart: pos + tagLen}
	for j := pos + tagLen; j+tagLen <= len(src); j++ {
		if src[j] == '$' && sameBytes(src, j, pos, tagLen) {
			sp.bodyEnd, sp.end = j, j+tagLen
			return sp
		}
	}
	sp.bodyEnd, sp.end = len(src), len(src)
	return sp
}

// sameBytes reports whether src[a:a+n] equals src[b:b+n].
func sameBytes[T sqlText](src T, a, b, n int) bool {
	for k := range n {
		if src[a+k] != src[b+k] {
			return false
		}
	}
	return true
}

// indexByteFrom is the index of the first c in src[from:], or len(src).
func indexByteFrom[T sqlText](src T, from int, c byte) int {
	for i := from; i < len(src); i++ {
		if src[i] == c {
			return i
		}
	}
	return len(src)
}
