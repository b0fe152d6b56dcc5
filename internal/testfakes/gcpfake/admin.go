package gcpfake

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/cloudsqlconn"
	sqladmin "google.golang.org/api/sqladmin/v1beta4"

	"github.com/pgmi-cloud/pgmi/internal/testfakes"
)

// ServerProxyPort is the port every Cloud SQL instance accepts connector
// connections on; the connector always dials it.
const ServerProxyPort = "3307"

// TokenChecker tells whether an access token carries a scope; *Metadata is one.
type TokenChecker interface {
	HasScope(token, scope string) bool
}

// AdminAPI is a loopback Cloud SQL Admin API (v1beta4) with the two methods
// the Cloud SQL connector calls, plus the instances behind it:
//
//   - GET  /sql/v1beta4/projects/{project}/instances/{instance}/connectSettings
//   - POST /sql/v1beta4/projects/{project}/instances/{instance}:generateEphemeralCert
//
// Requests need an OAuth bearer token with the sqlservice.admin (or
// cloud-platform) scope, else 401. An instance that does not exist answers
// 403 notAuthorized, as the real API does for a name the caller cannot see.
// generateEphemeralCert signs the caller's public key with the fake's client
// CA and remembers the access_token sent with it (IAM database login); an
// access_token without the sqlservice.login scope is refused with 400.
//
// Each instance's server-side proxy is a TLS 1.3 listener that requires a
// client certificate this API issued for that instance; see Instance.
type AdminAPI struct {
	URL    string            // http://127.0.0.1:port/, for cloudsqlconn.WithAdminAPIEndpoint
	Faults *testfakes.Faults // in front of the API
	// DialHook, when set, runs before every DialFunc connection; an error
	// fails that dial (a refused connection, or a network that hangs until
	// ctx ends). Set it before the first dial.
	DialHook func(ctx context.Context, addr string) error

	tokens   TokenChecker
	serverCA *authority
	clientCA *authority

	mu        sync.Mutex
	instances map[string]*Instance    // project:name
	issued    map[[32]byte]issuedCert // SHA-256 of the client's public key
	routes    map[string]route        // address (IP or PSC name) → listener
	dials     []string

	settingsCalls atomic.Int64
	certCalls     atomic.Int64
}

type issuedCert struct {
	instance string // project:name
	token    string // the IAM login token, "" without IAM authentication
}

type route struct {
	listener string // 127.0.0.1:port
	instance *Instance
}

// StartAdmin runs the API for the duration of the test. tokens decides
// which bearer and login tokens are valid; nil accepts any non-empty one.
func StartAdmin(tb testing.TB, tokens TokenChecker) *AdminAPI {
	tb.Helper()
	serverCA, err := newAuthority("Google Cloud SQL Server CA")
	if err != nil {
		tb.Fatal(err)
	}
	clientCA, err := newAuthority("Google Cloud SQL Signing CA")
	if err != nil {
		tb.Fatal(err)
	}
	a := &AdminAPI{
		tokens:    tokens,
		serverCA:  serverCA,
		clientCA:  clientCA,
		instances: map[string]*Instance{},
		issued:    map[[32]byte]issuedCert{},
		routes:    map[string]route{},
	}
	a.Faults = testfakes.NewFaults(http.HandlerFunc(a.serve))
	srv := httptest.NewServer(a.Faults)
	tb.Cleanup(srv.Close)
	a.URL = srv.URL + "/"
	return a
}

// DialerOptions point a cloudsqlconn.Dialer at this fake: its Admin API
// endpoint, DialFunc to reach the instances, and built-in metrics off.
func (a *AdminAPI) DialerOptions() []cloudsqlconn.Option {
	return []cloudsqlconn.Option{
		cloudsqlconn.WithAdminAPIEndpoint(a.URL),
		cloudsqlconn.WithDialFunc(a.DialFunc),
		cloudsqlconn.WithBuiltInMetrics(false),
	}
}

// DialFunc connects to an instance address as the network would: addr is
// an instance's public or private IP, or its PSC DNS name, with port 3307.
// Any other address is refused. Every call is recorded (Dials).
func (a *AdminAPI) DialFunc(ctx context.Context, network, addr string) (net.Conn, error) {
	a.mu.Lock()
	a.dials = append(a.dials, addr)
	host, port, err := net.SplitHostPort(addr)
	r, ok := a.routes[strings.TrimSuffix(host, ".")]
	a.mu.Unlock()
	if err != nil || port != ServerProxyPort || !ok {
		return nil, Refused(network)
	}
	if a.DialHook != nil {
		if err := a.DialHook(ctx, addr); err != nil {
			return nil, err
		}
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", r.listener)
}

// Refused is the error of a dial that nothing answered.
func Refused(network string) error {
	return &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
}

// Dials lists the addresses DialFunc was asked for, in order.
func (a *AdminAPI) Dials() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.dials...)
}

// SettingsCalls and CertCalls count the connectSettings and
// generateEphemeralCert requests that reached the API (not those a fault
// answered).
func (a *AdminAPI) SettingsCalls() int { return int(a.settingsCalls.Load()) }

