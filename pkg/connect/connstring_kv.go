package connect

import "strings"

// parseKV reads libpq keyword/value strings: key = value pairs separated by
// whitespace; a value may be single-quoted, and a backslash escapes the next
// character (\' and \\). Unknown keys become server parameters, as in pgx.
func parseKV(s string) (settings, error) {
	set := settings{}
	rest := trimSpaceLeft(s)
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return nil, configErr("invalid connection string: expected key=value pairs separated by spaces")
		}
		key := strings.TrimSpace(rest[:eq])
		if key == "" || strings.ContainsAny(key, " \t\r\n\v\f") {
			return nil, configErr("invalid connection string: a key is missing or holds spaces (values with spaces need 'single quotes')")
		}
		val, after, err := kvValue(trimSpaceLeft(rest[eq+1:]), key)
		if err != nil {
			return nil, err
		}
		if err := set.put(key, val); err != nil {
			return nil, err
		}
		rest = trimSpaceLeft(after)
	}
	return set, nil
}

// kvValue reads one value and returns the text after it.
func kvValue(s, key string) (val, rest string, err error) {
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
		return "", "", configErr("invalid connection string: the quoted value of %s is not closed", safeKeyName(key))
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
