package connect

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// pgxFor resolves f in env and returns the configuration pgx is given.
func pgxFor(t *testing.T, f Flags, env Env) (*Config, *pgx.ConnConfig) {
	t.Helper()
	cfg, err := ResolveConfig(f, env, pgmiyaml.Connection{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := NewTarget(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, tg.Config
}

// connect_timeout=0 in the connection string ("no timeout") beats
// PGCONNECT_TIMEOUT all the way to pgx, whose ParseConfig reads the process
// environment itself: the pinned base string sets connect_timeout too.
func TestConnectTimeoutZeroInStringBeatsPGCONNECT_TIMEOUT(t *testing.T) {
	t.Setenv("PGCONNECT_TIMEOUT", "7")
	env := envOf("USER", "u", "HOME", t.TempDir(), "PGCONNECT_TIMEOUT", "7")
	cfg, pc := pgxFor(t, Flags{ConnString: "postgresql://u@db.example.com/app?connect_timeout=0"}, env)
	if cfg.ConnectTimeout != 0 || pc.ConnectTimeout != 0 {
		t.Errorf("resolved ConnectTimeout %v, pgx ConnectTimeout %v; want 0 (the string's connect_timeout=0)", cfg.ConnectTimeout, pc.ConnectTimeout)
	}
}

// A server parameter in the connection string beats the PG* variable for it
// whatever the case of its name (the server ignores case): timezone=UTC
// replaces PGTZ's TimeZone, and only one of them is sent.
func TestStringTimezoneBeatsPGTZ(t *testing.T) {
	env := envOf("USER", "u", "HOME", t.TempDir(), "PGTZ", "Europe/Paris", "PGDATESTYLE", "German")
	_, pc := pgxFor(t, Flags{ConnString: "postgresql://u@db.example.com/app?timezone=UTC&datestyle=ISO"}, env)
	got := map[string][]string{}
	for k, v := range pc.RuntimeParams {
		got[strings.ToLower(k)] = append(got[strings.ToLower(k)], k+"="+v)
	}
	for name, want := range map[string]string{"timezone": "timezone=UTC", "datestyle": "datestyle=ISO"} {
		if len(got[name]) != 1 || got[name][0] != want {
			t.Errorf("startup parameters for %s: %v; want only the string's %s", name, got[name], want)
		}
	}
}
