package connect

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// AuthMethod names how a connection authenticates.
type AuthMethod string

// AuthPassword covers PGPASSWORD, .pgpass and a password in the connection
// string. Every other method is a Method registered by its own folder under
// pkg/connect, which exports its name.
const AuthPassword AuthMethod = "password"

// Method describes an auth method to the resolver and to composition roots.
// A provider package registers one from init() (Register); nothing outside
// its folder names its flags, variables, keys or rules.
type Method struct {
	// Name is what PGMI_AUTH and pgmi.yaml's auth_method accept (matched
	// case-insensitively) and what Config.Auth holds.
	Name AuthMethod
	// Title names the method in messages, such as "<Cloud> IAM
	// authentication".
	Title string
	// Flag is the boolean flag that picks the method (without dashes), with
	// its usage text.
	Flag, Usage string
	// Settings are the method's own settings, in the order of the claims
	// they make.
	Settings []Setting
	// Validate checks the resolved settings offline, before any client
	// exists. explicitUser says whether a source named the user (else it
	// is the OS account). A missing value is reported with Missing; an
	// invalid one names its source (AuthSettings.Source). nil accepts all.
	Validate func(s AuthSettings, c *Config, explicitUser bool) error
	// Describe optionally says where a connection of this method goes, for
	// messages ("" falls back to the host and port).
	Describe func(s AuthSettings) string
	// Factory builds the method's Provider.
	Factory ProviderFactory
}

// Setting is one value a method reads. Its sources, first set wins:
// Flag, then the Env variables in order, then the Ambient ones, then the
// pgmi.yaml key. Flag, Env and YAML each claim the method (giving one asks
// for it); Ambient variables only supply a value.
type Setting struct {
	Key     string   // the method's own name for it (AuthSettings.Get)
	Flag    string   // flag without dashes; its usage should say it implies the method
	Usage   string   // the flag's usage text
	Env     []string // PGMI_* variables that set it and claim the method
	Ambient []string // other variables that set it without claiming
	YAML    string   // key in pgmi.yaml's connection block; starts with the method's name and "_"
	Fold    bool     // the value is lower-cased
}

var registry = struct {
	sync.RWMutex
	m map[AuthMethod]Method
}{m: map[AuthMethod]Method{}}

// Register makes a method available to every resolution and Target in the
// binary. It is meant for init() of a provider package and panics when the
// method, one of its flags, or one of its pgmi.yaml keys is already taken.
func Register(m Method) {
	if m.Name == "" || m.Name == AuthPassword || m.Factory == nil || m.Flag == "" {
		panic(fmt.Sprintf("connect: cannot register auth method %q: it needs a name other than password, a flag and a factory", m.Name))
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[m.Name]; dup {
		panic(fmt.Sprintf("connect: auth method %q registered twice", m.Name))
	}
	flags := map[string]bool{}
	for _, o := range registry.m {
		for _, f := range o.flags() {
			flags[f] = true
		}
	}
	var yaml []string
	for _, f := range m.flags() {
		if flags[f] {
			panic(fmt.Sprintf("connect: flag --%s of auth method %q is already taken", f, m.Name))
		}
	}
	for _, s := range m.Settings {
		if s.YAML != "" {
			yaml = append(yaml, s.YAML)
		}
	}
	pgmiyaml.RegisterConnectionKeys(string(m.Name), yaml...)
	m.Settings = append([]Setting(nil), m.Settings...)
	registry.m[m.Name] = m
}

func (m Method) flags() []string {
	out := []string{m.Flag}
	for _, s := range m.Settings {
		if s.Flag != "" {
			out = append(out, s.Flag)
		}
	}
	return out
}

// Methods lists the registered methods, sorted by name; composition roots
// define their flags from it.
func Methods() []Method {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]Method, 0, len(registry.m))
	for _, m := range registry.m {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupMethod returns the registered method called name.
func LookupMethod(name AuthMethod) (Method, bool) {
	registry.RLock()
	defer registry.RUnlock()
	m, ok := registry.m[name]
	return m, ok
}

// RegisteredMethods lists the methods this binary can use, password first.
func RegisteredMethods() []AuthMethod {
	out := []AuthMethod{AuthPassword}
	for _, m := range Methods() {
		out = append(out, m.Name)
	}
	return out
}

// ParseAuthMethod accepts the registered method names (and password)
// case-insensitively.
func ParseAuthMethod(s string) (AuthMethod, bool) {
	for _, m := range RegisteredMethods() {
		if strings.EqualFold(strings.TrimSpace(s), string(m)) {
			return m, true
		}
	}
	return "", false
}

// methodList is "password, a, b or c".
func methodList() string {
	names := RegisteredMethods()
	parts := make([]string, len(names))
	for i, m := range names {
		parts[i] = string(m)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// AuthSettings are the resolved settings of a Config's auth method, by the
// method's own keys, each with the source it came from. They hold no
// secrets (no secret has a flag or a pgmi.yaml key). The zero value is empty.
type AuthSettings struct {
	m map[string]authValue
}

type authValue struct{ val, source string }

// Get returns the value of key, "" when unset.
func (s AuthSettings) Get(key string) string { return s.m[key].val }

// Source names where key's value came from (a flag, a variable, a
// pgmi.yaml key), "" when unset.
func (s AuthSettings) Source(key string) string { return s.m[key].source }

// With returns a copy of s with key set to val from source, for callers
// that build a Config themselves.
func (s AuthSettings) With(key, val, source string) AuthSettings {
	out := s.clone()
	if out.m == nil {
		out.m = map[string]authValue{}
	}
	out.m[key] = authValue{val, source}
	return out
}

// Keys lists the keys that have a value, sorted.
func (s AuthSettings) Keys() []string {
	out := make([]string, 0, len(s.m))
	for k, v := range s.m {
		if v.val != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func (s AuthSettings) clone() AuthSettings {
	if s.m == nil {
		return AuthSettings{}
	}
	out := AuthSettings{m: make(map[string]authValue, len(s.m))}
	for k, v := range s.m {
		out.m[k] = v
	}
	return out
}

// String is key=value pairs, sorted by key.
func (s AuthSettings) String() string {
	keys := s.Keys()
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + s.m[k].val
	}
	return strings.Join(parts, " ")
}

// GoString keeps %#v as readable as %v.
func (s AuthSettings) GoString() string {
	return "connect.AuthSettings{" + strconv.Quote(s.String()) + "}"
}

// Describe is the auth method's own description of where the connections
// go (a managed instance's name …), "" when it gives none; callers then
// show the host and port.
func (c Config) Describe() string {
	if m, ok := LookupMethod(c.Auth); ok && m.Describe != nil {
		return m.Describe(c.AuthSettings)
	}
	return ""
}
