package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"runtime"
	"sync"
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
	// The output never outgrows the input (every space written stands for
	// at least one byte of whitespace or comment), so this never reallocates.
	s := normSink{buf: make([]byte, 0, len(content)+2*normSlack)}
	s.normalize(content)
	return s.buf
}

// Checksums returns the lowercase hex SHA-256 of content (already
// BOM-stripped) and of Normalize(content). The normalized text is streamed
// into the hash through a small buffer, never built in full.
//
// Large inputs (at least concurrentHashMin bytes) have their raw hash
// computed on another goroutine while this one normalizes; the memory used
// is the same either way (the content is shared, not copied).
func Checksums(content []byte) (raw, normalized string) { return checksums(content, "") }

// checksums is Checksums, taking the raw digest as known when rawHex is
// not empty (a ContentFS file: hashed by whoever verified it).
func checksums(content []byte, rawHex string) (raw, normalized string) {
	var sum [sha256.Size]byte
	var done chan struct{}
	switch {
	case rawHex != "":
	case len(content) >= concurrentHashMin && runtime.GOMAXPROCS(0) > 1:
		done = make(chan struct{})
		go func() {
			sum = sha256.Sum256(content)
			close(done)
		}()
	default:
		sum = sha256.Sum256(content)
	}
	st := checksumPool.Get().(*checksumState)
	st.h.Reset()
	s := normSink{h: st.h, buf: st.buf[:0]}
	s.normalize(content)
	s.flush()
	var norm [sha256.Size]byte
	st.h.Sum(norm[:0])
	checksumPool.Put(st)
	if done != nil {
		<-done
	}
	if rawHex != "" {
		return rawHex, hex.EncodeToString(norm[:])
	}
	return hex.EncodeToString(sum[:]), hex.EncodeToString(norm[:])
}

// checksumState is the digest and stream buffer of one Checksums call,
// pooled: the memory is bounded by the number of concurrent calls.
type checksumState struct {
	h   hash.Hash
	buf []byte
}

var checksumPool = sync.Pool{New: func() any {
	return &checksumState{h: sha256.New(), buf: make([]byte, 0, normBufSize)}
}}

// concurrentHashMin is the input size from which Checksums hashes the raw
// bytes concurrently: below it, starting a goroutine costs more than a
// fraction of the hash it would overlap.
const concurrentHashMin = 256 << 10

const (
	normBufSize = 32 << 10
	// normSlack is the room every slow step may use without checking: one
	// space and one UTF-8 sequence.
	normSlack = 1 + utf8.UTFMax
)

// normSink receives the normalized text. With a hash it streams through buf
// (fixed capacity) into h; without one it accumulates everything in buf,
// which the caller sized for the whole input.
//
// This is the §4 lexer (lexer.go) and the whitespace collapser fused into
// one pass over the bytes: runs of plain code and plain literal text are
// copied by tight loops that only stop at whitespace, non-ASCII bytes and the
// five bytes that may open a region; regions are measured with the lexer's
// own functions, so the region boundaries are the lexer's.
//
// Whitespace is resolved eagerly: a run of whitespace (and, in code,
// comments) is skipped whole, and one space is written at once when
// something non-blank follows it and something was written before. This is
// the same as a pending gap because, outside an unterminated region that runs
// to the end of the input, every region ends with a non-blank delimiter.
type normSink struct {
	h       hash.Hash
	buf     []byte
	started bool // something non-blank was written
}

// flush hands the buffered bytes to h (writes to a hash never fail).
func (s *normSink) flush() {
	if s.h != nil && len(s.buf) > 0 {
		_, _ = s.h.Write(s.buf)
		s.buf = s.buf[:0]
	}
}

// need makes room for n more bytes.
func (s *normSink) need(n int) {
	if cap(s.buf)-len(s.buf) < n {
		if s.h != nil {
			s.flush()
			return
		}
		nb := make([]byte, len(s.buf), 2*cap(s.buf)+n)
		copy(nb, s.buf)
		s.buf = nb
	}
}

// codeCopy maps a byte of plain code to the byte written for it (ASCII
// letters lower-cased); 0 marks the bytes the code loop must look at:
// whitespace, NUL, non-ASCII and the bytes that may open a region.
// textCopy is the same for literal text (no folding, no region openers).
var codeCopy, textCopy = func() (code, text [256]byte) {
	for b := 1; b < utf8.RuneSelf; b++ {
		if isASCIISpace(byte(b)) {
			continue
		}
		text[b] = byte(b)
		if mayOpen[b] {
			continue
		}
		code[b] = byte(b)
		if b >= 'A' && b <= 'Z' {
			code[b] = byte(b) + 'a' - 'A'
		}
	}
	return
}()

