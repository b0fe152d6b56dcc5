package connect

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/pgserver"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// sslCluster runs with ssl=on and a server certificate for localhost and
// 127.0.0.1 signed by ca; it also listens on 127.0.0.2, which the
// certificate does not name. extra options come last.
func sslCluster(t *testing.T, ca *testCA, extra ...pgserver.Option) *testpg.Cluster {
	t.Helper()
	sk := ecKey(t)
	opts := []pgserver.Option{
		pgserver.WithConfig("ssl", "on"),
		pgserver.WithConfig("ssl_cert_file", "server.crt"),
		pgserver.WithConfig("ssl_key_file", "server.key"),
		pgserver.WithConfig("listen_addresses", "127.0.0.1,127.0.0.2"),
		pgserver.WithFile("server.crt", ca.issue(t, sk.Public(), "localhost", "localhost", "127.0.0.1")),
		pgserver.WithFile("server.key", pkcs8PEM(t, sk)),
		pgserver.WithHBA("local all all trust", "host all all 127.0.0.0/8 trust"),
	}
	return testpg.Start(t, append(opts, extra...)...)
}

func usesSSL(t *testing.T, conn *pgx.Conn) bool {
	t.Helper()
	var ssl bool
	if err := conn.QueryRow(t.Context(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
		t.Fatal(err)
	}
	return ssl
}

func TestSSLModesAgainstARealServer(t *testing.T) {
	ca, other := newCA(t, "pgmi test CA"), newCA(t, "someone else's CA")
	c := sslCluster(t, ca)
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.crt", ca.pem)
	otherFile := writeFile(t, dir, "other.crt", other.pem)
	has127002 := canListen("127.0.0.2:0")
	cases := []struct {
		name, host, mode, root string
		ssl                    bool
		fail                   string // "" = connects
	}{
		{"disable", "127.0.0.1", "disable", "", false, ""},
		{"allow tries plaintext first", "127.0.0.1", "allow", "", false, ""},
		{"prefer", "127.0.0.1", "prefer", "", true, ""},
		{"default is prefer", "127.0.0.1", "", "", true, ""},
		{"require without a CA does not verify", "127.0.0.1", "require", "", true, ""},
		{"require with a CA verifies the chain", "127.0.0.1", "require", otherFile, false, "SSL/TLS"},
		{"verify-ca", "127.0.0.1", "verify-ca", caFile, true, ""},
		{"verify-ca with a foreign CA", "127.0.0.1", "verify-ca", otherFile, false, "SSL/TLS"},
		{"verify-full by IP", "127.0.0.1", "verify-full", caFile, true, ""},
		{"verify-full by name", "localhost", "verify-full", caFile, true, ""},
		{"verify-full with a foreign CA", "localhost", "verify-full", otherFile, false, "SSL/TLS"},
		{"verify-full and the system CAs", "localhost", "verify-full", "system", false, "SSL/TLS"},
		{"verify-ca ignores a wrong host name", "127.0.0.2", "verify-ca", caFile, true, ""},
		{"verify-full refuses a wrong host name", "127.0.0.2", "verify-full", caFile, false, "SSL/TLS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.host == "127.0.0.2" && !has127002 {
				t.Skip("127.0.0.2 is not a loopback address on this machine")
			}
			f := Flags{Host: tc.host, Port: c.Port(), User: "postgres", Database: "postgres", SSLMode: tc.mode, SSLRootCert: tc.root}
			conn, err := openTarget(t, f, isolatedEnv(t), nil)
			if tc.fail != "" {
				t.Log(err)
				if exitcode.Of(err) != 11 || !strings.Contains(err.Error(), tc.fail) {
					t.Fatalf("exit %d: %v", exitcode.Of(err), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := usesSSL(t, conn); got != tc.ssl {
				t.Errorf("ssl = %v, want %v", got, tc.ssl)
			}
		})
	}

	t.Run("ADO.NET VerifyFull", func(t *testing.T) {
		f := Flags{ConnString: "Host=localhost;Port=" + itoa(c.Port()) + ";Username=postgres;Database=postgres;SSL Mode=VerifyFull;Root Certificate=" + caFile}
		if conn := mustOpen(t, f, isolatedEnv(t)); !usesSSL(t, conn) {
			t.Error("no SSL")
		}
	})
	t.Run("~/.postgresql/root.crt makes require verify", func(t *testing.T) {
		env := isolatedEnv(t)
		home, _ := env("HOME")
		writeFile(t, mkdir(t, filepath.Join(home, ".postgresql")), "root.crt", other.pem)
		_, err := openTarget(t, Flags{Host: "127.0.0.1", Port: c.Port(), User: "postgres", Database: "postgres", SSLMode: "require"}, env, nil)
		if exitcode.Of(err) != 11 {
			t.Errorf("exit %d: %v", exitcode.Of(err), err)
		}
	})
}

func TestMutualTLS(t *testing.T) {
	ca, other := newCA(t, "pgmi test CA"), newCA(t, "someone else's CA")
	c := sslCluster(t, ca,
		pgserver.WithConfig("ssl_ca_file", "ca.crt"),
		pgserver.WithFile("ca.crt", ca.pem),
		pgserver.WithHBA("local all all trust", "hostssl all all 127.0.0.1/32 cert"))
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.crt", ca.pem)
	ek, rk, fk := ecKey(t), rsaKey(t), ecKey(t)
	ecCert := writeFile(t, dir, "ec.crt", ca.issue(t, ek.Public(), "postgres"))
	rsaCert := writeFile(t, dir, "rsa.crt", ca.issue(t, rk.Public(), "postgres"))
	foreignCert := writeFile(t, dir, "foreign.crt", other.issue(t, fk.Public(), "postgres"))
	ecKeyFile := writeFile(t, dir, "ec.key", pkcs8PEM(t, ek))
	legacyKey := writeFile(t, dir, "legacy.key", legacyEncryptedPEM(t, rk, keyPass))
	pkcs8Key := writeFile(t, dir, "pkcs8.key", encryptedPKCS8PEM(t, rk, keyPass))
	foreignKey := writeFile(t, dir, "foreign.key", pkcs8PEM(t, fk))
	base := Flags{Host: "127.0.0.1", Port: c.Port(), User: "postgres", Database: "postgres", SSLMode: "verify-full", SSLRootCert: caFile}
	with := func(cert, key string) Flags { f := base; f.SSLCert, f.SSLKey = cert, key; return f }

	t.Run("valid client certificate", func(t *testing.T) {
		conn := mustOpen(t, with(ecCert, ecKeyFile), isolatedEnv(t))
		if dn := queryString(t, conn, "SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()"); dn != "/CN=postgres" {
			t.Errorf("client_dn = %q", dn)
		}
	})
	t.Run("certificate paths from the environment", func(t *testing.T) {
		mustOpen(t, base, isolatedEnv(t, "PGSSLCERT", ecCert, "PGSSLKEY", ecKeyFile))
	})
	t.Run("encrypted PKCS#1 key with PGSSLPASSWORD", func(t *testing.T) {
		mustOpen(t, with(rsaCert, legacyKey), isolatedEnv(t, "PGSSLPASSWORD", keyPass))
	})
	t.Run("encrypted PKCS#8 key with PGSSLPASSWORD", func(t *testing.T) {
		mustOpen(t, with(rsaCert, pkcs8Key), isolatedEnv(t, "PGSSLPASSWORD", keyPass))
	})
	t.Run("encrypted key, passphrase in the connection string", func(t *testing.T) {
		f := Flags{ConnString: "postgresql://postgres@127.0.0.1:" + itoa(c.Port()) + "/postgres?sslmode=verify-ca&sslrootcert=" + caFile +
			"&sslcert=" + rsaCert + "&sslkey=" + pkcs8Key + "&sslpassword=" + keyPass}
		mustOpen(t, f, isolatedEnv(t))
	})
	for _, tc := range []struct {
		name, pass string
	}{{"encrypted key without PGSSLPASSWORD", ""}, {"encrypted key with a wrong PGSSLPASSWORD", "not-" + keyPass}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openTarget(t, with(rsaCert, pkcs8Key), isolatedEnv(t, "PGSSLPASSWORD", tc.pass), nil)
			if exitcode.Of(err) != 10 || !strings.Contains(err.Error(), "PGSSLPASSWORD") || strings.Contains(err.Error(), keyPass) {
				t.Errorf("exit %d: %v", exitcode.Of(err), err)
			}
		})
	}
	t.Run("missing client certificate", func(t *testing.T) {
		_, err := openTarget(t, base, isolatedEnv(t), nil)
		t.Log(err)
		if exitcode.Of(err) != 11 || !strings.Contains(err.Error(), "--sslcert") {
			t.Errorf("exit %d: %v", exitcode.Of(err), err)
		}
	})
	t.Run("foreign client certificate", func(t *testing.T) {
		_, err := openTarget(t, with(foreignCert, foreignKey), isolatedEnv(t), nil)
		t.Log(err)
		if exitcode.Of(err) != 11 || !strings.Contains(err.Error(), "--sslcert") {
			t.Errorf("exit %d: %v", exitcode.Of(err), err)
		}
	})
}

func canListen(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func itoa(n int) string { return fmtInt(n) }
