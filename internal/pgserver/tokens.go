package pgserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// WithTokenTLS makes the cluster look like a managed PostgreSQL that takes
// cloud tokens (RDS IAM, Entra ID): TLS on with a self-signed certificate for
// 127.0.0.1 and localhost, and TCP logins only over TLS with scram, so a
// caller can make a token a role's password (SetPassword). It implies
// WithPasswordAuth.
func WithTokenTLS() Option {
	return func(s *settings) error {
		crt, key, err := selfSignedServerCert()
		if err != nil {
			return err
		}
		for _, o := range []Option{
			WithPasswordAuth(),
			WithConfig("ssl", "on"), WithConfig("ssl_cert_file", "server.crt"), WithConfig("ssl_key_file", "server.key"),
			WithFile("server.crt", crt), WithFile("server.key", key),
			WithHBA("local all all trust", "hostssl all all 127.0.0.1/32 scram-sha-256"),
		} {
			if err := o(s); err != nil {
				return err
			}
		}
		return nil
	}
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

// SetPassword makes secret the role's password: the database-side stand-in
// for a cloud database checking a token.
func (c *Cluster) SetPassword(ctx context.Context, role, secret string) error {
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	lit := "'" + strings.ReplaceAll(secret, "'", "''") + "'"
	_, err = conn.Exec(ctx, "ALTER ROLE "+pgx.Identifier{role}.Sanitize()+" PASSWORD "+lit)
	return err
}
