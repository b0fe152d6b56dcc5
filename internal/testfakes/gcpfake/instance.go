package gcpfake

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	sqladmin "google.golang.org/api/sqladmin/v1beta4"
)

// InstanceConfig describes a Cloud SQL instance of the fake.
type InstanceConfig struct {
	Project string // project ID, "example.com:proj" for a domain-scoped project
	Region  string // e.g. us-central1
	Name    string // instance ID
	// DatabaseVersion as the API reports it; "" means POSTGRES_15.
	DatabaseVersion string
	// The instance's addresses; an empty one is absent. Any string works
	// with the fake's DialFunc, which routes it, e.g. documentation IPs such
	// as 192.0.2.10. A loopback IP (LoopbackIP) is also where the proxy
	// listens, on port 3307, so a connector with its own dial function (a
	// binary under test) reaches the instance as it would a real one.
	PublicIP  string // type PRIMARY
	PrivateIP string // type PRIVATE
	PSCName   string // Private Service Connect DNS name; "" leaves PSC off
	// The PostgreSQL the instance fronts: a TCP host (password auth, where
	// the IAM login token arrives as the password) or a Unix-socket
	// directory, and its port.
	PostgresHost string
	PostgresPort int
	// Down leaves the addresses without a proxy: the Admin API knows the
	// instance, but a connection to it is refused.
	Down bool
}

// Instance is an instance of the fake, with a server-side proxy per address:
// a TLS 1.3 listener on loopback that requires a client certificate the
// Admin API issued for this instance, then speaks the PostgreSQL protocol
// to PostgresHost. With IAM authentication (the certificate was requested
// with an access token) it logs in as the startup message's user with that
// token as the password, so PostgreSQL itself checks the token, and answers
// the client as a server that needed no password; without, it relays the
// client's own authentication.
type Instance struct {
	Config         InstanceConfig
	ConnectionName string // project:region:name

	admin *AdminAPI
	tls   *tls.Config

	mu     sync.Mutex
	logins []Login
}

// Login is a PostgreSQL session the proxy set up (or tried to).
type Login struct {
	Address  string // the instance address the client dialled
	User     string
	Database string
	IAM      bool  // the login token was the password
	Err      error // PostgreSQL's refusal, nil on success
}

// AddInstance creates an instance and starts its proxies for the duration of
// the test.
func (a *AdminAPI) AddInstance(tb testing.TB, cfg InstanceConfig) *Instance {
	tb.Helper()
	if cfg.DatabaseVersion == "" {
		cfg.DatabaseVersion = "POSTGRES_15"
	}
	in := &Instance{Config: cfg, admin: a, ConnectionName: cfg.Project + ":" + cfg.Region + ":" + cfg.Name}
	var err error
	if in.tls, err = in.serverTLS(); err != nil {
		tb.Fatal(err)
	}
	a.mu.Lock()
	a.instances[in.key()] = in
	a.mu.Unlock()
	for _, addr := range []string{cfg.PublicIP, cfg.PrivateIP, cfg.PSCName} {
		if addr != "" && !cfg.Down {
			in.listen(tb, addr)
		}
	}
	return in
}

// key is how the Admin API names the instance: project:name.
func (in *Instance) key() string { return in.Config.Project + ":" + in.Config.Name }

// Logins lists the sessions the proxy set up or tried to, in order.
func (in *Instance) Logins() []Login {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Login(nil), in.logins...)
}

func (in *Instance) record(l Login) {
	in.mu.Lock()
	in.logins = append(in.logins, l)
	in.mu.Unlock()
}

// serverTLS makes the instance's server certificate: CN project:name (what
// the connector checks when the instance has no DNS name), the PSC name as
// a SAN, signed by the server CA that connectSettings returns.
func (in *Instance) serverTLS() (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: in.key()},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if in.Config.PSCName != "" {
		tmpl.DNSNames = []string{in.Config.PSCName}
	}
	cert, err := in.admin.serverCA.sign(tmpl, key.Public())
	if err != nil {
		return nil, err
	}
	clients := x509.NewCertPool()
	clients.AddCert(in.admin.clientCA.cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clients,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

func (in *Instance) connectSettings(serverCAPEM string) *sqladmin.ConnectSettings {
	c := in.Config
	s := &sqladmin.ConnectSettings{
		Kind:            "sql#connectSettings",
		BackendType:     "SECOND_GEN",
		DatabaseVersion: c.DatabaseVersion,
		Region:          c.Region,
		ServerCaCert:    &sqladmin.SslCert{Kind: "sql#sslCert", Cert: serverCAPEM},
		ServerCaMode:    "GOOGLE_MANAGED_INTERNAL_CA",
	}
	if c.PublicIP != "" {
		s.IpAddresses = append(s.IpAddresses, &sqladmin.IpMapping{Type: "PRIMARY", IpAddress: c.PublicIP})
	}
	if c.PrivateIP != "" {
		s.IpAddresses = append(s.IpAddresses, &sqladmin.IpMapping{Type: "PRIVATE", IpAddress: c.PrivateIP})
	}
	if c.PSCName != "" {
		s.PscEnabled = true
		s.DnsNames = []*sqladmin.DnsNameMapping{{
			Name: c.PSCName + ".", ConnectionType: "PRIVATE_SERVICE_CONNECT", DnsScope: "INSTANCE",
		}}
	}
	return s
}

// listen starts the proxy for one of the instance's addresses: on the
// address itself, port 3307, when it is a loopback IP; else on a free
// loopback port that DialFunc routes to.
func (in *Instance) listen(tb testing.TB, addr string) {
	tb.Helper()
	at := "127.0.0.1:0"
	if ip := net.ParseIP(addr); ip != nil && ip.IsLoopback() {
		at = net.JoinHostPort(addr, ServerProxyPort)
	}
	ln, err := net.Listen("tcp", at)
	if err != nil {
		tb.Fatalf("gcpfake: listen for %s: %v", addr, err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	in.admin.mu.Lock()
	in.admin.routes[addr] = route{listener: ln.Addr().String(), instance: in}
	in.admin.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		in.accept(ln, addr, &wg)
	}()
}

func (in *Instance) accept(ln net.Listener, addr string, wg *sync.WaitGroup) {
	var conns sync.Map
	defer conns.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		conns.Store(c, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conns.Delete(c)
			defer c.Close()
			in.handle(c, addr)
		}()
	}
}

// handle runs the TLS handshake, checks the client certificate and serves
// the PostgreSQL session.
func (in *Instance) handle(raw net.Conn, addr string) {
	conn := tls.Server(raw, in.tls)
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	if err := conn.Handshake(); err != nil {
		return
	}
	raw.SetDeadline(time.Time{})
	peer := conn.ConnectionState().PeerCertificates
	if len(peer) == 0 {
		return
	}
	issued, ok := in.admin.lookup(peer[0])
	if !ok || issued.instance != in.key() {
		return // a certificate for another instance: the real proxy hangs up too
	}
	in.servePostgres(conn, addr, issued.token)
}

func (in *Instance) String() string { return fmt.Sprintf("instance %s", in.ConnectionName) }
