package bundle

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// The SSH signature format (OpenSSH PROTOCOL.sshsig): a binary blob, armored
// between the lines below, whose signed data is a "SSHSIG" preamble, the
// namespace, a reserved string, the hash algorithm and the message's hash.
const (
	sigMagic    = "SSHSIG"
	sigVersion  = 1
	armorBegin  = "-----BEGIN SSH SIGNATURE-----"
	armorEnd    = "-----END SSH SIGNATURE-----"
	armorWidth  = 70
	defaultHash = "sha512"
)

// sshSig is the binary signature blob.
type sshSig struct {
	Magic     [6]byte
	Version   uint32
	PublicKey []byte
	Namespace string
	Reserved  string
	HashAlg   string
	Signature []byte
}

// signedData is what the key actually signs.
type signedData struct {
	Magic     [6]byte
	Namespace string
	Reserved  string
	HashAlg   string
	Hash      []byte
}

// Signature is a parsed SSH signature.
type Signature struct {
	Key       ssh.PublicKey
	Namespace string
	HashAlg   string
	sig       *ssh.Signature
}

// LoadSigner parses an OpenSSH, PKCS#1, PKCS#8 or SEC1 private key, decrypting
// it with passphrase when it is encrypted. The passphrase is never printed.
func LoadSigner(pemBytes, passphrase []byte) (ssh.Signer, error) {
	s, err := ssh.ParsePrivateKey(pemBytes)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if len(passphrase) == 0 {
			return nil, errors.New("signing key is encrypted: a passphrase is required")
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(pemBytes, passphrase)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot parse signing key: %w", err)
	}
	return s, nil
}

// Sign makes an armored SSH signature of message in namespace, in the format
// of ssh-keygen -Y sign (SHA-512 message hash; RSA keys sign with
// rsa-sha2-512). Bundles are signed in Namespace.
func Sign(signer ssh.Signer, namespace string, message []byte) ([]byte, error) {
	if namespace == "" {
		return nil, errors.New("sign: empty namespace")
	}
	h := sha512.Sum512(message)
	data := ssh.Marshal(signedData{Magic: magic(), Namespace: namespace, HashAlg: defaultHash, Hash: h[:]})
	var sig *ssh.Signature
	var err error
	if as, ok := signer.(ssh.AlgorithmSigner); ok && signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		sig, err = as.SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = signer.Sign(rand.Reader, data)
	}
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	blob := ssh.Marshal(sshSig{
		Magic: magic(), Version: sigVersion, PublicKey: signer.PublicKey().Marshal(),
		Namespace: namespace, HashAlg: defaultHash, Signature: ssh.Marshal(sig),
	})
	return armor(blob), nil
}

func magic() (m [6]byte) {
	copy(m[:], sigMagic)
	return m
}

func armor(blob []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(blob)
	var b bytes.Buffer
	b.WriteString(armorBegin + "\n")
	for len(enc) > armorWidth {
		b.WriteString(enc[:armorWidth] + "\n")
		enc = enc[armorWidth:]
	}
	b.WriteString(enc + "\n" + armorEnd + "\n")
	return b.Bytes()
}

// ParseSignature decodes an armored SSH signature.
func ParseSignature(armored []byte) (*Signature, error) {
	text := strings.TrimSpace(string(armored))
	body, ok := strings.CutPrefix(text, armorBegin)
	if !ok {
		return nil, errors.New("missing " + armorBegin)
	}
	body, ok = strings.CutSuffix(body, armorEnd)
	if !ok {
		return nil, errors.New("missing " + armorEnd)
	}
	blob, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		return nil, fmt.Errorf("bad base64: %w", err)
	}
	var s sshSig
	if err := ssh.Unmarshal(blob, &s); err != nil {
		return nil, fmt.Errorf("bad signature blob: %w", err)
	}
	if string(s.Magic[:]) != sigMagic || s.Version != sigVersion {
		return nil, fmt.Errorf("not an SSHSIG v%d signature", sigVersion)
	}
	key, err := ssh.ParsePublicKey(s.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("bad public key: %w", err)
	}
	if _, isCert := key.(*ssh.Certificate); isCert {
		return nil, errors.New("signatures by SSH certificates are not supported: sign with a plain key listed in allowed_signers")
	}
	sig := new(ssh.Signature)
	if err := ssh.Unmarshal(s.Signature, sig); err != nil {
		return nil, fmt.Errorf("bad signature: %w", err)
	}
	return &Signature{Key: key, Namespace: s.Namespace, HashAlg: s.HashAlg, sig: sig}, nil
}

// Verify checks the signature over message in namespace (the key's trust
// is decided by AllowedSigners, not here).
func (s *Signature) Verify(namespace string, message []byte) error {
	if s.Namespace != namespace {
		return fmt.Errorf("namespace %q, want %q", s.Namespace, namespace)
	}
	var h []byte
	switch s.HashAlg {
	case "sha512":
		sum := sha512.Sum512(message)
		h = sum[:]
	case "sha256":
		sum := sha256.Sum256(message)
		h = sum[:]
	default:
		return fmt.Errorf("unsupported hash algorithm %q", s.HashAlg)
	}
	if s.Key.Type() == ssh.KeyAlgoRSA && s.sig.Format == ssh.KeyAlgoRSA {
		return errors.New("RSA signatures with SHA-1 (ssh-rsa) are refused")
	}
	data := ssh.Marshal(signedData{Magic: magic(), Namespace: namespace, HashAlg: s.HashAlg, Hash: h})
	if err := s.Key.Verify(data, s.sig); err != nil {
		return fmt.Errorf("signature does not match: %w", err)
	}
	return nil
}
