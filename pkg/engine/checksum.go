package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"unicode"
	"unicode/utf8"
)

// StripBOM removes one leading UTF-8 byte order mark (EF BB BF), if present.
// It returns a subslice of b; nothing is copied.
func StripBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}

// Normalize returns the text pgmi hashes for pgmi_checksum
// (ENGINE-REFERENCE §4): comments become one space, ASCII letters outside
// strings, quoted identifiers and dollar bodies are lower-cased, then every
// run of Unicode whitespace in the whole result (literals included) becomes
// one ASCII space and the ends are trimmed. Bytes that are not valid UTF-8
// are copied unchanged.
func Normalize(content []byte) []byte {
	c := wsCollapser{buf: make([]byte, 0, len(content))}
	normalizeInto(content, &c)
	return c.buf
}

// Checksums returns the lowercase hex SHA-256 of content (already
// BOM-stripped) and of Normalize(content). The normalized text is streamed
// into the hash through a small buffer, never built in full.
func Checksums(content []byte) (raw, normalized string) {
	sum := sha256.Sum256(content)
	h := sha256.New()
	c := wsCollapser{w: h, buf: make([]byte, 0, 32<<10)}
	normalizeInto(content, &c)
	c.flush()
	return hex.EncodeToString(sum[:]), hex.EncodeToString(h.Sum(nil))
}

// normalizeInto feeds content, region by region, to c.
func normalizeInto(content []byte, c *wsCollapser) {
	for sp := range lexSpans(content, asciiTags) {
		switch sp.kind {
		case spanCode:
			c.text(content[sp.start:sp.end], true)
		case spanLineComment, spanBlockComment:
			c.gap = true // one space, collapsed with its neighbours
		default:
			c.text(content[sp.start:sp.end], false)
		}
	}
}

// wsCollapser writes text with every run of Unicode whitespace turned into
// one ASCII space and leading and trailing whitespace dropped. With a nil w
// it only accumulates into buf; otherwise buf is flushed to w when full.
type wsCollapser struct {
	w       io.Writer
	buf     []byte
	started bool // something other than whitespace was written
	gap     bool // whitespace is pending before the next non-space
}

// text writes p, lower-casing ASCII letters when fold is set. Region
// boundaries always touch an ASCII byte, so a valid multi-byte character is
// never split between two calls.
func (c *wsCollapser) text(p []byte, fold bool) {
	for len(p) > 0 {
		if n := spaceLen(p); n > 0 {
			c.gap = true
			p = p[n:]
			continue
		}
		n := nonSpaceLen(p)
		c.put(p[:n], fold)
		p = p[n:]
	}
}

// put writes a run of non-space bytes, preceded by the pending space.
func (c *wsCollapser) put(run []byte, fold bool) {
	if c.gap && c.started {
		c.makeRoom()
		c.buf = append(c.buf, ' ')
	}
	c.gap, c.started = false, true
	for len(run) > 0 {
		c.makeRoom()
		n := len(run)
		if c.w != nil {
			n = min(n, cap(c.buf)-len(c.buf))
		}
		start := len(c.buf)
		c.buf = append(c.buf, run[:n]...)
		if fold {
			lowerASCII(c.buf[start:])
		}
		run = run[n:]
	}
}

// makeRoom flushes a full buffer when there is a writer to flush to.
func (c *wsCollapser) makeRoom() {
	if c.w != nil && len(c.buf) == cap(c.buf) {
		c.flush()
	}
}

// flush hands the buffered bytes to w. Writes to a hash never fail.
func (c *wsCollapser) flush() {
	if c.w != nil && len(c.buf) > 0 {
		_, _ = c.w.Write(c.buf)
		c.buf = c.buf[:0]
	}
}

// spaceLen is the length of the whitespace run at the start of p.
func spaceLen(p []byte) int {
	i := 0
	for i < len(p) {
		if p[i] < utf8.RuneSelf {
			if !isASCIISpace(p[i]) {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(p[i:])
		if n == 1 || !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}

// nonSpaceLen is the length of the run without whitespace at the start of
// p. Bytes that are not valid UTF-8 count as non-space.
func nonSpaceLen(p []byte) int {
	i := 0
	for i < len(p) {
		if p[i] < utf8.RuneSelf {
			if isASCIISpace(p[i]) {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(p[i:])
		if n > 1 && unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}

func lowerASCII(b []byte) {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// isASCIISpace is unicode.IsSpace restricted to ASCII.
func isASCIISpace(b byte) bool {
	switch b {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}
