package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// Params are deployment parameters: each becomes a row of
// pg_temp._pgmi_parameter (key lower-cased) and a session setting
// pgmi.<key>. Sources merge key by key, later ones winning, before the keys
// are lower-cased (pgmi.yaml < params files in order < --param flags).
type Params struct {
	keys   []string
	values map[string]string
}

// Set adds or replaces one parameter, keeping first-set order.
func (p *Params) Set(key, value string) {
	if p.values == nil {
		p.values = map[string]string{}
	}
	if _, ok := p.values[key]; !ok {
		p.keys = append(p.keys, key)
	}
	p.values[key] = value
}

// Merge sets every parameter of other on p.
func (p *Params) Merge(other Params) {
	for _, k := range other.keys {
		p.Set(k, other.values[k])
	}
}

// Len is the number of parameters.
func (p Params) Len() int { return len(p.keys) }

// Keys returns the keys, sorted.
func (p Params) Keys() []string {
	out := append([]string(nil), p.keys...)
	sort.Strings(out)
	return out
}

// Get returns a parameter's value.
func (p Params) Get(key string) (string, bool) {
	v, ok := p.values[key]
	return v, ok
}

// ParseParamFlag parses one --param key=value (split at the first '=').
func ParseParamFlag(s string) (key, value string, err error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fault.Errorf(fault.Config, "invalid --param %q: expected key=value", s)
	}
	if key == "" {
		return "", "", fault.Errorf(fault.Config, "invalid --param %q: the key is empty", s)
	}
	return key, value, nil
}

// ParseParamsFile parses a .env-like params file: KEY=VALUE lines, blank and
// '#' lines skipped, key and value trimmed, one pair of matching quotes
// removed, no escapes or expansion. name is used in error messages.
func ParseParamsFile(name string, data []byte) (Params, error) {
	var out Params
	sc := bufio.NewScanner(bytes.NewReader(StripBOM(data)))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return Params{}, fault.Errorf(fault.Config, "params file %s: line %d: invalid format, expected KEY=VALUE", name, n)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if key == "" {
			return Params{}, fault.Errorf(fault.Config, "params file %s: line %d: the key is empty", name, n)
		}
		out.Set(key, unquote(value))
	}
	if err := sc.Err(); err != nil {
		return Params{}, fault.Wrap(fault.Config, err, "params file %s", name)
	}
	return out, nil
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

var paramKey = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,62}$`)

// Validate checks every key and value offline: keys must be identifiers of at
// most 63 characters that stay distinct once lower-cased, values valid UTF-8
// without NUL bytes. pgmi checks this only after the database was created;
// we check it before anything touches the server.
func (p Params) Validate() error {
	seen := map[string]string{}
	for _, k := range p.Keys() {
		if !paramKey.MatchString(k) {
			return fault.Errorf(fault.Config, "invalid parameter key %q: keys start with a letter or '_' and hold only letters, digits and '_' (at most 63)", k)
		}
		v := p.values[k]
		if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
			return fault.Errorf(fault.Config, "invalid value for parameter %q: it must be UTF-8 text without NUL bytes", k)
		}
		lower := strings.ToLower(k)
		if other, ok := seen[lower]; ok {
			return fault.Errorf(fault.Config, "parameters %q and %q collide: keys are case-insensitive in the session (both become pgmi.%s)", other, k, lower)
		}
		seen[lower] = k
	}
	return nil
}

// loadParams inserts the parameter rows and sets the pgmi.* settings in one batch.
func loadParams(ctx context.Context, conn *pgx.Conn, p Params) error {
	if p.Len() == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, k := range p.keys {
		b.Queue(`INSERT INTO pg_temp._pgmi_parameter (key, value) VALUES (lower($1), $2)`, k, p.values[k])
	}
	for _, k := range p.keys {
		b.Queue(`SELECT set_config('pgmi.' || lower($1), $2, false)`, k, p.values[k])
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("loading parameters: %w", err)
	}
	return nil
}
