package connect

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"strings"
)

var tlsVersionNames = []string{"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}

var tlsVersions = map[string]uint16{
	"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

// tlsSetup is the TLS side of a Config, with every file read once when the
// connection is resolved, so an unreadable certificate, key or CA fails
// before anything touches a server.
type tlsSetup struct {
	mode     string           // effective sslmode
	roots    *x509.CertPool   // CA pool; nil when no root certificate is in use
	cert     *tls.Certificate // client certificate, or nil
	sni      bool
	min, max uint16
	direct   bool
}

// loadTLS applies libpq's rules to s:
//   - sslmode=require with a root certificate verifies the chain (as verify-ca);
//   - verify-ca and verify-full need a root certificate (sslrootcert=system
//     uses the system pool and implies verify-full);
//   - disable reads no file;
//   - a minimum protocol version above the maximum is refused, whatever
//     the mode (the minimum defaults to TLSv1.2).
//
// Errors are fault.Config naming the file or setting and what to do.
func loadTLS(s SSL) (*tlsSetup, error) {
	t := &tlsSetup{mode: s.Mode, sni: s.SNI != "0", min: tls.VersionTLS12, direct: s.Negotiation == "direct"}
	minName := "TLSv1.2 (the default)"
	if s.MinProtocol != "" {
		t.min, minName = tlsVersions[s.MinProtocol], s.MinProtocol
	}
	t.max = tlsVersions[s.MaxProtocol]
	if t.max != 0 && t.min > t.max {
		return nil, configErr("invalid SSL protocol version range: ssl_min_protocol_version %s is above ssl_max_protocol_version %s", minName, s.MaxProtocol)
	}
	if err := t.resolveMode(s); err != nil {
		return nil, err
	}
	if t.mode == "disable" {
		return t, nil
	}
	if err := t.loadRoots(s.RootCert); err != nil {
		return nil, err
	}
	if err := t.loadClientCert(s); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *tlsSetup) resolveMode(s SSL) error {
	explicit := t.mode != ""
	if !explicit {
		t.mode = "prefer"
	}
	if s.RootCert == "system" {
		if explicit && t.mode != "verify-full" {
			return configErr("sslrootcert=system needs sslmode verify-full, not %s: the system's CAs vouch for host names, so only verify-full is safe with them", t.mode)
		}
		t.mode = "verify-full"
	}
	if t.direct {
		switch t.mode {
		case "prefer":
			t.mode = "require"
		case "disable", "allow":
			return configErr("sslnegotiation=direct needs sslmode require or stronger, not %s", t.mode)
		}
	}
	return nil
}

func (t *tlsSetup) loadRoots(rootCert string) error {
	if rootCert == "system" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			return configErr("sslrootcert=system: cannot load the system's CA certificates: %v", err)
		}
		t.roots = pool
		return nil
	}
	if rootCert == "" {
		if t.mode == "verify-ca" || t.mode == "verify-full" {
			return configErr("sslmode %s needs a root certificate to verify the server: pass --sslrootcert (PGSSLROOTCERT, sslrootcert=), use sslrootcert=system for the system's CAs, or choose sslmode require", t.mode)
		}
		return nil
	}
	pemData, err := os.ReadFile(rootCert)
	if err != nil {
		return configErr("cannot read the root certificate (sslrootcert) %q: %v", rootCert, pathErr(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return configErr("the root certificate file (sslrootcert) %q holds no PEM certificate", rootCert)
	}
	t.roots = pool
	return nil
}

func (t *tlsSetup) loadClientCert(s SSL) error {
	certFile, keyFile := s.Cert, s.Key
	switch {
	case certFile == "" && keyFile == "":
		return nil
	case certFile == "":
		return configErr("a client key (sslkey) %q was given without its certificate: pass --sslcert too", keyFile)
	case keyFile == "":
		return configErr("a client certificate (sslcert) %q was given without its key: pass --sslkey too", certFile)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return configErr("cannot read the client certificate (sslcert) %q: %v", certFile, pathErr(err))
	}
	keyPEM, err := readClientKey(keyFile, []byte(s.Password.Reveal()))
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return configErr("the client certificate %q and key %q do not form a pair: %v", certFile, keyFile, err)
	}
	t.cert = &cert
	return nil
}

// readClientKey reads a PEM private key, decrypting it with password when it
// is encrypted (legacy PEM encryption of PKCS#1/SEC 1 keys, or PKCS#8
// "ENCRYPTED PRIVATE KEY"), and returns it as unencrypted PKCS#8 PEM.
func readClientKey(path string, password []byte) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, configErr("cannot read the client key (sslkey) %q: %v", path, pathErr(err))
	}
	if keyFileTooOpen(fi) {
		return nil, configErr("the client key file %q has group or world access: its permissions must be u=rw (0600) or less (chmod 0600 %s)", path, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, configErr("cannot read the client key (sslkey) %q: %v", path, pathErr(err))
	}
	block := firstKeyBlock(data)
	if block == nil {
		return nil, configErr("the client key file %q holds no PEM private key", path)
	}
	der, err := decryptKeyBlock(block, password)
	if err != nil {
		return nil, configErr("cannot use the client key %q: %v", path, err)
	}
	key, err := parsePrivateKey(block.Type, der)
	if err != nil {
		return nil, configErr("cannot parse the client key %q: %v", path, err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, configErr("unsupported client key type in %q: %v", path, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), nil
}

func firstKeyBlock(data []byte) *pem.Block {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil
		}
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			return block
		}
	}
}

