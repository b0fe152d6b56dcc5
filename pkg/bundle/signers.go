package bundle

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"
)

// AllowedSigners is a parsed allowed_signers file (ssh-keygen(1), section
// ALLOWED SIGNERS): one key per line with its principals and options.
type AllowedSigners struct {
	entries []signerEntry
}

type signerEntry struct {
	line        int
	principals  []string // patterns, "!" negates
	key         ssh.PublicKey
	namespaces  []string // patterns; empty means any
	validAfter  time.Time
	validBefore time.Time
}

// Signer is the trusted identity a bundle was verified against.
type Signer struct {
	Principals  string // the principals field of the matching allowed_signers line
	Fingerprint string // SHA256:… of the key
	Line        int    // line number in allowed_signers
	// ValidAfter and ValidBefore are the line's valid-after/valid-before
	// window; zero when the line sets none.
	ValidAfter, ValidBefore time.Time
}

// Window describes the key's validity window for people: "valid from … until
// …", one side open, or "no validity window".
func (s *Signer) Window() string {
	const layout = "2006-01-02 15:04 MST"
	switch a, b := s.ValidAfter, s.ValidBefore; {
	case a.IsZero() && b.IsZero():
		return "no validity window"
	case b.IsZero():
		return "valid from " + a.Format(layout)
	case a.IsZero():
		return "valid until " + b.Format(layout)
	default:
		return "valid from " + a.Format(layout) + " until " + b.Format(layout)
	}
}

// ParseAllowedSigners parses allowed_signers text: "principals [options]
// keytype base64 [comment]" per line, "#" comments and blank lines ignored.
// Supported options are namespaces="…", valid-after="…" and valid-before="…"
// (YYYYMMDD[HHMM[SS]], local time unless suffixed Z). cert-authority lines are
// refused: certificate-based signers are not supported.
func ParseAllowedSigners(data []byte) (*AllowedSigners, error) {
	a := &AllowedSigners{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseSignerLine(line)
		if err != nil {
			return nil, &Error{Rule: ErrAllowedSigners, Detail: fmt.Sprintf("line %d", n), Err: err}
		}
		e.line = n
		a.entries = append(a.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, rejectErr(ErrAllowedSigners, "", err)
	}
	return a, nil
}

// Len is the number of keys.
func (a *AllowedSigners) Len() int { return len(a.entries) }

func parseSignerLine(line string) (signerEntry, error) {
	var e signerEntry
	principals, rest, err := cutField(line)
	if err != nil {
		return e, err
	}
	key, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(rest))
	if err != nil {
		return e, fmt.Errorf("cannot parse key: %w", err)
	}
	if _, isCert := key.(*ssh.Certificate); isCert {
		return e, fmt.Errorf("certificates cannot be listed as signers")
	}
	e.principals, e.key = strings.Split(principals, ","), key
	for _, o := range opts {
		if err := e.applyOption(o); err != nil {
			return e, err
		}
	}
	return e, nil
}

// cutField splits off the first whitespace-separated field, which may be
// double-quoted.
func cutField(line string) (field, rest string, err error) {
	if strings.HasPrefix(line, `"`) {
		end := strings.IndexByte(line[1:], '"')
		if end < 0 {
			return "", "", fmt.Errorf("unterminated quoted principals")
		}
		return line[1 : end+1], strings.TrimSpace(line[end+2:]), nil
	}
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return "", "", fmt.Errorf("no key after the principals")
	}
	return line[:i], strings.TrimSpace(line[i:]), nil
}

func (e *signerEntry) applyOption(opt string) error {
	name, value, hasValue := strings.Cut(opt, "=")
	value = strings.Trim(value, `"`)
	var err error
	switch strings.ToLower(name) {
	case "cert-authority":
		return fmt.Errorf("cert-authority entries are not supported: list the signing keys themselves")
	case "namespaces":
		e.namespaces = strings.Split(value, ",")
	case "valid-after":
		e.validAfter, err = parseSignerTime(value)
	case "valid-before":
		e.validBefore, err = parseSignerTime(value)
	default:
		return fmt.Errorf("unsupported option %q", name)
	}
	if err == nil && !hasValue {
		err = fmt.Errorf("option %q needs a value", name)
	}
	return err
}

