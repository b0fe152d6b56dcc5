package entra

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/pgserver"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
)

// One cluster for the package, as Azure Database for PostgreSQL is: TLS on,
// and pg_hba accepts TCP logins only over TLS (scram: the role's password
// is the token).
var (
	pg    *testpg.Cluster
	pgErr error
)

func TestMain(m *testing.M) {
	var stop func()
	pg, stop, pgErr = testpg.StartMain(pgserver.WithTokenTLS())
	code := m.Run()
	stop()
	os.Exit(code)
}

// newRole creates a login role without a password, dropped at cleanup.
func newRole(t *testing.T, prefix string) string { return pg.NewRole(t, prefix) }

// setPassword makes secret the role's password, as the database-side
// stand-in for the cloud database checking the token.
func setPassword(ctx context.Context, role, secret string) error {
	return pg.SetPassword(ctx, role, secret)
}

// baseEnv is what the connect resolver sees: a private HOME, nothing else.
// azidentity reads the process environment, which tests set with
// t.Setenv.
func baseEnv(t *testing.T, kv ...string) connect.Env {
	m := map[string]string{"HOME": t.TempDir(), "USER": "nobody-in-particular"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// flags targets the package cluster as user with Entra ID.
func flags(user string) connect.Flags {
	return connect.Flags{Host: pg.Host(), Port: pg.Port(), User: user, Database: "postgres", Auth: map[string]string{"azure": "true"}}
}

// assertNoSecrets fails when any secret appears in any of the texts.
func assertNoSecrets(t *testing.T, texts []string, secrets ...string) {
	t.Helper()
	for _, text := range texts {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("output contains a secret (%.12s…): %s", s, text)
			}
		}
	}
}

func errTexts(err error) []string {
	if err == nil {
		return nil
	}
	return []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
}
