package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

func decodeRoutes(s string) ([]Route, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var routes []Route
	if err := dec.Decode(&routes); err != nil {
		return nil, err
	}
	// Only white space may follow the list (dec.More is false before a
	// stray ']' or '}').
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return routes, nil
}

// checkRoutes checks the decoded routes one by one: what every event
// routed there would fail on is refused at cold start.
func checkRoutes(routes []Route) error {
	if len(routes) == 0 {
		return fmt.Errorf("the list is empty (unset PGMI_ROUTES to send every key to PGDATABASE)")
	}
	seen := map[string]bool{}
	for i := range routes {
		r := &routes[i]
		switch {
		case r.Fleet != nil && r.Database != "":
			return fmt.Errorf("route %d (prefix %q) names both a database and a fleet: give one", i+1, r.Prefix)
		case r.Fleet != nil:
			spec, err := r.Fleet.spec()
			if err != nil {
				return fmt.Errorf("route %d (prefix %q): %v", i+1, r.Prefix, err)
			}
			r.fleet = spec
		case r.Database == "":
			return fmt.Errorf("route %d (prefix %q) has no database (or fleet)", i+1, r.Prefix)
		default:
			if err := checkDatabase(r.Database); err != nil {
				return fmt.Errorf("route %d (prefix %q): %v", i+1, r.Prefix, err)
			}
		}
		if seen[r.Prefix] {
			return fmt.Errorf("prefix %q appears twice", r.Prefix)
		}
		seen[r.Prefix] = true
		if _, err := routeParams(*r); err != nil {
			return fmt.Errorf("route %d: %v", i+1, err)
		}
	}
	return nil
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

// resetAllowed reports whether db may be dropped and recreated: listed in
// PGMI_RESET_ALLOW, and never a template or the maintenance database
// (LoadConfig refuses those in the list; this holds whatever the list says).
func (c *Config) resetAllowed(db string) bool {
	if isTemplate(db) || db == c.Target.Maintenance {
		return false
	}
	return slices.Contains(c.ResetAllow, db)
}

// checkPayloadDatabase checks the database a deploy request names itself
// (scheduled and queued action payloads) against routed, the database the
// configuration sends the bundle's key to. A payload may repeat that
// database or leave it out; it never chooses another, and never names a
// template or the maintenance database, whatever the routes say. The
// refusal is a configuration error: permanent, exit 10.
func (c *Config) checkPayloadDatabase(named, routed string) error {
	switch {
	case named == "":
		return nil
	case isTemplate(named) || named == c.Target.Maintenance:
		return configErr("deploy to database %q refused: an action payload never targets a template or the maintenance database, whatever PGMI_ROUTES says", named)
	case named != routed:
		where := "its route in PGMI_ROUTES"
		if c.Routes == nil {
			where = "PGDATABASE, as PGMI_ROUTES is unset"
		}
		return configErr("deploy to database %q refused: this bundle deploys to %q (%s); an action payload's database may only repeat that, or be left out", named, routed, where)
	}
	return nil
}

// checkTargets refuses, at cold start, what needs the resolved connection
// to judge: the maintenance database in PGMI_RESET_ALLOW, and a target
// database no deploy could use when PGMI_ROUTES is unset.
func (c *Config) checkTargets() error {
	for _, db := range c.ResetAllow {
		if db == c.Target.Maintenance {
			return configErr("invalid PGMI_RESET_ALLOW: %q is the maintenance database, which a reset connects to in order to drop and recreate its target; it is never reset", db)
		}
	}
	if db := c.Target.Database(); c.Routes == nil && db != "" {
		if err := checkDatabase(db); err != nil {
			return configErr("invalid target database (PGDATABASE or the connection string's dbname; PGMI_ROUTES is unset, so every bundle deploys there): %v", err)
		}
	}
	return nil
}

func parseResetAllow(s string) ([]string, error) {
	list := splitList(s)
	for _, db := range list {
		if err := checkDatabase(db); err != nil {
			return nil, configErr("invalid PGMI_RESET_ALLOW: %v", err)
		}
	}
	return list, nil
}

// maxNameLen is PostgreSQL's longest name (NAMEDATALEN-1 bytes); a longer
// one is silently cut to another name.
const maxNameLen = 63

// checkDatabase refuses a database name every event would fail on, or
// that names a template: too long, NUL or another control character, not
// UTF-8.
func checkDatabase(db string) error {
	switch {
	case len(db) > maxNameLen:
		return fmt.Errorf("database name %q is %d bytes; PostgreSQL keeps only %d", db, len(db), maxNameLen)
	case !utf8.ValidString(db):
		return fmt.Errorf("database name %q is not valid UTF-8", db)
	case strings.ContainsFunc(db, unicode.IsControl):
		return fmt.Errorf("database name %q holds a control character", db)
	case isTemplate(db):
		return fmt.Errorf("%q is a template database: pgmi never deploys into or resets a template", db)
	}
	return nil
}

func isTemplate(db string) bool { return db == "template0" || db == "template1" }
