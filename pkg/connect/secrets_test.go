package connect

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// The secrets scan: run the failure paths, capture everything they print
// (errors under every verb, warnings, formatted settings) and look for the
// test's passwords, token and key passphrase.
func TestSecretsNeverAppear(t *testing.T) {
	testpg.Require(t, pwErr)
	const (
		password   = "Scan-Pa55word-q1"
		token      = "Scan-T0ken-Value-q2"
		passphrase = "Scan-Phrase-q3"
	)
	secrets := []string{password, token, passphrase}
	dir := t.TempDir()
	ca := newCA(t, "ca")
	rk := rsaKey(t)
	cert := writeFile(t, dir, "c.crt", ca.issue(t, rk.Public(), "postgres"))
	key := writeFile(t, dir, "c.key", encryptedPKCS8PEM(t, rk, passphrase))
	port := pw.Port()
	var out strings.Builder
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tokenProvider := func(context.Context, *Config, *slog.Logger) (Provider, error) {
		return ProviderFunc(func(_ context.Context, cfg *pgx.ConnConfig) error { cfg.Password = token; return nil }), nil
	}
	runs := []struct {
		f   Flags
		env []string
		def AuthMethod
	}{
		{Flags{ConnString: fmt.Sprintf("postgresql://postgres:%s@127.0.0.1:%d/postgres", password, port)}, nil, ""},
		{Flags{ConnString: fmt.Sprintf("postgresql://:%s@127.0.0.1:%d/postgres", password, port)}, nil, ""},
		{Flags{ConnString: fmt.Sprintf("postgresql://:%s@127.0.0.1:bad/postgres", password)}, nil, ""},
		{Flags{ConnString: fmt.Sprintf("postgresql://u:%s@127.0.0.1:%d/postgres?sslmode=nope", password, port)}, nil, ""},
		{Flags{ConnString: fmt.Sprintf("Host=127.0.0.1;Port=%d;Username=postgres;Password=%s;Database=postgres", port, password)}, nil, ""},
		{Flags{ConnString: fmt.Sprintf("Host=127.0.0.1;Password=%s;Colour=blue", password)}, nil, ""},
		{Flags{ConnString: fmt.Sprintf("host=127.0.0.1 port=%d user=postgres password=%s dbname=postgres", port, password)}, nil, ""},
		{Flags{ConnString: fmt.Sprintf("host=127.0.0.1 password='%s", password)}, nil, ""},
		{hostFlags(pw, "postgres"), []string{"PGPASSWORD", password}, ""},
		{Flags{Host: "127.0.0.1", Port: port, User: "postgres", Database: "postgres", SSLMode: "require", SSLCert: cert, SSLKey: key}, []string{"PGSSLPASSWORD", "wrong-" + passphrase}, ""},
		{Flags{Host: "127.0.0.1", Port: port, User: "postgres", Database: "postgres", SSLMode: "require", SSLCert: cert, SSLKey: key}, []string{"PGSSLPASSWORD", passphrase, "PGPASSWORD", password}, ""},
		{Flags{Host: "127.0.0.1", Port: port, User: "postgres", Database: "postgres"}, []string{"PGPASSWORD", password}, "iamtoken"},
	}
	for _, r := range runs {
		env := isolatedEnv(t, r.env...)
		opts := &Options{Log: log, DefaultAuth: r.def, Factory: tokenProvider}
		cfg, err := ResolveConfig(r.f, env, pgmiyaml.Connection{}, opts)
		fmt.Fprintf(&out, "%v %+v %#v %s %q\n", cfg, cfg, cfg, cfg, cfg)
		if err == nil {
			_, err = openTarget(t, r.f, env, opts)
		}
		if err == nil {
			t.Errorf("%+v connected; every run here should fail", r.f.ConnString)
			continue
		}
		fmt.Fprintf(&out, "%v\n%+v\n%#v\n%s\n", err, err, err, err)
	}
	for _, s := range secrets {
		if strings.Contains(out.String(), s) {
			t.Errorf("%q appears in the output:\n%s", s, out.String())
		}
	}
}
