package pgmiyaml

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// coreConnectionKeys are the typed keys of the connection block.
var coreConnectionKeys = []string{
	"host", "port", "username", "database", "maintenance_database",
	"sslmode", "sslcert", "sslkey", "sslrootcert", "auth_method",
}

// The keys of the auth methods linked into this binary, each registered by
// its method (connect.Register calls RegisterConnectionKeys). pgmiyaml itself
// names no method.
var extraKeys = struct {
	sync.RWMutex
	owner map[string]string // key → method
	names map[string]bool   // method names
}{owner: map[string]string{}, names: map[string]bool{}}

// RegisterConnectionKeys makes keys valid in the connection block on behalf
// of the auth method owner. A key's name starts with owner and an
// underscore (aws_region for aws), so that a key of a method this binary
// does not include can be recognized as one. It panics on a key that is
// already taken or does not follow that rule.
func RegisterConnectionKeys(owner string, keys ...string) {
	extraKeys.Lock()
	defer extraKeys.Unlock()
	for _, k := range keys {
		if !strings.HasPrefix(k, owner+"_") {
			panic(fmt.Sprintf("pgmiyaml: key %q of %q must start with %q", k, owner, owner+"_"))
		}
		if prev, dup := extraKeys.owner[k]; dup || isCoreKey(k) {
			panic(fmt.Sprintf("pgmiyaml: connection key %q of %q is already taken (%s)", k, owner, prev))
		}
	}
	extraKeys.names[owner] = true
	for _, k := range keys {
		extraKeys.owner[k] = owner
	}
}

func isCoreKey(k string) bool {
	for _, c := range coreConnectionKeys {
		if c == k {
			return true
		}
	}
	return false
}

// ConnectionKeys lists the keys the connection block accepts in this
// binary: the core keys, then the registered methods' keys, sorted.
func ConnectionKeys() []string {
	extraKeys.RLock()
	defer extraKeys.RUnlock()
	return connectionKeysLocked()
}

// Check refuses a key of the connection block that no auth method of this
// binary registered, naming the key (never its value). Parse calls it; so
// does connect's resolution, for a Connection built by hand.
func (c Connection) Check() error {
	if len(c.Auth) == 0 {
		return nil
	}
	keys := make([]string, 0, len(c.Auth))
	for k := range c.Auth {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	extraKeys.RLock()
	defer extraKeys.RUnlock()
	for _, k := range keys {
		if _, ok := extraKeys.owner[k]; ok {
			continue
		}
		allowed := strings.Join(connectionKeysLocked(), ", ")
		if m, _, found := strings.Cut(k, "_"); found && m != "" && !extraKeys.names[m] {
			return fault.Errorf(fault.Config, "unknown key connection.%s in %s: this build of pgmi includes no auth method %q that would read it (allowed: %s)", k, FileName, m, allowed)
		}
		return fault.Errorf(fault.Config, "unknown key connection.%s in %s (secrets never belong in it); allowed: %s", k, FileName, allowed)
	}
	return nil
}

func connectionKeysLocked() []string {
	extra := make([]string, 0, len(extraKeys.owner))
	for k := range extraKeys.owner {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	return append(append([]string(nil), coreConnectionKeys...), extra...)
}
