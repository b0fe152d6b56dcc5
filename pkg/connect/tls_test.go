package connect

import (
	"crypto/rsa"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

const keyPass = "k3y-Passphrase"

func TestClientKeyFormats(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "ca")
	rk, ek := rsaKey(t), ecKey(t)
	rsaCert := writeFile(t, dir, "rsa.crt", ca.issue(t, rk.Public(), "u"))
	ecCert := writeFile(t, dir, "ec.crt", ca.issue(t, ek.Public(), "u"))
	cases := []struct {
		name, cert string
		key        []byte
		pass       string
		want       string // "" = loads
	}{
		{"plain PKCS#1", rsaCert, pemOf("RSA PRIVATE KEY", x509MarshalPKCS1(rk)), "", ""},
		{"plain PKCS#8", ecCert, pkcs8PEM(t, ek), "", ""},
		{"plain SEC 1", ecCert, pemOf("EC PRIVATE KEY", ecDER(t, ek)), "", ""},
		{"legacy encrypted PKCS#1", rsaCert, legacyEncryptedPEM(t, rk, keyPass), keyPass, ""},
		{"encrypted PKCS#8 RSA", rsaCert, encryptedPKCS8PEM(t, rk, keyPass), keyPass, ""},
		{"encrypted PKCS#8 EC", ecCert, encryptedPKCS8PEM(t, ek, keyPass), keyPass, ""},
		{"legacy without passphrase", rsaCert, legacyEncryptedPEM(t, rk, keyPass), "", "PGSSLPASSWORD"},
		{"PKCS#8 without passphrase", rsaCert, encryptedPKCS8PEM(t, rk, keyPass), "", "PGSSLPASSWORD"},
		{"legacy wrong passphrase", rsaCert, legacyEncryptedPEM(t, rk, keyPass), "nope", "passphrase"},
		{"PKCS#8 wrong passphrase", rsaCert, encryptedPKCS8PEM(t, rk, keyPass), "nope", "passphrase"},
		{"mismatched pair", ecCert, pkcs8PEM(t, rk), "", "do not form a pair"},
		{"not a key", rsaCert, []byte("hello"), "", "no PEM private key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "_")+".key", tc.key)
			_, err := loadTLS(SSL{Mode: "require", Cert: tc.cert, Key: key, Password: Secret(tc.pass)})
			checkLoad(t, err, tc.want)
		})
	}
}

func checkLoad(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("load failed: %v", err)
	case want != "" && err == nil:
		t.Fatalf("loaded, want an error with %q", want)
	case want != "":
		if fault.KindOf(err) != fault.Config || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v (kind %v) lacks %q", err, fault.KindOf(err), want)
		}
		if strings.Contains(err.Error(), keyPass) {
			t.Errorf("error shows the passphrase: %v", err)
		}
	}
}

// Keys encrypted by the openssl tool itself, in the forms people have.
func TestClientKeysFromOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is not installed")
		}
		t.Skip("openssl is not installed; the same formats are covered by TestClientKeyFormats")
	}
	dir := t.TempDir()
	ca := newCA(t, "ca")
	rk := rsaKey(t)
	cert := writeFile(t, dir, "c.crt", ca.issue(t, rk.Public(), "u"))
	plain := writeFile(t, dir, "plain.key", pkcs8PEM(t, rk))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"pkcs8 aes-256-cbc sha256", []string{"pkcs8", "-topk8", "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256"}, ""},
		{"pkcs8 aes-128-cbc sha1", []string{"pkcs8", "-topk8", "-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"}, ""},
		{"pkcs8 aes-192-cbc sha512", []string{"pkcs8", "-topk8", "-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512"}, ""},
		{"pkcs8 des3", []string{"pkcs8", "-topk8", "-v2", "des3"}, ""},
		{"legacy pem aes256", []string{"rsa", "-aes256", "-traditional"}, ""},
		{"pkcs8 scrypt", []string{"pkcs8", "-topk8", "-scrypt"}, "openssl pkcs8 -topk8 -v2 aes-256-cbc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".key")
			args := append(tc.args, "-in", plain, "-out", out, "-passout", "pass:"+keyPass)
			if b, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
				t.Skipf("this openssl cannot write %s: %v %s", tc.name, err, b)
			}
			_, err := loadTLS(SSL{Mode: "require", Cert: cert, Key: out, Password: keyPass})
			checkLoad(t, err, tc.want)
		})
	}
}

