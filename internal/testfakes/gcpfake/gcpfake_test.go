package gcpfake_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/cloudsqlconn"
	"github.com/jackc/pgx/v5"
	sqladmin "google.golang.org/api/sqladmin/v1beta4"

	"github.com/pgmi-cloud/pgmi/internal/pgserver"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/gcpfake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

var (
	pg    *testpg.Cluster
	pgErr error
)

func TestMain(m *testing.M) {
	var stop func()
	pg, stop, pgErr = testpg.StartMain(pgserver.WithPasswordAuth())
	code := m.Run()
	stop()
	os.Exit(code)
}

func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetadata(t *testing.T) {
	md := gcpfake.StartMetadata(t, "proj-1", "sa@proj-1.iam.gserviceaccount.com")
	flavor := http.Header{"Metadata-Flavor": {"Google"}}
	if code, _ := get(t, md.URL+"/computeMetadata/v1/project/project-id", nil); code != http.StatusForbidden {
		t.Fatalf("without Metadata-Flavor: %d, want 403", code)
	}
	for path, want := range map[string]string{
		"project/project-id":                      "proj-1",
		"instance/service-accounts/default/email": "sa@proj-1.iam.gserviceaccount.com",
		"universe/universe-domain":                "googleapis.com",
	} {
		if code, body := get(t, md.URL+"/computeMetadata/v1/"+path, flavor); code != 200 || body != want {
			t.Errorf("%s: %d %q, want %q", path, code, body, want)
		}
	}
	login := md.TokenFor(gcpfake.ScopeSQLLogin)
	code, body := get(t, md.URL+"/computeMetadata/v1/instance/service-accounts/default/token?scopes="+gcpfake.ScopeSQLLogin, flavor)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &tok) != nil || tok.AccessToken != login || tok.ExpiresIn != gcpfake.TokenLifetime {
		t.Fatalf("token: %d %s; want the login token made beforehand", code, body)
	}
	if !md.HasScope(login, gcpfake.ScopeSQLLogin) || md.HasScope(login, gcpfake.ScopeSQLAdmin) {
		t.Fatal("scopes of the login token")
	}
	platform := md.TokenFor()
	if !md.HasScope(platform, gcpfake.ScopeSQLAdmin) || md.HasScope(platform, gcpfake.ScopeSQLLogin) {
		t.Fatal("cloud-platform covers the Admin API but not IAM login")
	}
	if md.TokenRequests() != 1 || len(md.Tokens()) != 2 {
		t.Fatalf("%d token requests, %d tokens", md.TokenRequests(), len(md.Tokens()))
	}
}

func newAPI(t *testing.T) (*gcpfake.Metadata, *gcpfake.AdminAPI) {
	md := gcpfake.StartMetadata(t, "proj-1", "sa@proj-1.iam.gserviceaccount.com")
	return md, gcpfake.StartAdmin(t, md)
}

func TestAdminAPIAuthAndErrors(t *testing.T) {
	md, api := newAPI(t)
	api.AddInstance(t, gcpfake.InstanceConfig{Project: "example.com:proj-1", Region: "us-east1", Name: "db", PublicIP: "192.0.2.1"})
	settings := api.URL + "sql/v1beta4/projects/example.com%3Aproj-1/instances/db/connectSettings"
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

	if code, _ := get(t, settings, nil); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := get(t, settings, bearer(md.TokenFor(gcpfake.ScopeSQLLogin))); code != http.StatusUnauthorized {
		t.Fatalf("login-scoped token on the Admin API: %d", code)
	}
	code, body := get(t, settings, bearer(md.TokenFor(gcpfake.ScopeSQLAdmin)))
	var cs sqladmin.ConnectSettings
	if code != 200 || json.Unmarshal([]byte(body), &cs) != nil || cs.Region != "us-east1" || cs.BackendType != "SECOND_GEN" ||
		len(cs.IpAddresses) != 1 || cs.IpAddresses[0].Type != "PRIMARY" || cs.ServerCaCert == nil {
		t.Fatalf("connectSettings: %d %s", code, body)
	}
	code, body = get(t, api.URL+"sql/v1beta4/projects/proj-1/instances/nope/connectSettings", bearer(md.TokenFor()))
	if code != http.StatusForbidden || !strings.Contains(body, "notAuthorized") {
		t.Fatalf("unknown instance: %d %s", code, body)
	}
}

