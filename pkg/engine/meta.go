package engine

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// Metadata is a file's <pgmi-meta> block (ENGINE-REFERENCE §6).
type Metadata struct {
	ID          string   // canonical lowercase 8-4-4-4-12 UUID
	Idempotent  bool     // required in the block; no default
	SortKeys    []string // verbatim; empty means the plan falls back to the path
	Description string   // verbatim; "" when absent
}

// maxMetaBytes caps the trimmed body of a <pgmi-meta> comment.
const maxMetaBytes = 10240

var (
	metaOpenTag = regexp.MustCompile(`<\s*pgmi-meta[\s>]`)
	metaOldTag  = regexp.MustCompile(`<\s*pgmi:meta[\s>]`)
)

// metaXML is the decoding target. Attributes are strings so that missing and
// malformed values can be reported together with every other problem.
type metaXML struct {
	XMLName     xml.Name `xml:"pgmi-meta"`
	ID          *string  `xml:"id,attr"`
	Idempotent  *string  `xml:"idempotent,attr"`
	Description string   `xml:"description"`
	SortKeys    []string `xml:"sortKeys>key"`
}

// ExtractMetadata finds and validates the <pgmi-meta> block of a SQL file.
// It looks at every top-level block comment (nested comments belong to the
// outer one; comments inside strings, quoted identifiers and dollar bodies
// do not count). It returns nil, nil when no comment holds a block. Every
// failure is a fault.Config *fault.Error: "invalid PGMI metadata in <path>:" with a
// numbered list of problems, or "metadata error in <path>: …" when the
// comments or the XML themselves are unusable.
func ExtractMetadata(path string, content []byte) (*Metadata, error) {
	body, err := findMetaBlock(path, content)
	if err != nil || body == "" {
		return nil, err
	}
	var m metaXML
	if err := xml.NewDecoder(strings.NewReader(body)).Decode(&m); err != nil {
		return nil, fault.Wrap(fault.Config, err, "metadata error in %s", path)
	}
	return m.validate(path)
}

// findMetaBlock returns the trimmed body of the one comment holding a
// <pgmi-meta> element, or "" when there is none.
func findMetaBlock(path string, content []byte) (string, error) {
	var found []byte
	for sp := range lexSpans(content, unicodeTags) {
		if sp.kind != spanBlockComment {
			continue
		}
		body := bytes.TrimSpace(content[sp.bodyStart:sp.bodyEnd])
		if metaOldTag.Match(body) {
			return "", fault.Errorf(fault.Config, "metadata error in %s: the old <pgmi:meta> form is no longer read: rename the element to <pgmi-meta>", path)
		}
		if !metaOpenTag.Match(body) {
			continue
		}
		if found != nil {
			return "", fault.Errorf(fault.Config, "metadata error in %s: Multiple metadata blocks found: keep one <pgmi-meta> block per file", path)
		}
		found = body
	}
	if len(found) > maxMetaBytes {
		return "", fault.Errorf(fault.Config, "metadata error in %s: the <pgmi-meta> block is %d bytes, more than the limit of %d", path, len(found), maxMetaBytes)
	}
	return string(found), nil
}

// validate checks the decoded block and collects every problem it finds.
func (m *metaXML) validate(path string) (*Metadata, error) {
	var problems []string
	id, problem := metaID(m.ID)
	problems = appendProblem(problems, problem)
	idempotent, problem := metaIdempotent(m.Idempotent)
	problems = appendProblem(problems, problem)
	if m.Description != "" && strings.TrimSpace(m.Description) == "" {
		problems = append(problems, "the description holds only whitespace: remove it or write one")
	}
	for i, key := range m.SortKeys {
		if strings.TrimSpace(key) == "" {
			problems = append(problems, fmt.Sprintf("sort key %d is empty or whitespace-only", i+1))
		}
	}
	if len(problems) > 0 {
		return nil, fault.Errorf(fault.Config, "invalid PGMI metadata in %s:%s", path, numbered(problems))
	}
	return &Metadata{ID: id, Idempotent: idempotent, SortKeys: m.SortKeys, Description: m.Description}, nil
}

func appendProblem(problems []string, p string) []string {
	if p == "" {
		return problems
	}
	return append(problems, p)
}

// metaID checks the id attribute; the second result is the problem, if any.
func metaID(attr *string) (string, string) {
	if attr == nil {
		return "", "the id attribute is missing: give the file a unique UUID (uuidgen makes one)"
	}
	id, ok := canonicalUUID(*attr)
	switch {
	case !ok:
		return "", fmt.Sprintf("id %q is not a UUID", *attr)
	case id == nilUUID:
		return "", "id must not be the nil UUID " + nilUUID
	}
	return id, ""
}

// metaIdempotent checks the idempotent attribute: strconv.ParseBool after
// trimming whitespace, and no default when it is missing.
func metaIdempotent(attr *string) (bool, string) {
	if attr == nil {
		return false, `the idempotent attribute is missing: write idempotent="true" or idempotent="false"`
	}
	v, err := strconv.ParseBool(strings.TrimSpace(*attr))
	if err != nil {
		return false, fmt.Sprintf("idempotent %q is not a boolean: write true or false", *attr)
	}
	return v, ""
}

// numbered renders problems as an indented numbered list, one per line.
func numbered(problems []string) string {
	var b strings.Builder
	for i, p := range problems {
		fmt.Fprintf(&b, "\n  %d. %s", i+1, p)
	}
	return b.String()
}

const nilUUID = "00000000-0000-0000-0000-000000000000"

// canonicalUUID accepts the textual UUID forms pgmi accepts — canonical
// 8-4-4-4-12, the same in braces, with a "urn:uuid:" prefix (any case), or 32
// bare hex digits, hex in either case — and returns the canonical lowercase
// form.
func canonicalUUID(s string) (string, bool) {
	switch {
	case len(s) == 38 && s[0] == '{' && s[37] == '}':
		s = s[1:37]
	case len(s) == 45 && strings.EqualFold(s[:9], "urn:uuid:"):
		s = s[9:]
	}
	var digits string
	switch len(s) {
	case 32:
		digits = s
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return "", false
		}
		digits = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	default:
		return "", false
	}
	for i := 0; i < len(digits); i++ {
		if !isHexDigit(digits[i]) {
			return "", false
		}
	}
	d := strings.ToLower(digits)
	return d[:8] + "-" + d[8:12] + "-" + d[12:16] + "-" + d[16:20] + "-" + d[20:], true
}

func isHexDigit(b byte) bool {
	return isASCIIDigit(b) || ((b|0x20) >= 'a' && (b|0x20) <= 'f')
}

// IsSQLExtension reports whether the last ".xxx" of name is, in any letter
// case, one of pgmi's SQL extensions: .sql .ddl .dml .dql .dcl .psql .pgsql
// .plpgsql. name may be a slash-separated path.
func IsSQLExtension(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".sql", ".ddl", ".dml", ".dql", ".dcl", ".psql", ".pgsql", ".plpgsql":
		return true
	}
	return false
}
