package connect

import "strings"

// ADO.NET connection strings, as Npgsql reads them: Key=Value pairs separated
// by semicolons; keys are case-insensitive and their spaces do not matter
// ("SSL Mode", "SslMode"); "==" in a key is a literal "="; a value may be
// quoted with ' or ", a doubled quote inside standing for one; unquoted
// values are trimmed; the last of duplicate keys wins.

// adoTarget says what an ADO.NET key becomes.
type adoTarget struct {
	key    string // libpq keyword or server parameter; "" = accepted and ignored
	values func(string) (string, bool)
}

// adoKeys maps normalized ADO.NET keys (lower case, no spaces) to libpq.
var adoKeys = map[string]adoTarget{}

func init() {
	add := func(t adoTarget, names ...string) {
		for _, n := range names {
			adoKeys[adoNorm(n)] = t
		}
	}
	add(adoTarget{key: "host"}, "Host", "Server", "Data Source")
	add(adoTarget{key: "port"}, "Port")
	add(adoTarget{key: "dbname"}, "Database", "DB", "Initial Catalog")
	add(adoTarget{key: "user"}, "Username", "User Name", "UserId", "User Id", "User", "UID")
	add(adoTarget{key: "password"}, "Password", "PSW", "PWD")
	add(adoTarget{key: "passfile"}, "Passfile")
	add(adoTarget{key: "application_name"}, "Application Name")
	add(adoTarget{key: "sslmode", values: adoSSLMode}, "SSL Mode", "sslmode")
	add(adoTarget{key: "sslcert"}, "SSL Certificate", "Client Certificate", "sslcert", "SSL Cert")
	add(adoTarget{key: "sslkey"}, "SSL Key", "Client Certificate Key", "sslkey")
	add(adoTarget{key: "sslpassword"}, "SSL Password", "sslpassword")
	add(adoTarget{key: "sslrootcert"}, "Root Certificate", "sslrootcert", "SSL Root Cert")
	add(adoTarget{key: "sslnegotiation", values: lowerOf("postgres", "direct")}, "SSL Negotiation")
	add(adoTarget{key: "connect_timeout"}, "Timeout", "Connect Timeout", "connect_timeout")
	add(adoTarget{key: "search_path"}, "Search Path")
	add(adoTarget{key: "client_encoding"}, "Client Encoding")
	add(adoTarget{key: "TimeZone"}, "Timezone")
	add(adoTarget{key: "options"}, "Options")
	add(adoTarget{key: "target_session_attrs", values: lowerOf("any", "primary", "standby", "prefer-standby", "read-write", "read-only")}, "Target Session Attributes")
	add(adoTarget{key: "channel_binding", values: lowerOf("disable", "prefer", "require")}, "Channel Binding")
	add(adoTarget{key: "require_auth"}, "Require Auth")
	add(adoTarget{key: "krbsrvname"}, "Kerberos Service Name", "Krbsrvname")
	add(adoTarget{values: adoGSSEnc}, "GSS Encryption Mode")
	// Npgsql client-side features (pooling, command timeouts, buffers,
	// keepalives, type loading …): they tune a .NET client, not the server, so
	// they are accepted and have no effect on pgmi's single session.
	add(adoTarget{}, "Enlist", "Encoding", "Pooling", "Minimum Pool Size", "MinPoolSize", "Maximum Pool Size",
		"MaxPoolSize", "Connection Idle Lifetime", "Connection Pruning Interval", "Connection Lifetime",
		"Load Balance Timeout", "Command Timeout", "Cancellation Timeout", "Internal Command Timeout",
		"Load Balance Hosts", "Host Recheck Seconds", "Keepalive", "TCP Keepalive", "TCP Keepalive Time",
		"TCP Keepalive Interval", "Read Buffer Size", "Write Buffer Size", "Socket Receive Buffer Size",
		"Socket Send Buffer Size", "Max Auto Prepare", "Auto Prepare Min Usages", "No Reset On Close",
		"Array Nullability Mode", "Multiplexing", "Write Coalescing Buffer Threshold Bytes",
		"Load Table Composites", "Server Compatibility Mode", "Trust Server Certificate",
		"Check Certificate Revocation", "Persist Security Info", "Log Parameters", "Include Error Detail",
		"Include Realm", "Integrated Security")
}

func adoNorm(k string) string {
	return strings.ToLower(strings.Join(strings.Fields(k), ""))
}

