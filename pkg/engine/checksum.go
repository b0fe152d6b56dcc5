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
// never split between two calls. With a writer, p is taken in pieces that
// fit the buffer, so the byte loop never checks for room.
func (c *wsCollapser) text(p []byte, fold bool) {
	if c.w == nil {
		c.textInto(p, fold)
		return
	}
	piece := cap(c.buf)/2 - utf8.UTFMax
	for len(p) > 0 {
		n := min(len(p), piece)
		for n < len(p) && !utf8.RuneStart(p[n]) {
			n++ // never cut a character in two
		}
		if len(c.buf)+n+1 > cap(c.buf) {
			c.flush()
		}
		c.textInto(p[:n], fold)
		p = p[n:]
	}
}

// textInto is text's byte loop; the caller guarantees room for len(p)+1 bytes.
// ASCII, nearly all of SQL, takes a one-byte path; other runes are decoded
// to tell Unicode whitespace apart.
func (c *wsCollapser) textInto(p []byte, fold bool) {
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

// flush hands the buffered bytes to w. Writes to a hash never fail.
func (c *wsCollapser) flush() {
	if c.w != nil && len(c.buf) > 0 {
		_, _ = c.w.Write(c.buf)
		c.buf = c.buf[:0]
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
