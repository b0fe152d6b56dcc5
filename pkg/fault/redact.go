package fault

import "regexp"

var (
	// password=secret, sslpassword='se cret', Password = "x" (ADO.NET too).
	keywordSecret = regexp.MustCompile(`(?i)((?:ssl)?password|pwd|passphrase|token)(\s*=\s*)('[^']*'|"[^"]*"|[^\s&;'"]+)`)
	// scheme://user:secret@host, including an empty user and secrets that
	// contain '@' (the last '@' of the token ends the secret).
	uriSecret = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):[^\s]*@`)
)

// Redact removes passwords, tokens and passphrases from text meant for
// people or logs: keyword forms become key=[redacted], URI user-info
// passwords become user:[redacted]@.
func Redact(s string) string {
	s = keywordSecret.ReplaceAllString(s, "${1}${2}[redacted]")
	return uriSecret.ReplaceAllString(s, "${1}:[redacted]@")
}
