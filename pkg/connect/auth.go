package connect

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// claim is one source asking for an auth method.
type claim struct {
	method AuthMethod
	source string
}

// resolveAuth picks the auth method and its settings.
//
// Every source that names a method is a claim: a method's boolean flag, the
// flags of its settings (which imply it), PGMI_AUTH and the PGMI_* variables
// of its settings, and pgmi.yaml's auth_method and its settings' keys.
// Claims for two different methods are an error, whatever their sources.
// Ambient variables of a setting never claim; they only supply values.
func resolveAuth(cfg *Config, f Flags, env Env, yml pgmiyaml.Connection, opts *Options, explicitUser bool) error {
	if err := yml.Check(); err != nil {
		return err
	}
	methods := Methods()
	claims, err := authClaims(methods, f, env, yml)
	if err != nil {
		return err
	}
	method, err := pickMethod(claims, opts)
	if err != nil {
		return err
	}
	cfg.Auth = method
	m, ok := LookupMethod(method)
	if !ok {
		return nil // password, or a method NewTarget reports as not in this build
	}
	cfg.AuthSettings = methodSettings(m, f, env, yml)
	if m.Validate == nil {
		return nil
	}
	return m.Validate(cfg.AuthSettings, cfg, explicitUser)
}

// flagSet reports whether a boolean flag is on in Flags.Auth.
func flagSet(v string) bool {
	switch strings.ToLower(v) {
	case "", "false", "0", "f":
		return false
	}
	return true
}

func authClaims(methods []Method, f Flags, env Env, yml pgmiyaml.Connection) ([]claim, error) {
	var out []claim
	add := func(set bool, m AuthMethod, source string) {
		if set {
			out = append(out, claim{m, source})
		}
	}
	for _, m := range methods {
		add(flagSet(f.Auth[m.Flag]), m.Name, "--"+m.Flag)
		for _, s := range m.Settings {
			if s.Flag != "" {
				add(f.Auth[s.Flag] != "", m.Name, "--"+s.Flag)
			}
		}
	}
	for _, named := range []struct{ value, source string }{
		{env.get("PGMI_AUTH"), "PGMI_AUTH"}, {yml.AuthMethod, "pgmi.yaml connection.auth_method"},
	} {
		if named.value == "" {
			continue
		}
		m, ok := ParseAuthMethod(named.value)
		if !ok {
			return nil, configErr("invalid authentication method %q in %s: use %s", clip(named.value), named.source, methodList())
		}
		out = append(out, claim{m, named.source})
	}
	for _, m := range methods {
		for _, s := range m.Settings {
			for _, name := range s.Env {
				add(env.get(name) != "", m.Name, name)
			}
		}
	}
	for _, m := range methods {
		for _, s := range m.Settings {
			if s.YAML != "" {
				add(yml.Auth[s.YAML] != "", m.Name, "pgmi.yaml connection."+s.YAML)
			}
		}
	}
	return out, nil
}

func pickMethod(claims []claim, opts *Options) (AuthMethod, error) {
	bySource := map[AuthMethod][]string{}
	var order []AuthMethod
	for _, c := range claims {
		if _, seen := bySource[c.method]; !seen {
			order = append(order, c.method)
		}
		bySource[c.method] = append(bySource[c.method], c.source)
	}
	switch len(order) {
	case 0:
		if opts != nil && opts.DefaultAuth != "" {
			return opts.DefaultAuth, nil
		}
		return AuthPassword, nil
	case 1:
		return order[0], nil
	}
	parts := make([]string, len(order))
	for i, m := range order {
		parts[i] = fmt.Sprintf("%s asks for %s", strings.Join(bySource[m], " and "), m)
	}
	sort.Strings(parts)
	return "", configErr("conflicting authentication methods: %s; choose one", strings.Join(parts, ", "))
}

// methodSettings resolves each of m's settings: its flag, then its PGMI_*
// variables, then its ambient variables, then its pgmi.yaml key.
func methodSettings(m Method, f Flags, env Env, yml pgmiyaml.Connection) AuthSettings {
	out := AuthSettings{m: map[string]authValue{}}
	for _, s := range m.Settings {
		var cands []authValue
		if s.Flag != "" {
			cands = append(cands, authValue{f.Auth[s.Flag], "--" + s.Flag})
		}
		for _, name := range append(append([]string(nil), s.Env...), s.Ambient...) {
			cands = append(cands, authValue{env.get(name), name})
		}
		if s.YAML != "" {
			cands = append(cands, authValue{yml.Auth[s.YAML], "pgmi.yaml connection." + s.YAML})
		}
		for _, c := range cands {
			if c.val != "" {
				if s.Fold {
					c.val = strings.ToLower(c.val)
				}
				out.m[s.Key] = c
				break
			}
		}
	}
	return out
}