func adoSSLMode(v string) (string, bool) {
	m := map[string]string{
		"disable": "disable", "allow": "allow", "prefer": "prefer", "require": "require",
		"verifyca": "verify-ca", "verify-ca": "verify-ca", "verifyfull": "verify-full", "verify-full": "verify-full",
	}
	out, ok := m[strings.ToLower(v)]
	return out, ok
}

func adoGSSEnc(v string) (string, bool) {
	l := strings.ToLower(v)
	return "", l == "disable" || l == "prefer"
}

func lowerOf(allowed ...string) func(string) (string, bool) {
	return func(v string) (string, bool) {
		l := strings.ToLower(v)
		for _, a := range allowed {
			if strings.EqualFold(strings.ReplaceAll(a, "-", ""), strings.ReplaceAll(l, "-", "")) {
				return a, true
			}
		}
		return "", false
	}
}

// AcceptedADOKeys lists the ADO.NET keys ParseConnString understands.
func AcceptedADOKeys() []string {
	return []string{"Host (Server, Data Source)", "Port", "Database (DB, Initial Catalog)",
		"Username (User Name, User Id, UserId, User, UID)", "Password (PWD, PSW)", "Passfile",
		"Application Name", "SSL Mode (Disable, Allow, Prefer, Require, VerifyCA, VerifyFull)",
		"SSL Certificate", "SSL Key", "SSL Password", "Root Certificate", "SSL Negotiation",
		"Timeout", "Search Path", "Client Encoding", "Timezone", "Options", "Target Session Attributes",
		"Channel Binding", "Require Auth", "Kerberos Service Name", "GSS Encryption Mode",
		"and Npgsql's client-side pool, timeout and buffer keys, which have no effect here"}
}

type adoPair struct {
	key, value  string
	quoted      bool
	afterSecret bool // the item may be the rest of a password (see tokenizeADO)
}

func parseADO(s string) (settings, error) {
	pairs, err := tokenizeADO(s)
	if err != nil {
		return nil, err
	}
	set := settings{}
	hostPorts := []string(nil)
	// An item that may be the rest of a password (Password=a;b=c): its
	// errors show neither its key nor its value.
	for _, p := range pairs {
		t, ok := adoKeys[adoNorm(p.key)]
		if !ok {
			return nil, unknownADOKey(p.key, p.afterSecret)
		}
		v, err := adoCheckValue(p, t, p.afterSecret)
		if err != nil {
			return nil, err
		}
		switch t.key {
		case "":
		case "host":
			hosts, ports, err := adoHosts(v)
			if err != nil {
				return nil, err
			}
			set["host"], hostPorts = hosts, ports
		default:
			if err := set.put(t.key, v); err != nil {
				return nil, err
			}
		}
	}
	return set, mergeADOPorts(set, hostPorts)
}

// adoCheckValue maps an item's value through its key's value set. After an
// unquoted password, the value is also checked here the way applySetting
// will check it, so that an invalid one is reported without its text.
func adoCheckValue(p adoPair, t adoTarget, afterSecret bool) (string, error) {
	key, v := strings.TrimSpace(p.key), p.value
	const hint = " (a password holding ';' must be quoted: Password='a;b')"
	what := key + " after the password"
	if t.values != nil {
		mapped, ok := t.values(v)
		switch {
		case !ok && afterSecret:
			return "", configErr("invalid connection string: invalid %s (the value of %s is not shown: it may be part of the password)%s", key, what, hint)
		case !ok:
			return "", configErr("invalid connection string: %s=%s is not a valid value", key, shown(v, "<a value that is not printable text>"))
		}
		v = mapped
	}
	if afterSecret && coreKeys[t.key] && t.key != "host" {
		if err := checkAfterSecret(t.key, v, what, hint); err != nil {
			return "", err
		}
	}
	return v, nil
}

func unknownADOKey(key string, afterSecret bool) error {
	accepted := "accepted keys: " + strings.Join(AcceptedADOKeys(), "; ")
	if afterSecret {
		// The "key" may be the rest of a password holding an unquoted ';'.
		return configErr("invalid connection string: unknown key after a password (a value holding ';' must be quoted: Password='a;b'); %s", accepted)
	}
	return configErr("invalid connection string: unknown key %s; %s", safeKeyName(strings.TrimSpace(key)), accepted)
}