func TestTLSFileErrorsAreConfig(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "ca")
	k := ecKey(t)
	cert := writeFile(t, dir, "c.crt", ca.issue(t, k.Public(), "u"))
	key := writeFile(t, dir, "c.key", pkcs8PEM(t, k))
	open := writeFile(t, dir, "open.key", pkcs8PEM(t, k))
	os.Chmod(open, 0o644)
	root := writeFile(t, dir, "ca.crt", ca.pem)
	junk := writeFile(t, dir, "junk.crt", []byte("not pem"))
	missing := filepath.Join(dir, "missing.pem")
	cases := []struct {
		name string
		ssl  SSL
		want string
	}{
		{"missing CA", SSL{Mode: "verify-full", RootCert: missing}, "cannot read the root certificate"},
		{"junk CA", SSL{Mode: "verify-ca", RootCert: junk}, "holds no PEM certificate"},
		{"missing cert", SSL{Cert: missing, Key: key}, "cannot read the client certificate"},
		{"missing key", SSL{Cert: cert, Key: missing}, "cannot read the client key"},
		{"cert without key", SSL{Cert: cert}, "without its key"},
		{"key without cert", SSL{Key: key}, "without its certificate"},
		{"world-readable key", SSL{Cert: cert, Key: open}, "group or world access"},
		{"verify-full without CA", SSL{Mode: "verify-full"}, "needs a root certificate"},
		{"verify-ca without CA", SSL{Mode: "verify-ca"}, "needs a root certificate"},
		{"system with require", SSL{Mode: "require", RootCert: "system"}, "verify-full"},
		{"direct with allow", SSL{Mode: "allow", Negotiation: "direct"}, "sslnegotiation=direct"},
		{"fine", SSL{Mode: "verify-full", RootCert: root, Cert: cert, Key: key}, ""},
		{"disable reads nothing", SSL{Mode: "disable", RootCert: missing, Cert: missing, Key: missing}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadTLS(tc.ssl)
			checkLoad(t, err, tc.want)
		})
	}
}

// A minimum TLS version above the maximum (the minimum defaulting to
// TLSv1.2) is a bad setting known offline, as in libpq: resolving refuses it
// as fault.Config before any connection, never at the handshake.
func TestSSLProtocolRangeInvertedIsConfigError(t *testing.T) {
	for _, q := range []string{
		"ssl_min_protocol_version=TLSv1.3&ssl_max_protocol_version=TLSv1.2",
		"ssl_max_protocol_version=TLSv1.1",
	} {
		cfg, err := ResolveConfig(Flags{ConnString: "postgresql://u@db.example.com/app?sslmode=require&" + q},
			envOf("USER", "u", "HOME", t.TempDir()), pgmiyaml.Connection{}, nil)
		if err == nil {
			_, err = NewTarget(cfg, nil)
		}
		if fault.KindOf(err) != fault.Config || !strings.Contains(err.Error(), "protocol version range") {
			t.Errorf("%s: want a fault.Config error before any connection, got %v", q, err)
		}
	}
	for _, ok := range []SSL{{MinProtocol: "TLSv1.3", MaxProtocol: "TLSv1.3"}, {MaxProtocol: "TLSv1.2"}, {MinProtocol: "TLSv1"}} {
		if _, err := loadTLS(ok); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}

func TestTLSModes(t *testing.T) {
	dir := t.TempDir()
	root := writeFile(t, dir, "ca.crt", newCA(t, "ca").pem)
	count := func(mode, rootCert, host string) (n int, plain, verify bool) {
		ts, err := loadTLS(SSL{Mode: mode, RootCert: rootCert})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ts.configs(host) {
			n++
			if c == nil {
				plain = true
				continue
			}
			verify = verify || !c.InsecureSkipVerify || c.VerifyConnection != nil
		}
		return
	}
	cases := []struct {
		mode, root, host string
		n                int
		plain, verify    bool
	}{
		{"disable", "", "h", 1, true, false},
		{"allow", "", "h", 2, true, false},
		{"prefer", "", "h", 2, true, false},
		{"", "", "h", 2, true, false},
		{"require", "", "h", 1, false, false},
		{"require", root, "h", 1, false, true},
		{"verify-ca", root, "h", 1, false, true},
		{"verify-full", root, "h", 1, false, true},
		{"", "system", "h", 1, false, true},
		{"verify-full", root, "/tmp", 1, true, false},
	}
	for _, tc := range cases {
		n, plain, verify := count(tc.mode, tc.root, tc.host)
		if n != tc.n || plain != tc.plain || verify != tc.verify {
			t.Errorf("%s root=%q host=%s: %d attempts plain=%v verify=%v; want %d %v %v", tc.mode, tc.root, tc.host, n, plain, verify, tc.n, tc.plain, tc.verify)
		}
	}
}

func x509MarshalPKCS1(k *rsa.PrivateKey) []byte { return x509MarshalPKCS1PrivateKey(k) }
