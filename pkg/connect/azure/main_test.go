package azure

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
	crt, key, err := selfSignedServerCert()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var stop func()
	pg, stop, pgErr = testpg.StartMain(
		testpg.WithPasswordAuth(),
		testpg.WithConfig("ssl", "on"),
		testpg.WithConfig("ssl_cert_file", "server.crt"),
		testpg.WithConfig("ssl_key_file", "server.key"),
		testpg.WithFile("server.crt", crt),
		testpg.WithFile("server.key", key),
		testpg.WithHBA("local all all trust", "hostssl all all 127.0.0.1/32 scram-sha-256"),
	)
	code := m.Run()
	stop()
	os.Exit(code)
}

func selfSignedServerCert() (crtPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// newRole creates a login role without a password, dropped at cleanup.
func newRole(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e6)
	pg.Exec(t, "postgres", "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN")
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), pg.ConnString("postgres"))
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(context.Background())
		conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{name}.Sanitize())
	})
	return name
}

// setPassword makes secret the role's password, as the database-side
// stand-in for RDS checking the token's signature.
func setPassword(ctx context.Context, role, secret string) error {
	conn, err := pgx.Connect(ctx, pg.ConnString("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	lit := "'" + strings.ReplaceAll(secret, "'", "''") + "'"
	_, err = conn.Exec(ctx, "ALTER ROLE "+pgx.Identifier{role}.Sanitize()+" PASSWORD "+lit)
	return err
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
	return connect.Flags{Host: pg.Host(), Port: pg.Port(), User: user, Database: "postgres", Azure: true}
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

// deps lists the non-standard packages pkg links, via go list.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatal("the go tool is not on PATH, and CI is set")
		}
		t.Skip("the go tool is not on PATH, so the dependency check cannot run")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}