// A client certificate is good for the instance it was issued for only.
func TestProxyRefusesAnotherInstancesCertificate(t *testing.T) {
	md, api := newAPI(t)
	a := api.AddInstance(t, gcpfake.InstanceConfig{Project: "proj-1", Region: "r1", Name: "a", PublicIP: "192.0.2.1"})
	api.AddInstance(t, gcpfake.InstanceConfig{Project: "proj-1", Region: "r1", Name: "b", PublicIP: "192.0.2.2"})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := ephemeralCert(t, api, md, "a", key)
	for _, tc := range []struct {
		addr   string
		served bool
	}{{"192.0.2.1", true}, {"192.0.2.2", false}} {
		raw, err := api.DialFunc(t.Context(), "tcp", tc.addr+":3307")
		if err != nil {
			t.Fatal(err)
		}
		conn := tls.Client(raw, &tls.Config{
			Certificates:       []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}},
			InsecureSkipVerify: true, // the server certificate is not what this test is about
			MinVersion:         tls.VersionTLS13,
		})
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		// An SSLRequest: the proxy of the right instance answers 'N'.
		conn.Write([]byte{0, 0, 0, 8, 4, 210, 22, 47})
		b := make([]byte, 1)
		_, err = io.ReadFull(conn, b)
		conn.Close()
		if served := err == nil && b[0] == 'N'; served != tc.served {
			t.Errorf("%s: served=%v (err %v), want %v", tc.addr, served, err, tc.served)
		}
	}
	if l := a.Logins(); len(l) != 0 {
		t.Fatalf("logins %+v", l)
	}
}

func ephemeralCert(t *testing.T, api *gcpfake.AdminAPI, md *gcpfake.Metadata, instance string, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	body, _ := json.Marshal(sqladmin.GenerateEphemeralCertRequest{
		PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: der})),
	})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost,
		api.URL+"sql/v1beta4/projects/proj-1/instances/"+instance+":generateEphemeralCert", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+md.TokenFor(gcpfake.ScopeSQLAdmin))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out sqladmin.GenerateEphemeralCertResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.EphemeralCert == nil {
		t.Fatalf("generateEphemeralCert: %d %v", resp.StatusCode, err)
	}
	block, _ := pem.Decode([]byte(out.EphemeralCert.Cert))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// Without IAM authentication the proxy relays the client's own login: the
// real connector with a built-in user and its password.
func TestRelayWithoutIAM(t *testing.T) {
	testpg.Require(t, pgErr)
	md, api := newAPI(t)
	md.Use(t)
	inst := api.AddInstance(t, gcpfake.InstanceConfig{
		Project: "proj-1", Region: "r1", Name: "db", PrivateIP: "10.0.0.9",
		PostgresHost: pg.Host(), PostgresPort: pg.Port(),
	})
	d, err := cloudsqlconn.NewDialer(t.Context(), append(api.DialerOptions(), cloudsqlconn.WithLazyRefresh())...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cfg, err := pgx.ParseConfig("sslmode=disable user=postgres dbname=postgres")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = pg.Password()
	cfg.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.Dial(ctx, inst.ConnectionName, cloudsqlconn.WithPrivateIP())
	}
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var user string
	if err := conn.QueryRow(t.Context(), "SELECT current_user").Scan(&user); err != nil || user != "postgres" {
		t.Fatalf("current_user %q, %v", user, err)
	}
	if l := inst.Logins(); len(l) != 1 || l[0].IAM || l[0].Address != "10.0.0.9" {
		t.Fatalf("logins %+v", l)
	}
}

// A loopback address is where its proxy listens, on port 3307, so a plain
// dial reaches it; a Down instance's address refuses, directly and through
// DialFunc.
func TestLoopbackAddresses(t *testing.T) {
	_, api := newAPI(t)
	up := api.AddInstance(t, gcpfake.InstanceConfig{Project: "proj-1", Region: "r1", Name: "up", PublicIP: gcpfake.LoopbackIP(t)})
	down := api.AddInstance(t, gcpfake.InstanceConfig{Project: "proj-1", Region: "r1", Name: "down", PublicIP: gcpfake.LoopbackIP(t), Down: true})
	if up.Config.PublicIP == down.Config.PublicIP {
		t.Fatalf("LoopbackIP returned %s twice", up.Config.PublicIP)
	}
	conn, err := net.Dial("tcp", net.JoinHostPort(up.Config.PublicIP, gcpfake.ServerProxyPort))
	if err != nil {
		t.Fatalf("dial the proxy at its own address: %v", err)
	}
	conn.Close()
	if conn, err := net.Dial("tcp", net.JoinHostPort(down.Config.PublicIP, gcpfake.ServerProxyPort)); err == nil {
		conn.Close()
		t.Fatal("a Down instance's address accepted a connection")
	}
	if conn, err := api.DialFunc(t.Context(), "tcp", net.JoinHostPort(down.Config.PublicIP, gcpfake.ServerProxyPort)); err == nil {
		conn.Close()
		t.Fatal("DialFunc reached a Down instance")
	}
}