// copyRun copies src[i:] through table tab while tab allows it, up to
// limit, and returns the new position. The caller ensured room.
//
// Eight bytes at a time are taken whole when they are all ASCII, neither
// control characters nor, in code, region openers, and every blank among
// them is a single ' ' between two such bytes: the last byte is not a
// blank, and the first only when something non-blank was written just
// before it. Letters are then lower-cased in code with word arithmetic.
func (s *normSink) copyRun(src []byte, i, limit int, tab *[256]byte) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	out := s.buf[len(s.buf):cap(s.buf)]
	limit = min(limit, i+len(out))
	start := i
	code := tab == &codeCopy
	for i < limit {
		if i+8 <= limit {
			x := binary.LittleEndian.Uint64(src[i:])
			ok := x&highs == 0 && (x+ones*(0x80-0x20))&highs == highs
			if ok {
				if sp := zeroBytes(x ^ ones*' '); sp != 0 {
					ok = sp&(sp<<8) == 0 && sp>>56 == 0 && (sp&0x80 == 0 || i > start || s.started)
				}
			}
			if ok && code {
				ok = zeroBytes(x^ones*'-')|zeroBytes(x^ones*'/')|zeroBytes(x^ones*'\'')|
					zeroBytes(x^ones*'"')|zeroBytes(x^ones*'$') == 0
				x |= (x + ones*(0x80-'A')) &^ (x + ones*(0x80-'Z'-1)) & highs >> 2
			}
			if ok {
				binary.LittleEndian.PutUint64(out[i-start:], x)
				i += 8
				continue
			}
		}
		c := tab[src[i]]
		if c == 0 {
			// One blank between two copied bytes, the commonest
			// whitespace, stays on the fast path: two bytes in, two out.
			if src[i] != ' ' || i+1 >= limit || tab[src[i+1]] == 0 || (i == start && !s.started) {
				break
			}
			out[i-start] = ' '
			i++
			c = tab[src[i]]
		}
		out[i-start] = c
		i++
	}
	if i > start {
		s.buf = s.buf[:len(s.buf)+i-start]
		s.started = true
	}
	return i
}

// zeroBytes has 0x80 in each byte of x that is zero, and 0 elsewhere.
func zeroBytes(x uint64) uint64 {
	const low7 = 0x7f7f7f7f7f7f7f7f
	return ^(((x & low7) + low7) | x | low7)
}

// normalize writes the normalized form of src.
func (s *normSink) normalize(src []byte) {
	n := len(src)
	for i := 0; i < n; {
		if cap(s.buf)-len(s.buf) < 2*normSlack {
			s.need(normBufSize / 2)
		}
		i = s.copyRun(src, i, n, &codeCopy)
		if i >= n {
			return
		}
		s.need(normSlack)
		b := src[i]
		switch b {
		case '\'':
			end := quotedEnd(src, i, '\'', isEscapeQuote(src, i))
			s.text(src, i, end)
			i = end
			continue
		case '"':
			end := quotedEnd(src, i, '"', false)
			s.text(src, i, end)
			i = end
			continue
		case '$':
			if tl := dollarTagLen(src, i, asciiTags); tl > 0 {
				end := n
				if k := bytes.Index(src[i+tl:], src[i:i+tl]); k >= 0 {
					end = i + tl + k + tl
				}
				s.text(src, i, end)
				i = end
				continue
			}
		}
		if j := skipCodeBlank(src, i); j > i {
			i = j
			if i < n && s.started {
				s.buf = append(s.buf, ' ')
			}
			continue
		}
		// Anything else is one non-blank character written as it is:
		// '$', '-', '/' that open nothing, NUL, or a non-ASCII sequence
		// (valid or not) that is not whitespace.
		s.started = true
		if b < utf8.RuneSelf {
			s.buf = append(s.buf, b)
			i++
			continue
		}
		_, size := utf8.DecodeRune(src[i:])
		s.buf = append(s.buf, src[i:i+size]...)
		i += size
	}
}

// quotedEnd is quoted(src, pos, quote, escape).end, finding the quotes
// with IndexByte when backslashes do not matter.
func quotedEnd(src []byte, pos int, quote byte, escape bool) int {
	if escape {
		return quoted(src, pos, quote, true).end
	}
	for i := pos + 1; ; {
		k := bytes.IndexByte(src[i:], quote)
		if k < 0 {
			return len(src)
		}
		i += k
		if i+1 < len(src) && src[i+1] == quote {
			i += 2
			continue
		}
		return i + 1
	}
}

// skipCodeBlank skips whitespace and comments in code from src[i] and
// returns where they end (i when src[i] is neither).
func skipCodeBlank(src []byte, i int) int {
	for i < len(src) {
		b := src[i]
		switch {
		case isASCIISpace(b):
			i++
		case b == '-' && i+1 < len(src) && src[i+1] == '-':
			if k := bytes.IndexByte(src[i+2:], '\n'); k >= 0 {
				i += 2 + k
			} else {
				i = len(src)
			}
		case b == '/' && i+1 < len(src) && src[i+1] == '*':
			i = blockComment(src, i).end
		case b >= utf8.RuneSelf:
			if size := unicodeSpaceLen(src[i:]); size > 0 {
				i += size
				continue
			}
			return i
		default:
			return i
		}
	}
	return i
}

// unicodeSpaceLen is the length of the non-ASCII whitespace character that
// p starts with, or 0.
func unicodeSpaceLen(p []byte) int {
	r, size := utf8.DecodeRune(p)
	if size > 1 && unicode.IsSpace(r) {
		return size
	}
	return 0
}

// text writes the literal region src[i:end] (a string, quoted identifier
// or dollar-quoted string with its delimiters): no folding, no comments,
// whitespace collapsed.
func (s *normSink) text(src []byte, i, end int) {
	for i < end {
		if cap(s.buf)-len(s.buf) < 2*normSlack {
			s.need(normBufSize / 2)
		}
		i = s.copyRun(src, i, end, &textCopy)
		if i >= end {
			return
		}
		s.need(normSlack)
		b := src[i]
		j := i
		for j < end {
			if isASCIISpace(src[j]) {
				j++
			} else if src[j] >= utf8.RuneSelf {
				size := unicodeSpaceLen(src[j:end])
				if size == 0 {
					break
				}
				j += size
			} else {
				break
			}
		}
		if j > i {
			i = j
			if i < len(src) { // a region ends in whitespace only at the end of the input
				s.buf = append(s.buf, ' ')
			}
			continue
		}
		s.started = true
		if b < utf8.RuneSelf {
			s.buf = append(s.buf, b)
			i++
			continue
		}
		_, size := utf8.DecodeRune(src[i:end])
		s.buf = append(s.buf, src[i:i+size]...)
		i += size
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
