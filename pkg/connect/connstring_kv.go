package connect

import (
	"fmt"
	"strings"
)

// parseKV reads libpq keyword/value strings: key = value pairs separated
// by whitespace; a value may be single-quoted, and a backslash escapes the next
// character (\' and \\). Unknown keys become server parameters, as in pgx.
//
// Errors never show a password: after an unquoted password or sslpassword,
// what follows may be the rest of it (password=Half S3cret), so an item
// there that does not parse is named by its position, never by its text.
func parseKV(s string) (settings, error) {
	set := settings{}
	rest := trimSpaceLeft(s)
	afterSecret := false
	for item := 1; rest != ""; item++ {
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return nil, configErr("invalid connection string: expected key=value pairs separated by spaces")
		}
		key := strings.TrimSpace(rest[:eq])
		if key == "" || strings.ContainsAny(key, " \t\r\n\v\f") {
			return nil, configErr("invalid connection string: a key is missing or holds spaces (values with spaces need 'single quotes')")
		}
		it := kvItem{key: key, n: item, afterSecret: afterSecret}
		raw := trimSpaceLeft(rest[eq+1:])
		val, after, err := kvValue(raw, it)
		if err != nil {
			return nil, err
		}
		if err := it.put(set, val); err != nil {
			return nil, err
		}
		canon, _ := libpqKey(key)
		if (canon == "password" || canon == "sslpassword") && !strings.HasPrefix(raw, "'") {
			afterSecret = true
		}
		rest = trimSpaceLeft(after)
	}
	return set, nil
}

// kvItem is one key=value pair of a keyword/value string, for messages.
type kvItem struct {
	key         string
	n           int  // 1-based position in the string
	afterSecret bool // an unquoted password came before it
}

// name is how a message names the item: by its key when the key is a libpq
// keyword and cannot be the tail of a password, else by position.
func (it kvItem) name() string {
	if _, known := libpqKey(it.key); known && !it.afterSecret && len(it.key) <= 40 {
		return "\"" + it.key + "\""
	}
	return fmt.Sprintf("item %d", it.n)
}

// hint is what to add to an error about the item.
func (it kvItem) hint() string {
	if !it.afterSecret {
		return ""
	}
	return "; if it is the rest of a password holding a space, single-quote the password: password='…'"
}

// put checks the item and stores it. After an unquoted password, a value
// the key does not accept is reported here, without the value, before
// applySetting would quote it.
func (it kvItem) put(set settings, val string) error {
	canon, known := libpqKey(it.key)
	if !known && !validParamName(it.key) {
		return configErr("invalid connection string: the key of item %d is not a valid parameter name (letters, digits, '_', '.' and '-')%s", it.n, it.hint())
	}
	if it.afterSecret && known && coreKeys[canon] {
		if err := checkAfterSecret(canon, val, fmt.Sprintf("item %d", it.n), it.hint()); err != nil {
			return err
		}
	}
	return set.put(it.key, val)
}

// checkAfterSecret checks a value that follows an unquoted password the way
// applySetting will, and reports a value it refuses without showing it:
// the value may be part of the password. what names the item, hint says
// how to quote the password.
func checkAfterSecret(canon, v, what, hint string) error {
	if applySetting(&Config{}, canon, v, "the connection string") == nil {
		return nil
	}
	return configErr("invalid connection string: invalid %s (the value of %s is not shown: it may be part of the password)%s", canon, what, hint)
}

// kvValue reads one value and returns the text after it.
func kvValue(s string, it kvItem) (val, rest string, err error) {
	var b strings.Builder
	if strings.HasPrefix(s, "'") {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				if i+1 < len(s) {
					i++
					b.WriteByte(s[i])
				}
			case '\'':
				return b.String(), s[i+1:], nil
			default:
				b.WriteByte(s[i])
			}
		}
		return "", "", configErr("invalid connection string: the quoted value of %s is not closed%s", it.name(), it.hint())
	}
	i := 0
	for ; i < len(s) && !isSpace(s[i]); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String(), s[i:], nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func trimSpaceLeft(s string) string { return strings.TrimLeft(s, " \t\n\r\v\f") }

// safeKeyName quotes a key for a message unless the key is suspicious
// enough to be a fragment of a secret.
func safeKeyName(key string) string {
	if len(key) > 40 {
		return "a key"
	}
	return "\"" + key + "\""
}