func decryptKeyBlock(block *pem.Block, password []byte) ([]byte, error) {
	//lint:ignore SA1019 legacy PEM encryption is what libpq users' keys carry
	encrypted := block.Type == "ENCRYPTED PRIVATE KEY" || x509.IsEncryptedPEMBlock(block)
	if !encrypted {
		return block.Bytes, nil
	}
	if len(password) == 0 {
		return nil, errors.New("it is encrypted: set its passphrase in PGSSLPASSWORD (or sslpassword in the connection string)")
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" {
		return decryptPKCS8(block.Bytes, password)
	}
	//lint:ignore SA1019 legacy PEM encryption is what libpq users' keys carry
	der, err := x509.DecryptPEMBlock(block, password)
	if err != nil {
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, errBadPassphrase
		}
		return nil, err
	}
	return der, nil
}

func parsePrivateKey(pemType string, der []byte) (any, error) {
	switch pemType {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(der)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil && pemType == "ENCRYPTED PRIVATE KEY" {
		return nil, errBadPassphrase
	}
	return key, err
}

// configs are the TLS attempts for one host, in pgx's order: nil means a
// plaintext attempt. Unix sockets never use TLS, as in libpq.
func (t *tlsSetup) configs(host string) []*tls.Config {
	if IsSocketDir(host) {
		return []*tls.Config{nil}
	}
	switch t.mode {
	case "disable":
		return []*tls.Config{nil}
	case "allow":
		return []*tls.Config{nil, t.insecure(host)}
	case "prefer":
		return []*tls.Config{t.insecure(host), nil}
	case "require":
		if t.roots != nil {
			return []*tls.Config{t.verifyCA(host)}
		}
		return []*tls.Config{t.insecure(host)}
	case "verify-ca":
		return []*tls.Config{t.verifyCA(host)}
	}
	return []*tls.Config{t.verifyFull(host)}
}

func (t *tlsSetup) base(host string) *tls.Config {
	c := &tls.Config{MinVersion: t.min, MaxVersion: t.max}
	if t.cert != nil {
		c.Certificates = []tls.Certificate{*t.cert}
	}
	if t.sni && net.ParseIP(host) == nil {
		c.ServerName = host
	}
	if t.direct {
		c.NextProtos = []string{"postgresql"}
	}
	return c
}

// insecure encrypts without checking the server's certificate (allow,
// prefer, and require without a root certificate).
func (t *tlsSetup) insecure(host string) *tls.Config {
	c := t.base(host)
	c.InsecureSkipVerify = true
	return c
}

// verifyCA checks the chain against the roots but not the host name.
func (t *tlsSetup) verifyCA(host string) *tls.Config {
	c := t.base(host)
	c.InsecureSkipVerify = true // replaced by VerifyConnection below
	roots := t.roots
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, ic := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(ic)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
	return c
}

// verifyFull checks the chain and that the certificate names host.
func (t *tlsSetup) verifyFull(host string) *tls.Config {
	c := t.base(host)
	c.RootCAs = t.roots
	c.ServerName = host
	return c
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// pathErr drops the path from an *os.PathError (the message names it already).
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
