package deploy

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

func decodeRoutes(s string) ([]Route, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var routes []Route
	if err := dec.Decode(&routes); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	if len(routes) == 0 {
		return nil, fmt.Errorf("the list is empty (unset PGMI_ROUTES to send every key to PGDATABASE)")
	}
	seen := map[string]bool{}
	for i, r := range routes {
		if r.Database == "" {
			return nil, fmt.Errorf("route %d (prefix %q) has no database", i+1, r.Prefix)
		}
		if seen[r.Prefix] {
			return nil, fmt.Errorf("prefix %q appears twice", r.Prefix)
		}
		seen[r.Prefix] = true
		if _, err := routeParams(r); err != nil {
			return nil, fmt.Errorf("route %d: %v", i+1, err)
		}
	}
	return routes, nil
}

func routeParams(r Route) (engine.Params, error) {
	var p engine.Params
	for k, v := range r.Params {
		p.Set(k, v)
	}
	return p, p.Validate()
}

// route finds where an object key deploys: the longest matching prefix
// wins. With no routes configured every key goes to the target database.
func (c *Config) route(key string) (Route, bool) {
	if c.Routes == nil {
		return Route{Database: c.Target.Database()}, true
	}
	best, found := Route{}, false
	for _, r := range c.Routes {
		if strings.HasPrefix(key, r.Prefix) && (!found || len(r.Prefix) > len(best.Prefix)) {
			best, found = r, true
		}
	}
	return best, found
}

// resetAllowed reports whether db may be dropped and recreated.
func (c *Config) resetAllowed(db string) bool {
	for _, a := range c.ResetAllow {
		if a == db {
			return true
		}
	}
	return false
}