// CertCalls: see SettingsCalls.
func (a *AdminAPI) CertCalls() int { return int(a.certCalls.Load()) }

// APIError is a fault that answers like Google's APIs do when they refuse a
// request: the HTTP code and a JSON error body with a status such as
// PERMISSION_DENIED, a reason such as notAuthorized, and a message. Set
// Match and Times on the result as needed.
func APIError(code int, status, reason, message string) testfakes.Fault {
	return testfakes.Fault{
		Status: code,
		Header: http.Header{"Content-Type": {"application/json; charset=UTF-8"}},
		Body:   errorBody(code, status, reason, message),
	}
}

func errorBody(code int, status, reason, message string) string {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code":    code,
		"message": message,
		"status":  status,
		"errors":  []map[string]string{{"message": message, "domain": "global", "reason": reason}},
	}})
	return string(body)
}

func apiError(w http.ResponseWriter, code int, status, reason, message string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	w.Write([]byte(errorBody(code, status, reason, message)))
}

func (a *AdminAPI) serve(w http.ResponseWriter, r *http.Request) {
	project, instance, method, ok := parseAdminPath(r.URL)
	if !ok {
		apiError(w, http.StatusNotFound, "NOT_FOUND", "notFound", "no such method")
		return
	}
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !a.valid(bearer, ScopeSQLAdmin) {
		apiError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "authError",
			"Request had invalid authentication credentials. Expected OAuth 2 access token.")
		return
	}
	a.mu.Lock()
	in := a.instances[project+":"+instance]
	a.mu.Unlock()
	switch {
	case method == "connectSettings" && r.Method == http.MethodGet:
		a.settingsCalls.Add(1)
		if in == nil {
			notAuthorized(w)
			return
		}
		writeJSON(w, in.connectSettings(a.serverCA.pem))
	case method == "generateEphemeralCert" && r.Method == http.MethodPost:
		a.certCalls.Add(1)
		if in == nil {
			notAuthorized(w)
			return
		}
		a.generateEphemeralCert(w, r, in)
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "notFound", "no such method")
	}
}

func (a *AdminAPI) valid(token, scope string) bool {
	if token == "" {
		return false
	}
	return a.tokens == nil || a.tokens.HasScope(token, scope)
}

func notAuthorized(w http.ResponseWriter) {
	apiError(w, http.StatusForbidden, "PERMISSION_DENIED", "notAuthorized",
		"The client is not authorized to make this request.")
}

// parseAdminPath splits /sql/v1beta4/projects/P/instances/I/connectSettings
// and /sql/v1beta4/projects/P/instances/I:generateEphemeralCert.
func parseAdminPath(u *url.URL) (project, instance, method string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	if len(parts) < 5 || parts[0] != "sql" || parts[1] != "v1beta4" || parts[2] != "projects" || parts[4] != "instances" {
		return "", "", "", false
	}
	unescape := func(s string) string { v, _ := url.PathUnescape(s); return v }
	project = unescape(parts[3])
	switch len(parts) {
	case 6:
		name, m, found := strings.Cut(unescape(parts[5]), ":")
		return project, name, m, found
	case 7:
		return project, unescape(parts[5]), parts[6], true
	}
	return "", "", "", false
}

func (a *AdminAPI) generateEphemeralCert(w http.ResponseWriter, r *http.Request, in *Instance) {
	var req sqladmin.GenerateEphemeralCertRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid", "malformed request body")
		return
	}
	if req.AccessToken != "" && !a.valid(req.AccessToken, ScopeSQLLogin) {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid",
			"the access_token is not valid for the sqlservice.login scope")
		return
	}
	block, _ := pem.Decode([]byte(req.PublicKey))
	if block == nil {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid", "public_key is not PEM")
		return
	}
	// The connector labels the block "RSA PUBLIC KEY" but sends PKIX bytes.
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid", "public_key is not a PKIX public key")
		return
	}
	cert, err := a.clientCA.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "Google Cloud SQL Client"},
		NotBefore:   time.Now().Add(-time.Minute),
		NotAfter:    time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, pub)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "INTERNAL", "backendError", err.Error())
		return
	}
	a.mu.Lock()
	a.issued[sha256.Sum256(cert.RawSubjectPublicKeyInfo)] = issuedCert{instance: in.key(), token: req.AccessToken}
	a.mu.Unlock()
	writeJSON(w, &sqladmin.GenerateEphemeralCertResponse{
		EphemeralCert: &sqladmin.SslCert{Kind: "sql#sslCert", Cert: pemCert(cert.Raw), CommonName: cert.Subject.CommonName},
	})
}

// lookup finds what was issued for a client certificate.
func (a *AdminAPI) lookup(cert *x509.Certificate) (issuedCert, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ic, ok := a.issued[sha256.Sum256(cert.RawSubjectPublicKeyInfo)]
	return ic, ok
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v) // the fake's own structs always encode
}
