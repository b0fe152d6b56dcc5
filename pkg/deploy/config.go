package deploy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/pgmi-cloud/pgmi/pkg/bundle"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// Defaults of the settings in Config.
const (
	DefaultResultsPrefix = "pgmi-results/"
	DefaultTimeoutMargin = 10 * time.Second
	DefaultLockWait      = 30 * time.Second
	DefaultTimeout       = 15 * time.Minute
	DefaultLedgerTable   = "pgmi_ledger.deployments"
)

// Config is a deployer's configuration, read once at cold start from the
// environment (LoadConfig) and never from a bundle.
type Config struct {
	Routes        []Route                // PGMI_ROUTES; nil means every key → the target database
	Trusted       *bundle.AllowedSigners // PGMI_TRUSTED_SIGNERS or PGMI_TRUSTED_SIGNERS_URL
	AllowUnsigned bool                   // PGMI_ALLOW_UNSIGNED=true
	ResetAllow    []string               // PGMI_RESET_ALLOW: databases a reset may drop and recreate
	ResultsPrefix string                 // PGMI_RESULTS_PREFIX
	TimeoutMargin time.Duration          // PGMI_TIMEOUT_MARGIN: stop this long before the platform's deadline
	Timeout       time.Duration          // PGMI_TIMEOUT: the deadline when the platform gives none
	LockWait      time.Duration          // PGMI_LOCK_WAIT: bounded wait for a busy database
	FleetTopic    string                 // PGMI_FLEET_TOPIC: the gocloud pubsub URL fleet messages go to (needed by fleet routes)
	Ledger        Table                  // PGMI_LEDGER_TABLE, schema.table
	BucketParams  url.Values             // PGMI_BUCKET_URL_PARAMS: added to every bucket URL (endpoints, emulators)
	Limits        bundle.Limits          // PGMI_MAX_*: bundle limits, the same pgmi bundle packs under
	Target        *connect.Target        // the database server, from the same variables as the CLI

	// signers keeps Trusted fresh when it comes from PGMI_TRUSTED_SIGNERS_URL
	// (PGMI_TRUSTED_SIGNERS_TTL); nil for a fixed set.
	signers *signerSource
}

// Table is a schema-qualified table name of plain lower-case identifiers.
type Table struct{ Schema, Name string }

func (t Table) String() string { return t.Schema + "." + t.Name }

