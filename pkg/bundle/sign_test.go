package bundle

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// needSSHKeygen returns the ssh-keygen path; under CI=true its absence fails.
func needSSHKeygen(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ssh-keygen")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ssh-keygen not installed (apt-get install openssh-client)")
		}
		t.Skip("ssh-keygen not installed (apt-get install openssh-client)")
	}
	return p
}

func keyOfType(t *testing.T, typ string) testKey {
	t.Helper()
	if typ == "ed25519" {
		return newKey(t)
	}
	var priv any
	var err error
	switch typ {
	case "rsa":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ecdsa":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return testKey{signer: signer, pemKey: pem.EncodeToMemory(block), pub: string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(signer.PublicKey())))}
}

func TestSSHKeygenInterop(t *testing.T) {
	keygen := needSSHKeygen(t)
	message := []byte(`{"format":"pgmi-bundle/1","files":[]}` + "\n")
	for _, typ := range []string{"ed25519", "rsa", "ecdsa"} {
		t.Run(typ, func(t *testing.T) {
			k := keyOfType(t, typ)
			dir := t.TempDir()
			keyFile := filepath.Join(dir, "id")
			msgFile := filepath.Join(dir, "manifest.json")
			allowed := filepath.Join(dir, "allowed_signers")
			os.WriteFile(keyFile, k.pemKey, 0o600)
			os.WriteFile(msgFile, message, 0o644)
			os.WriteFile(allowed, []byte("release@example.com "+k.pub+"\n"), 0o644)

			// ssh-keygen signs, we verify.
			out, err := exec.Command(keygen, "-Y", "sign", "-f", keyFile, "-n", Namespace, msgFile).CombinedOutput()
			if err != nil {
				t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
			}
			theirs, _ := os.ReadFile(msgFile + ".sig")
			trusted, err := ParseAllowedSigners([]byte("release@example.com " + k.pub))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := trusted.Verify(theirs, message, VerifyOptions{Principal: "release@example.com"}); err != nil {
				t.Fatalf("our verify of ssh-keygen's signature: %v", err)
			}

			// We sign, ssh-keygen verifies.
			ours, err := Sign(k.signer, Namespace, message)
			if err != nil {
				t.Fatal(err)
			}
			sigFile := filepath.Join(dir, "ours.sig")
			os.WriteFile(sigFile, ours, 0o644)
			cmd := exec.Command(keygen, "-Y", "verify", "-f", allowed, "-I", "release@example.com", "-n", Namespace, "-s", sigFile)
			cmd.Stdin = bytes.NewReader(message)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ssh-keygen -Y verify of our signature: %v\n%s", err, out)
			}
			// ssh-keygen must also refuse ours over another message.
			cmd = exec.Command(keygen, "-Y", "verify", "-f", allowed, "-I", "release@example.com", "-n", Namespace, "-s", sigFile)
			cmd.Stdin = strings.NewReader("tampered")
			if err := cmd.Run(); err == nil {
				t.Fatal("ssh-keygen accepted our signature over another message")
			}
			// Ed25519 signatures are deterministic: the armored bytes match.
			if typ == "ed25519" && !bytes.Equal(ours, theirs) {
				t.Fatalf("armored signatures differ:\nours:\n%s\ntheirs:\n%s", ours, theirs)
			}
		})
	}
}

func TestAllowedSigners(t *testing.T) {
	k := newKey(t)
	other := newKey(t)
	msg := []byte("manifest")
	sig, err := Sign(k.signer, Namespace, msg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name, line, principal string
		sig                   []byte
		want                  error
	}{
		{"plain", "a@example.com", "", sig, nil},
		{"principal pattern", "*@example.com,!evil@example.com", "a@example.com", sig, nil},
		{"negated principal", "*@example.com,!evil@example.com", "evil@example.com", sig, ErrUntrusted},
		{"quoted principals", `"a@example.com,b@example.com"`, "b@example.com", sig, nil},
		{"namespace allowed", `a@example.com namespaces="file,pgmi-bundle@v1"`, "", sig, nil},
		{"namespace not allowed", `a@example.com namespaces="git"`, "", sig, ErrUntrusted},
		{"valid window", `a@example.com valid-after="20250101",valid-before="20260101Z"`, "", sig, nil},
		{"expired", `a@example.com valid-before="20250501Z"`, "", sig, ErrSignerExpired},
		{"not yet valid", `a@example.com valid-after="202507010000Z"`, "", sig, ErrSignerExpired},
		{"other key", "a@example.com", "", mustSign(t, other, Namespace, msg), ErrUntrusted},
		{"wrong namespace", "a@example.com", "", mustSign(t, k, "file", msg), ErrNamespace},
		{"other message", "a@example.com", "", mustSign(t, k, Namespace, []byte("other")), ErrSignature},
		{"garbage", "a@example.com", "", []byte("-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"), ErrSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := ParseAllowedSigners([]byte("# comment\n\n" + c.line + " " + k.pub + " comment\n"))
			if err != nil {
				t.Fatal(err)
			}
			s, err := a.Verify(c.sig, msg, VerifyOptions{Principal: c.principal, Now: now})
			if c.want == nil {
				if err != nil || s == nil || !strings.HasPrefix(s.Fingerprint, "SHA256:") {
					t.Fatalf("Verify: %v", err)
				}
				if c.name == "valid window" && s.Window() != "valid from "+time.Date(2025, 1, 1, 0, 0, 0, 0, time.Local).Format("2006-01-02 15:04 MST")+" until 2026-01-01 00:00 UTC" {
					t.Errorf("window %q", s.Window())
				}
				if c.name == "plain" && s.Window() != "no validity window" {
					t.Errorf("window %q", s.Window())
				}
				return
			}
			wantRule(t, err, c.want)
		})
	}
}

func mustSign(t *testing.T, k testKey, ns string, msg []byte) []byte {
	t.Helper()
	s, err := Sign(k.signer, ns, msg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAllowedSignersRefusals(t *testing.T) {
	k := newKey(t)
	for name, text := range map[string]string{
		"cert-authority": "*@example.com cert-authority " + k.pub,
		"unknown option": "a@example.com no-touch-required " + k.pub,
		"no key":         "a@example.com",
		"bad key":        "a@example.com ssh-ed25519 AAAA",
		"bad time":       `a@example.com valid-after="2025" ` + k.pub,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseAllowedSigners([]byte(text))
			wantRule(t, err, ErrAllowedSigners)
			if name == "cert-authority" && !strings.Contains(err.Error(), "cert-authority") {
				t.Fatalf("unclear error: %v", err)
			}
		})
	}
}

func TestLoadSigner(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	want, _ := ssh.NewSignerFromKey(priv)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	encrypted := pem.EncodeToMemory(block)
	if _, err := LoadSigner(encrypted, nil); err == nil || !strings.Contains(err.Error(), "passphrase is required") {
		t.Fatalf("no passphrase: %v", err)
	}
	if _, err := LoadSigner(encrypted, []byte("wrong")); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	s, err := LoadSigner(encrypted, []byte("pw"))
	if err != nil || !bytes.Equal(s.PublicKey().Marshal(), want.PublicKey().Marshal()) {
		t.Fatalf("LoadSigner: %v", err)
	}
}