// adoHosts splits Npgsql's Host list ("h1:5432,[::1]:5433,/tmp") into hosts
// and per-host ports ("" where a host has none).
func adoHosts(v string) (string, []string, error) {
	items := splitList(v)
	hosts := make([]string, len(items))
	ports := make([]string, len(items))
	for i, item := range items {
		if IsSocketDir(item) || strings.Count(item, ":") > 1 && !strings.HasPrefix(item, "[") {
			hosts[i] = item // a socket directory, or a bare IPv6 literal
			continue
		}
		h, p, err := splitHostPort(item)
		if err != nil {
			return "", nil, err
		}
		hosts[i], ports[i] = h, p
	}
	return strings.Join(hosts, ","), ports, nil
}

// mergeADOPorts lets ports written in Host win over Port for their host.
func mergeADOPorts(set settings, hostPorts []string) error {
	explicit := false
	for _, p := range hostPorts {
		explicit = explicit || p != ""
	}
	if !explicit {
		return nil
	}
	def := set["port"]
	if strings.Contains(def, ",") {
		return configErr("invalid connection string: Port must be a single number when Host lists ports")
	}
	out := make([]string, len(hostPorts))
	for i, p := range hostPorts {
		out[i] = p
		if p == "" {
			out[i] = def
		}
	}
	set["port"] = strings.Join(out, ",")
	return nil
}

// tokenizeADO splits s into pairs with .NET's DbConnectionStringBuilder rules
// and marks those that may be part of a password.
func tokenizeADO(s string) ([]adoPair, error) {
	var pairs []adoPair
	i := 0
	for {
		for i < len(s) && (s[i] == ';' || isSpace(s[i])) {
			i++
		}
		if i >= len(s) {
			break
		}
		key, next, err := adoKey(s, i)
		if err != nil {
			return nil, err
		}
		val, next, quoted, err := adoValue(s, next)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, adoPair{key: key, value: val, quoted: quoted})
		i = next
	}
	// After an unquoted password, an item may be the rest of it
	// (Password=a;b=c); so may one after a value holding "password=", from
	// a keyword/value string read as ADO.NET (Host=db password=a;b=c).
	// Marked in the order written: the password may be a duplicate dropped
	// below.
	secret := false
	for idx, p := range pairs {
		pairs[idx].afterSecret = secret
		t := adoKeys[adoNorm(p.key)]
		secret = secret || (t.key == "password" || t.key == "sslpassword") && !p.quoted ||
			strings.Contains(adoNorm(p.value), "password=")
	}
	last := map[string]int{}
	for idx, p := range pairs {
		last[adoNorm(p.key)] = idx
	}
	var out []adoPair
	for idx, p := range pairs {
		if last[adoNorm(p.key)] == idx {
			out = append(out, p)
		}
	}
	return out, nil
}

// adoKey reads a key up to its '=' ("==" is a literal '=').
func adoKey(s string, i int) (string, int, error) {
	var b strings.Builder
	for ; i < len(s); i++ {
		switch {
		case s[i] == '=' && i+1 < len(s) && s[i+1] == '=':
			b.WriteByte('=')
			i++
		case s[i] == '=':
			key := strings.TrimSpace(b.String())
			if key == "" {
				return "", 0, configErr("invalid connection string: a key is missing before '='")
			}
			return key, i + 1, nil
		case s[i] == ';':
			return "", 0, configErr("invalid connection string: an item has no '=' (items are Key=Value separated by ';'; quote a value that holds ';')")
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, configErr("invalid connection string: an item has no '=' (items are Key=Value separated by ';')")
}

// adoValue reads a quoted or unquoted value and skips its terminating ';'.
func adoValue(s string, i int) (val string, next int, quoted bool, err error) {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '\'' || s[i] == '"') {
		q := s[i]
		var b strings.Builder
		for j := i + 1; j < len(s); j++ {
			if s[j] != q {
				b.WriteByte(s[j])
				continue
			}
			if j+1 < len(s) && s[j+1] == q {
				b.WriteByte(q)
				j++
				continue
			}
			k := j + 1
			for k < len(s) && isSpace(s[k]) {
				k++
			}
			if k < len(s) && s[k] != ';' {
				return "", 0, false, configErr("invalid connection string: unexpected text after a quoted value (separate items with ';')")
			}
			return b.String(), k, true, nil
		}
		return "", 0, false, configErr("invalid connection string: a quoted value is not closed")
	}
	end := strings.IndexByte(s[i:], ';')
	if end < 0 {
		return strings.TrimSpace(s[i:]), len(s), false, nil
	}
	return strings.TrimSpace(s[i : i+end]), i + end, false, nil
}