// Route sends objects whose key starts with Prefix to Database, with Params
// for the engine (on top of the bundle's pgmi.yaml params).
type Route struct {
	Prefix   string            `json:"prefix"`
	Database string            `json:"database,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
	// Fleet, instead of Database, deploys the route's uploads to many
	// databases in waves (a rollout; see Fleet).
	Fleet *Fleet `json:"fleet,omitempty"`

	fleet *FleetSpec // Fleet, checked (checkRoutes)
}

// LoadOptions are what a composition root adds to the environment.
type LoadOptions struct {
	// DefaultAuth is the auth method when PGMI_AUTH and the connection
	// settings name none: each function's own cloud.
	DefaultAuth connect.AuthMethod
	// Log receives configuration warnings (at WARN) and is the logger
	// handed to connection resolution and the auth providers
	// (connect.Options.Log); nil discards.
	Log *slog.Logger
	// Mux opens PGMI_TRUSTED_SIGNERS_URL; nil means blob.DefaultURLMux().
	Mux *blob.URLMux
	// Flags are command-line connection settings that beat the environment
	// (pgmi local); functions have none.
	Flags connect.Flags
}

// LoadConfig reads the configuration from env. Every error is
// fault.Config and names the variable to fix; a function reports it
// once, at cold start.
func LoadConfig(ctx context.Context, env connect.Env, opts *LoadOptions) (*Config, error) {
	if opts == nil {
		opts = &LoadOptions{}
	}
	get := func(k string) string { v, _ := env(k); return strings.TrimSpace(v) }
	c := &Config{ResultsPrefix: DefaultResultsPrefix, TimeoutMargin: DefaultTimeoutMargin, LockWait: DefaultLockWait, Timeout: DefaultTimeout}
	steps := []func() error{
		func() (err error) { c.Routes, err = parseRoutes(get("PGMI_ROUTES")); return err },
		func() (err error) {
			c.AllowUnsigned, err = parseBool("PGMI_ALLOW_UNSIGNED", get("PGMI_ALLOW_UNSIGNED"))
			return err
		},
		func() (err error) { c.Trusted, c.signers, err = loadTrusted(ctx, get, opts.Mux); return err },
		func() (err error) { c.ResetAllow, err = parseResetAllow(get("PGMI_RESET_ALLOW")); return err },
		func() error { return setString(&c.ResultsPrefix, get("PGMI_RESULTS_PREFIX")) },
		func() error { return setDuration(&c.TimeoutMargin, "PGMI_TIMEOUT_MARGIN", get("PGMI_TIMEOUT_MARGIN")) },
		func() error { return setDuration(&c.Timeout, "PGMI_TIMEOUT", get("PGMI_TIMEOUT")) },
		func() error { return setDuration(&c.LockWait, "PGMI_LOCK_WAIT", get("PGMI_LOCK_WAIT")) },
		func() (err error) { c.Ledger, err = parseTable(get("PGMI_LEDGER_TABLE")); return err },
		func() (err error) { c.BucketParams, err = parseParams(get("PGMI_BUCKET_URL_PARAMS")); return err },
		func() (err error) { c.Limits, err = bundle.LimitsFromEnv(env); return err },
		func() error { return setString(&c.FleetTopic, get("PGMI_FLEET_TOPIC")) },
		func() error {
			for _, r := range c.Routes {
				if r.fleet != nil && c.FleetTopic == "" {
					return configErr("route %q deploys to a fleet, which needs a queue: set PGMI_FLEET_TOPIC (awssqs://…, gcppubsubv2://<project>/<topic>, azuresb://…; mem://… in one process)", r.Prefix)
				}
			}
			return nil
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if c.Trusted == nil && !c.AllowUnsigned {
		return nil, configErr("no trusted signers: set PGMI_TRUSTED_SIGNERS (allowed_signers text) or PGMI_TRUSTED_SIGNERS_URL, or PGMI_ALLOW_UNSIGNED=true to deploy bundles without checking their signature")
	}
	target, err := connect.ResolveWith(opts.Flags, env, pgmiyaml.Connection{}, &connect.Options{
		DefaultAuth: opts.DefaultAuth, Log: opts.Log,
	})
	if err != nil {
		return nil, err
	}
	c.Target = target
	if err := c.checkTargets(); err != nil {
		return nil, err
	}
	return c, nil
}

func configErr(format string, args ...any) error {
	return fault.Errorf(fault.Config, format, args...)
}

func parseRoutes(s string) ([]Route, error) {
	if s == "" {
		return nil, nil
	}
	routes, err := decodeRoutes(s)
	if err != nil {
		return nil, configErr("invalid PGMI_ROUTES: %v (want a JSON list of {\"prefix\":\"app/\",\"database\":\"app\",\"params\":{…}} or {\"prefix\":\"tenants/\",\"fleet\":{…}})", err)
	}
	if err := checkRoutes(routes); err != nil {
		return nil, configErr("invalid PGMI_ROUTES: %v", err)
	}
	return routes, nil
}

func parseBool(name, s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, configErr("invalid %s %q: use true or false", name, s)
	}
	return b, nil
}

func loadTrusted(ctx context.Context, get func(string) string, mux *blob.URLMux) (*bundle.AllowedSigners, *signerSource, error) {
	text := get("PGMI_TRUSTED_SIGNERS")
	u := get("PGMI_TRUSTED_SIGNERS_URL")
	ttl := DefaultSignersTTL
	if err := setDuration(&ttl, "PGMI_TRUSTED_SIGNERS_TTL", get("PGMI_TRUSTED_SIGNERS_TTL")); err != nil {
		return nil, nil, err
	}
	switch {
	case u != "" && text != "":
		return nil, nil, configErr("set PGMI_TRUSTED_SIGNERS or PGMI_TRUSTED_SIGNERS_URL, not both")
	case u != "":
		src := &signerSource{url: u, mux: mux, ttl: ttl, now: time.Now}
		set, text, err := readSigners(ctx, u, mux)
		if err != nil {
			return nil, nil, fault.Wrap(fault.Config, err, "cannot use PGMI_TRUSTED_SIGNERS_URL %s", stripQuery(u))
		}
		src.set, src.text, src.fetched = set, text, src.now()
		return set, src, nil
	case text == "":
		return nil, nil, nil
	}
	trusted, err := bundle.ParseAllowedSigners([]byte(text))
	if err != nil {
		return nil, nil, fault.Wrap(fault.Config, err, "invalid PGMI_TRUSTED_SIGNERS")
	}
	return trusted, nil, nil
}

// readSigners reads and parses the allowed_signers object at u. A storage
// failure comes back as it is; an object too large or not allowed_signers
// text is fault.Config.
func readSigners(ctx context.Context, u string, mux *blob.URLMux) (*bundle.AllowedSigners, string, error) {
	data, err := readURL(ctx, u, mux)
	if err != nil {
		return nil, "", err
	}
	if len(data) > maxSignersSize {
		return nil, "", configErr("the object is over %d bytes: more than an allowed_signers file needs (thousands of keys), and reading part of it would silently lose signers", maxSignersSize)
	}
	set, err := bundle.ParseAllowedSigners(data)
	if err != nil {
		return nil, "", fault.Wrap(fault.Config, err, "not an allowed_signers file")
	}
	return set, string(data), nil
}

// maxSignersSize bounds PGMI_TRUSTED_SIGNERS_URL's object: thousands of
// keys, read once at cold start.
const maxSignersSize = 1 << 20

// readURL reads a small object by its gocloud URL: at most maxSignersSize
// bytes and one more, so the caller can tell an object over the limit.
func readURL(ctx context.Context, u string, mux *blob.URLMux) ([]byte, error) {
	bucketURL, key, err := SplitBundleURL(stripQuery(u))
	if err != nil {
		return nil, err
	}
	if q := query(u); q != "" {
		bucketURL += "?" + q
	}
	if mux == nil {
		mux = blob.DefaultURLMux()
	}
	b, err := mux.OpenBucket(ctx, bucketURL)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	r, err := b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, maxSignersSize+1))
}

func stripQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

func query(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[i+1:]
	}
	return ""
}

// splitList splits on commas and white space.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

func setString(dst *string, s string) error {
	if s != "" {
		*dst = s
	}
	return nil
}

func setDuration(dst *time.Duration, name, s string) error {
	if s == "" {
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if n, nerr := strconv.Atoi(s); nerr == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
	}
	if err != nil || d < 0 {
		return configErr("invalid %s %q: a duration such as 10s or 2m", name, s)
	}
	*dst = d
	return nil
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// parseTable reads PGMI_LEDGER_TABLE. The ledger's SQL names the table
// unquoted, so each part must be a plain identifier that is not a word
// PostgreSQL reserves, and the schema not one the system owns (pg_*,
// information_schema), where it could never be created.
func parseTable(s string) (Table, error) {
	if s == "" {
		s = DefaultLedgerTable
	}
	schema, name, ok := strings.Cut(s, ".")
	if !ok || !identRE.MatchString(schema) || !identRE.MatchString(name) {
		return Table{}, configErr("invalid PGMI_LEDGER_TABLE %q: want schema.table in lower-case letters, digits and _", s)
	}
	for _, part := range []string{schema, name} {
		if reservedWords[part] {
			return Table{}, configErr("invalid PGMI_LEDGER_TABLE %q: %q is a reserved word in PostgreSQL; pick another name", s, part)
		}
	}
	if len(name)+len(progressSuffix) > maxNameLen {
		return Table{}, configErr("invalid PGMI_LEDGER_TABLE %q: the table name is over %d bytes, so the ledger's function %s%s would be cut to PostgreSQL's %d", s, maxNameLen-len(progressSuffix), name, progressSuffix, maxNameLen)
	}
	if strings.HasPrefix(schema, "pg_") || schema == "information_schema" {
		return Table{}, configErr("invalid PGMI_LEDGER_TABLE %q: %s is a system schema; the ledger needs a schema of its own (default %s)", s, schema, DefaultLedgerTable)
	}
	return Table{schema, name}, nil
}

// progressSuffix names the ledger's progress function after its table
// (ledger.progressFunction).
const progressSuffix = "_progress"

// reservedWords are PostgreSQL's reserved key words and those reserved
// except as function or type names (pg_get_keywords() catcode R and T):
// neither can name a schema or a table unquoted.
var reservedWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
		all analyse analyze and any array as asc asymmetric both case cast check collate column
		constraint create current_catalog current_date current_role current_time current_timestamp
		current_user default deferrable desc distinct do else end except false fetch for foreign from
		grant group having in initially intersect into lateral leading limit localtime localtimestamp
		not null offset on only or order placing primary references returning select session_user
		some symmetric system_user table then to trailing true union unique user using variadic when
		where window with
		authorization binary collation concurrently cross current_schema freeze full ilike inner is
		isnull join left like natural notnull outer overlaps right similar tablesample verbose`) {
		m[w] = true
	}
	return m
}()

func parseParams(s string) (url.Values, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return nil, configErr("invalid PGMI_BUCKET_URL_PARAMS %q: want URL query parameters such as region=eu-west-1&endpoint=…", s)
	}
	return v, nil
}

// String summarises the configuration for the cold-start log line, without
// secrets.
func (c *Config) String() string {
	signers := "unsigned bundles allowed"
	if c.Trusted != nil {
		signers = fmt.Sprintf("%d trusted signer(s)", c.Trusted.Len())
		if c.AllowUnsigned {
			signers += ", unsigned allowed"
		}
	}
	where := fmt.Sprintf("%s:%d", c.Target.Config.Host, c.Target.Config.Port)
	if d := c.Target.Settings.Describe(); d != "" {
		where = d
	}
	return fmt.Sprintf("target %s@%s/%s (%s), %d route(s), %s, resets allowed for %v, results under %q, ledger %s",
		c.Target.Config.User, where, c.Target.Database(), c.Target.Settings.Auth,
		len(c.Routes), signers, c.ResetAllow, c.ResultsPrefix, c.Ledger)
}