func parseSignerTime(v string) (time.Time, error) {
	loc := time.Local
	if s, ok := strings.CutSuffix(v, "Z"); ok {
		v, loc = s, time.UTC
	}
	layouts := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(v)]
	if !ok {
		return time.Time{}, fmt.Errorf("bad time %q (YYYYMMDD[HHMM[SS]][Z])", v)
	}
	return time.ParseInLocation(layout, v, loc)
}

// VerifyOptions tune signature verification.
type VerifyOptions struct {
	Namespace string    // required namespace; "" means Namespace
	Principal string    // when set, the key must be listed for this principal
	Now       time.Time // for valid-after/valid-before; zero means time.Now()
}

// Verify checks an armored signature over message: the signature is valid,
// made in the namespace, by a key listed here for that namespace (and
// principal, when asked), inside its validity window.
func (a *AllowedSigners) Verify(armored, message []byte, opts VerifyOptions) (*Signer, error) {
	if opts.Namespace == "" {
		opts.Namespace = Namespace
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	sig, err := ParseSignature(armored)
	if err != nil {
		return nil, rejectErr(ErrSignature, SignaturePath, err)
	}
	if sig.Namespace != opts.Namespace {
		return nil, reject(ErrNamespace, SignaturePath, "signature namespace %q", sig.Namespace)
	}
	if err := sig.Verify(opts.Namespace, message); err != nil {
		return nil, rejectErr(ErrSignature, SignaturePath, err)
	}
	fp := ssh.FingerprintSHA256(sig.Key)
	var expired *signerEntry
	for i := range a.entries {
		e := &a.entries[i]
		if !keysEqual(e.key, sig.Key) || !matchList(e.namespaces, opts.Namespace, true) {
			continue
		}
		if opts.Principal != "" && !matchList(e.principals, opts.Principal, false) {
			continue
		}
		if (!e.validAfter.IsZero() && opts.Now.Before(e.validAfter)) || (!e.validBefore.IsZero() && !opts.Now.Before(e.validBefore)) {
			expired = e
			continue
		}
		return &Signer{Principals: strings.Join(e.principals, ","), Fingerprint: fp, Line: e.line,
			ValidAfter: e.validAfter, ValidBefore: e.validBefore}, nil
	}
	if expired != nil {
		return nil, reject(ErrSignerExpired, SignaturePath, "key %s, allowed_signers line %d", fp, expired.line)
	}
	detail := "key " + fp
	if opts.Principal != "" {
		detail += " for principal " + opts.Principal
	}
	return nil, reject(ErrUntrusted, SignaturePath, "%s", detail)
}

func keysEqual(a, b ssh.PublicKey) bool {
	return a.Type() == b.Type() && bytes.Equal(a.Marshal(), b.Marshal())
}

// matchList applies an OpenSSH pattern list: any negated match refuses, any
// plain match accepts. An empty list accepts when emptyOK.
func matchList(patterns []string, s string, emptyOK bool) bool {
	if len(patterns) == 0 {
		return emptyOK
	}
	ok := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if wildMatch(strings.TrimPrefix(p, "!"), s) {
			if neg {
				return false
			}
			ok = true
		}
	}
	return ok
}

// wildMatch matches s against an OpenSSH pattern where '*' is any run of
// characters and '?' any one character.
func wildMatch(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if wildMatch(pattern[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			_, n := utf8.DecodeRuneInString(s)
			pattern, s = pattern[1:], s[n:]
		default:
			if s == "" || s[0] != pattern[0] {
				return false
			}
			pattern, s = pattern[1:], s[1:]
		}
	}
	return s == ""
}
