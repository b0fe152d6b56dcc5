package deploy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// configEnv is a complete function environment that needs no server.
func configEnv(t *testing.T, set env) env {
	t.Helper()
	e := env{"PGHOST": "127.0.0.1", "PGUSER": "u", "PGDATABASE": "app", "PGMI_TRUSTED_SIGNERS": testbundle.NewKey(t).AllowedSigners}
	for k, v := range set {
		e[k] = v
	}
	return e
}

// wantConfigErr loads e and wants a one-line exit-10 error naming setting.
func wantConfigErr(t *testing.T, e env, setting string) {
	t.Helper()
	_, err := deploy.LoadConfig(context.Background(), e.lookup, nil)
	if err == nil {
		t.Fatalf("LoadConfig accepted it; want an error naming %s", setting)
	}
	if msg := err.Error(); !strings.Contains(msg, setting) || strings.Contains(msg, "\n") {
		t.Fatalf("err = %q, want one line naming %s", msg, setting)
	}
	var coded *fault.Error
	if !errors.As(err, &coded) || exitcode.Of(coded) != 10 {
		t.Fatalf("err %v is not exit 10", err)
	}
}

func route(db string) string {
	return `[{"prefix":"app/","database":"` + db + `"}]`
}

// Settings that would fail every event later fail the cold start instead,
// naming the variable.
func TestLoadConfigRefusesWhatFailsEveryEvent(t *testing.T) {
	long := strings.Repeat("d", 64)
	cases := []struct {
		name    string
		set     env
		setting string
	}{
		{"route database with NUL", env{"PGMI_ROUTES": route(`app\u0000x`)}, "PGMI_ROUTES"},
		{"route database over 63 bytes", env{"PGMI_ROUTES": route(long)}, "PGMI_ROUTES"},
		{"route database over 63 bytes of UTF-8", env{"PGMI_ROUTES": route(strings.Repeat("é", 32))}, "PGMI_ROUTES"},
		{"route to a template", env{"PGMI_ROUTES": route("template1")}, "PGMI_ROUTES"},
		{"routes followed by a stray bracket", env{"PGMI_ROUTES": route("app") + "]"}, "PGMI_ROUTES"},
		{"routes followed by a stray brace", env{"PGMI_ROUTES": route("app") + " }"}, "PGMI_ROUTES"},
		{"target a template", env{"PGDATABASE": "template0"}, "PGDATABASE"},
		{"target over 63 bytes", env{"PGDATABASE": long}, "PGDATABASE"},
		{"reset list with NUL", env{"PGMI_RESET_ALLOW": "a,b\x00c"}, "PGMI_RESET_ALLOW"},
		{"reset list not UTF-8", env{"PGMI_RESET_ALLOW": "caf\xe9"}, "PGMI_RESET_ALLOW"},
		{"reset list over 63 bytes", env{"PGMI_RESET_ALLOW": "app_dev," + long}, "PGMI_RESET_ALLOW"},
		{"reset list with a template", env{"PGMI_RESET_ALLOW": "app_dev template1"}, "PGMI_RESET_ALLOW"},
		{"reset list with the maintenance database", env{"PGMI_RESET_ALLOW": "postgres"}, "PGMI_RESET_ALLOW"},
		{"ledger schema reserved word", env{"PGMI_LEDGER_TABLE": "select.deployments"}, "PGMI_LEDGER_TABLE"},
		{"ledger table reserved word", env{"PGMI_LEDGER_TABLE": "ops.table"}, "PGMI_LEDGER_TABLE"},
		{"ledger in pg_catalog", env{"PGMI_LEDGER_TABLE": "pg_catalog.deployments"}, "PGMI_LEDGER_TABLE"},
		{"ledger in pg_toast", env{"PGMI_LEDGER_TABLE": "pg_toast.deployments"}, "PGMI_LEDGER_TABLE"},
		{"ledger in pg_temp", env{"PGMI_LEDGER_TABLE": "pg_temp.deployments"}, "PGMI_LEDGER_TABLE"},
		{"ledger in information_schema", env{"PGMI_LEDGER_TABLE": "information_schema.deployments"}, "PGMI_LEDGER_TABLE"},
		{"ledger table name over 54 bytes", env{"PGMI_LEDGER_TABLE": "ops." + strings.Repeat("t", 55)}, "PGMI_LEDGER_TABLE"},
		{"ledger three parts", env{"PGMI_LEDGER_TABLE": "a.b.c"}, "PGMI_LEDGER_TABLE"},
		{"bad ratio", env{"PGMI_MAX_RATIO": "lots"}, "PGMI_MAX_RATIO"},
		{"zero total size", env{"PGMI_MAX_TOTAL_SIZE": "0"}, "PGMI_MAX_TOTAL_SIZE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantConfigErr(t, configEnv(t, c.set), c.setting) })
	}
}

// Names at the limits, and every bundle limit, are read.
func TestLoadConfigAccepts(t *testing.T) {
	db63 := strings.Repeat("d", 63)
	e := configEnv(t, env{
		"PGMI_ROUTES": route(db63), "PGMI_RESET_ALLOW": db63 + ",app_dev", "PGMI_LEDGER_TABLE": "ops." + strings.Repeat("t", 54),
		"PGMI_MAX_RATIO": "500", "PGMI_MAX_TOTAL_SIZE": "64MiB", "PGMI_MAX_FILES": "10", "PGMI_MAX_FILE_SIZE": "2097152",
	})
	cfg, err := deploy.LoadConfig(context.Background(), e.lookup, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Limits
	if l.MaxRatio != 500 || l.MaxTotalSize != 64<<20 || l.MaxFiles != 10 || l.MaxFileSize != 2<<20 {
		t.Fatalf("limits %+v", l)
	}
	if cfg.Routes[0].Database != db63 || len(cfg.ResetAllow) != 2 || cfg.Ledger.Name != strings.Repeat("t", 54) {
		t.Fatalf("config %+v", cfg)
	}
}

// A signers object larger than the 1 MiB read is refused, not cut short:
// the key after the cut would silently vanish.
func TestSignersURLOverLimit(t *testing.T) {
	dir := t.TempDir()
	key := testbundle.NewKey(t)
	pad := strings.Repeat("#"+strings.Repeat("-", 1022)+"\n", 1024) // exactly 1 MiB of comments
	if err := os.WriteFile(filepath.Join(dir, "allowed_signers"), []byte(pad+key.AllowedSigners), 0o644); err != nil {
		t.Fatal(err)
	}
	e := configEnv(t, env{"PGMI_TRUSTED_SIGNERS": "", "PGMI_TRUSTED_SIGNERS_URL": "file://" + filepath.ToSlash(dir) + "/allowed_signers"})
	wantConfigErr(t, e, "PGMI_TRUSTED_SIGNERS_URL")
}

// Every word PostgreSQL reserves (as a column/table name) is refused as
// the ledger's schema or table: the ledger's SQL names it unquoted.
func TestLedgerNameNotAKeyword(t *testing.T) {
	testpg.Require(t, pgErr)
	conn := pg.Connect(t, "postgres")
	rows, err := conn.Query(context.Background(), "SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')")
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			t.Fatal(err)
		}
		words = append(words, w)
	}
	if rows.Err() != nil || len(words) < 50 {
		t.Fatalf("%d keywords: %v", len(words), rows.Err())
	}
	for _, w := range words {
		for _, table := range []string{w + ".deployments", "ops." + w} {
			_, err := deploy.LoadConfig(context.Background(), configEnv(t, env{"PGMI_LEDGER_TABLE": table}).lookup, nil)
			if err == nil || !strings.Contains(err.Error(), "PGMI_LEDGER_TABLE") {
				t.Errorf("PGMI_LEDGER_TABLE=%s: %v", table, err)
			}
		}
	}
}
