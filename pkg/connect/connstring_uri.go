package connect

import (
	"strings"
)

// parseURI reads postgresql://[user[:password]@][host[:port][,…]][/dbname][?key=value&…].
//
// The authority ends at the first '/' or '?'; the user information ends at
// the last '@' in it, so a password may hold an unescaped '@' (other reserved
// characters must be percent-encoded). An '@' after an authority that holds
// none is refused: it is most likely the end of user information holding an
// unencoded '/' or '?', whose rest would be read as the database name or the
// query. Hosts may be bracketed IPv6 literals or percent-encoded Unix-socket
// directories (%2Ftmp); query keys override the authority
// (?host=/var/run/postgresql works). Error messages never quote the user
// information.
func parseURI(s string) (settings, error) {
	_, rest, _ := strings.Cut(s, "://")
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if !strings.Contains(authority, "@") && strings.Contains(tail, "@") {
		return nil, configErr("invalid connection URI: an '@' follows the host: percent-encode '/' and '?' in the user name and password (%%2F, %%3F), and '@' in the database name and query values (%%40)")
	}
	set := settings{}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		if err := parseUserInfo(set, authority[:at]); err != nil {
			return nil, err
		}
		authority = authority[at+1:]
	}
	if err := parseHostList(set, authority); err != nil {
		return nil, err
	}
	path, query, _ := strings.Cut(tail, "?")
	if db := strings.TrimPrefix(path, "/"); db != "" {
		v, err := unescapeURI(db, "database name")
		if err != nil {
			return nil, err
		}
		set["dbname"] = v
	}
	if err := parseQuery(set, query); err != nil {
		return nil, err
	}
	return set, nil
}

func parseUserInfo(set settings, info string) error {
	user, pass, hasPass := strings.Cut(info, ":")
	u, err := unescapeURI(user, "user name")
	if err != nil {
		return err
	}
	if u != "" {
		set["user"] = u
	}
	if hasPass {
		p, err := unescapeURI(pass, "password")
		if err != nil {
			return err
		}
		set["password"] = p
	}
	return nil
}

// parseHostList reads host[:port] items separated by commas.
func parseHostList(set settings, authority string) error {
	if authority == "" {
		return nil
	}
	items := strings.Split(authority, ",")
	hosts := make([]string, len(items))
	ports := make([]string, len(items))
	anyPort := false
	for i, item := range items {
		h, p, err := splitHostPort(item)
		if err != nil {
			return err
		}
		if hosts[i], err = unescapeURI(h, "host"); err != nil {
			return err
		}
		ports[i] = p
		anyPort = anyPort || p != ""
	}
	set["host"] = strings.Join(hosts, ",")
	if anyPort {
		set["port"] = strings.Join(ports, ",")
	}
	return nil
}

// splitHostPort splits "host:port", "[v6]:port", "[v6]" or "host".
func splitHostPort(item string) (host, port string, err error) {
	if strings.HasPrefix(item, "[") {
		end := strings.IndexByte(item, ']')
		if end < 0 {
			return "", "", configErr("invalid connection URI: an IPv6 host lacks its closing ]")
		}
		host, rest := item[1:end], item[end+1:]
		switch {
		case rest == "":
		case strings.HasPrefix(rest, ":"):
			port = rest[1:]
		default:
			return "", "", configErr("invalid connection URI: unexpected text after an IPv6 host")
		}
		return host, port, nil
	}
	if i := strings.LastIndexByte(item, ':'); i >= 0 {
		if strings.Count(item, ":") > 1 {
			return "", "", configErr("invalid connection URI: an IPv6 host must be in brackets, as in [::1]:5432")
		}
		return item[:i], item[i+1:], nil
	}
	return item, "", nil
}

func parseQuery(set settings, query string) error {
	if query == "" {
		return nil
	}
	for _, pair := range strings.Split(query, "&") {
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return configErr("invalid connection URI: query item without '=' (items are key=value joined by &)")
		}
		key, err := unescapeURI(k, "query key")
		if err != nil {
			return err
		}
		val, err := unescapeURI(v, "query value")
		if err != nil {
			return err
		}
		if strings.EqualFold(key, "ssl") {
			if val == "true" && set["sslmode"] == "" {
				set["sslmode"] = "require"
			}
			continue
		}
		if err := set.put(key, val); err != nil {
			return err
		}
	}
	return nil
}

// unescapeURI percent-decodes s. '+' stays a plus sign, as in libpq. The
// error names the part, never its text.
func unescapeURI(s, part string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", configErr("invalid connection URI: bad percent-encoding in the %s (write %% as %%25)", part)
		}
		b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		i += 2
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
