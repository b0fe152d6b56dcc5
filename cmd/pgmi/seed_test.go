package main

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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/pgserver"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/awsfake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/azurefake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/gcpfake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql"
)

// seedLine is one `pgmi deploy` command line of pgmi's connection
// documentation (/work/shared/design/SEED-CONNECTIONS.md), as documented and
// as run here. In args, $DIR is the project directory, $PORT the port of
// the test's PostgreSQL and $DB a database of the line's own.
type seedLine struct {
	line    int
	doc     string   // the documented command line
	args    []string // what runs, after "pgmi"
	env     []string // what the resolver sees besides HOME and USER (key, value, …)
	rewrite string   // what differs from doc, and why
	auth    string   // password, mtls, azure, aws-ambient, aws-keys, google
	user    string   // the session user the deploy must run as
	shared  bool     // against the package's shared cluster instead of the seed cluster
}

const seedDeploySQL = `CREATE TABLE landed AS
SELECT current_user::text AS who,
       coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false) AS tls;
`

// The Google lines use the documented instance and user as they are: the
// fake Cloud SQL instance is named after them.
const (
	seedGoogleInstance = "myproject:us-central1:mydb"
	seedGoogleEmail    = "myuser@myproject.iam.gserviceaccount.com"
	seedGoogleUser     = "myuser@myproject.iam"
)

// Lines left out (documented commands that are not `pgmi deploy`, or that
// this test cannot run):
//   - 117 `gcloud auth application-default login`: not a pgmi command; line
//     118 runs with the metadata server's credentials instead of gcloud's
//     file, whose refresh would go to oauth2.googleapis.com.
//   - 135, 140, 214: connection string formats and the pooler's URI, not
//     command lines (211 covers the URI form, 38 the ADO.NET form).
var seedLines = []seedLine{
	{line: 32, doc: `pgmi deploy . --host db.example.com -p 5432 -U deployer -d myapp`,
		args: []string{"deploy", "$DIR", "--host", "127.0.0.1", "-p", "$PORT", "-U", "deployer", "-d", "$DB"},
		env:  []string{"PGPASSWORD", "secret"}, auth: "password", user: "deployer",
		rewrite: "host and port to loopback, database; password from PGPASSWORD"},
	{line: 35, doc: `pgmi deploy . --connection "postgresql://deployer:secret@db.example.com:5432/postgres" -d myapp`,
		args: []string{"deploy", "$DIR", "--connection", "postgresql://deployer:secret@127.0.0.1:$PORT/postgres", "-d", "$DB"},
		auth: "password", user: "deployer",
		rewrite: "host and port to loopback, database; the password embedded in the string as documented"},
	{line: 38, doc: `pgmi deploy . --connection "Host=db.example.com;Port=5432;Database=postgres;Username=deployer;Password=secret" -d myapp`,
		args: []string{"deploy", "$DIR", "--connection", "Host=127.0.0.1;Port=$PORT;Database=postgres;Username=deployer;Password=secret", "-d", "$DB"},
		auth: "password", user: "deployer",
		rewrite: "host and port to loopback, database; the password embedded in the string as documented"},
	{line: 51, doc: `pgmi deploy . --azure --host mydb.postgres.database.azure.com -d myapp --sslmode require`,
		args: []string{"deploy", "$DIR", "--azure", "--host", "127.0.0.1", "-d", "$DB", "--sslmode", "require"},
		env:  []string{"PGPORT", "$PORT", "PGUSER", "entra_deployer"}, auth: "azure", user: "entra_deployer",
		rewrite: "host to loopback, port from PGPORT, database; the role from PGUSER (the line names none); managed identity: App Service endpoint fake"},
	{line: 59, doc: `pgmi deploy . --azure --host mydb.postgres.database.azure.com -d myapp --sslmode require`,
		args: []string{"deploy", "$DIR", "--azure", "--host", "127.0.0.1", "-d", "$DB", "--sslmode", "require"},
		env:  []string{"PGPORT", "$PORT", "PGUSER", "entra_deployer"}, auth: "azure", user: "entra_deployer",
		rewrite: "as line 51; the token comes from the managed identity fake, not the service principal variables (same argv; service principals are covered by pkg/connect/entra)"},
	{line: 86, doc: `pgmi deploy . --aws --aws-region us-west-2 --host mydb.cluster-xyz.us-west-2.rds.amazonaws.com -U iam_deploy_user -d myapp --sslmode require`,
		args: []string{"deploy", "$DIR", "--aws", "--aws-region", "us-west-2", "--host", "127.0.0.1", "-U", "iam_deploy_user", "-d", "$DB", "--sslmode", "require"},
		env:  []string{"PGPORT", "$PORT"}, auth: "aws-ambient", user: "iam_deploy_user",
		rewrite: "host to loopback, port from PGPORT, database; IAM role: container credentials endpoint fake"},
	{line: 93, doc: `pgmi deploy . --aws --aws-region us-west-2 --host mydb.cluster-xyz.us-west-2.rds.amazonaws.com -U iam_deploy_user -d myapp --sslmode require`,
		args: []string{"deploy", "$DIR", "--aws", "--aws-region", "us-west-2", "--host", "127.0.0.1", "-U", "iam_deploy_user", "-d", "$DB", "--sslmode", "require"},
		env:  []string{"PGPORT", "$PORT"}, auth: "aws-keys", user: "iam_deploy_user",
		rewrite: "as line 86; IAM user: random AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the process environment"},
	{line: 112, doc: `pgmi deploy . --google --google-instance myproject:us-central1:mydb -U myuser@myproject.iam -d myapp`,
		args: []string{"deploy", "$DIR", "--google", "--google-instance", seedGoogleInstance, "-U", seedGoogleUser, "-d", "$DB"},
		auth: "google", user: seedGoogleUser,
		rewrite: "database; metadata server, Admin API and instance fakes (the Admin API endpoint and dial function through the test's provider override)"},
	{line: 118, doc: `pgmi deploy . --google --google-instance myproject:us-central1:mydb -U myuser@myproject.iam -d myapp`,
		args: []string{"deploy", "$DIR", "--google", "--google-instance", seedGoogleInstance, "-U", seedGoogleUser, "-d", "$DB"},
		auth: "google", user: seedGoogleUser,
		rewrite: "as line 112: credentials from the metadata server fake, not gcloud's application-default file"},
	{line: 181, doc: `pgmi deploy . --host secure-pg.internal --sslmode verify-full --sslcert /certs/client.crt --sslkey /certs/client.key --sslrootcert /certs/ca.crt -d myapp`,
		args: []string{"deploy", "$DIR", "--host", "127.0.0.1", "--sslmode", "verify-full", "--sslcert", "$CERTS/client.crt", "--sslkey", "$CERTS/client.key", "--sslrootcert", "$CERTS/ca.crt", "-d", "$DB"},
		env:  []string{"PGPORT", "$PORT", "PGUSER", "mtls_user"}, auth: "mtls", user: "mtls_user",
		rewrite: "host to loopback (the server certificate names 127.0.0.1), port from PGPORT, database, certificate files in a temporary directory; the role from PGUSER (the line names none)"},
	{line: 211, doc: `pgmi deploy . --connection "postgresql://user:pass@db-server:5432/mydb"`,
		args: []string{"deploy", "$DIR", "--connection", "postgresql://user:pass@127.0.0.1:$PORT/$DB"},
		auth: "password", user: "user",
		rewrite: "host and port to loopback (the direct endpoint), database; the role \"user\" with password \"pass\" as documented"},
	{line: 299, doc: `pgmi deploy ./project --azure --host ${{ steps.terraform.outputs.pgmi_host }} -d myapp --param env=production --force`,
		args: []string{"deploy", "$DIR", "--azure", "--host", "127.0.0.1", "-d", "$DB", "--param", "env=production", "--force"},
		env:  []string{"PGPORT", "$PORT", "PGUSER", "entra_deployer"}, auth: "azure", user: "entra_deployer",
		rewrite: "project directory, host to loopback, port from PGPORT, database; the role from PGUSER; managed identity fake instead of the service principal secrets"},
	{line: 320, doc: `pgmi deploy . --overwrite --force -h 127.0.0.1 -U postgres -d test`,
		args: []string{"deploy", "$DIR", "--overwrite", "--force", "-h", "127.0.0.1", "-U", "postgres", "-d", "$DB"},
		env:  []string{"PGPORT", "$PORT", "PGPASSWORD", "devpass"}, shared: true, auth: "password", user: "postgres",
		rewrite: "port from PGPORT (the shared cluster's), database; PGPASSWORD=devpass as documented (the shared cluster trusts loopback)"},
	{line: 327, doc: `pgmi deploy . --azure --host $AZURE_HOST -d myapp --force`,
		args: []string{"deploy", "$DIR", "--azure", "--host", "127.0.0.1", "-d", "$DB", "--force"},
		env:  []string{"PGPORT", "$PORT", "PGUSER", "entra_deployer"}, auth: "azure", user: "entra_deployer",
		rewrite: "$AZURE_HOST is loopback, port from PGPORT, database; the role from PGUSER; managed identity fake instead of the service principal secrets"},
	{line: 337, doc: `pgmi deploy . --aws --aws-region us-west-2 --host $RDS_HOST -U iam_deploy -d myapp --force`,
		args: []string{"deploy", "$DIR", "--aws", "--aws-region", "us-west-2", "--host", "127.0.0.1", "-U", "iam_deploy", "-d", "$DB", "--force"},
		env:  []string{"PGPORT", "$PORT"}, auth: "aws-ambient", user: "iam_deploy",
		rewrite: "$RDS_HOST is loopback, port from PGPORT, database; container credentials endpoint fake"},
	{line: 343, doc: `pgmi deploy . --google --google-instance $INSTANCE -U $SA_EMAIL -d myapp --force`,
		args: []string{"deploy", "$DIR", "--google", "--google-instance", seedGoogleInstance, "-U", seedGoogleEmail, "-d", "$DB", "--force"},
		auth: "google", user: seedGoogleUser,
		rewrite: "$INSTANCE and $SA_EMAIL are the fake's instance and service account, database; the e-mail is trimmed to the IAM user"},
}

// TestSeedConnectionLines runs every documented `pgmi deploy` line through
// the CLI against loopback PostgreSQL and faked cloud endpoints, and checks
// that each deploy landed as the expected user. It sets the cloud SDKs'
// process environment, so it is not parallel.
func TestSeedConnectionLines(t *testing.T) {
	testpg.Require(t, clusterErr)
	certs := t.TempDir()
	ca, srvCrt, srvKey := seedCerts(t, certs)
	// Like a managed PostgreSQL: TLS, scram over hostssl. The RDS IAM roles
	// are trusted over TLS because the token is signed inside the CLI and
	// cannot be made a password beforehand: checking the token itself is
	// covered by pkg/connect/rdsiam's tests. The last line lets the Cloud SQL
	// fake's proxy, which talks to PostgreSQL without TLS, log in with the
	// IAM token as the password.
	seed := testpg.Start(t, pgserver.WithTokenTLS(),
		pgserver.WithFile("server.crt", srvCrt), pgserver.WithFile("server.key", srvKey),
		pgserver.WithFile("root.crt", ca), pgserver.WithConfig("ssl_ca_file", "root.crt"),
		pgserver.WithHBA(
			"local all all trust",
			"hostssl all iam_deploy_user 127.0.0.1/32 trust",
			"hostssl all iam_deploy 127.0.0.1/32 trust",
			"hostssl all mtls_user 127.0.0.1/32 cert",
			"hostssl all all 127.0.0.1/32 scram-sha-256",
			"host all all 127.0.0.1/32 scram-sha-256",
		))

	// Azure: the App Service managed identity; its token is the role's password.
	azurefake.Isolate(t)
	mi := azurefake.StartManagedIdentity(t)
	mi.Use(t)
	entraToken := azurefake.NewToken("entra_deployer", 2000)
	mi.SetToken("", entraToken)

	// AWS: the container credentials endpoint.
	awsfake.Isolate(t)
	awsCreds := awsfake.StartContainerEndpoint(t)
	awsCreds.Use(t)

	// Google: metadata server, Admin API and the instance in front of seed.
	md := gcpfake.StartMetadata(t, "myproject", seedGoogleEmail)
	md.Use(t)
	api := gcpfake.StartAdmin(t, md)
	inst := api.AddInstance(t, gcpfake.InstanceConfig{
		Project: "myproject", Region: "us-central1", Name: "mydb", PublicIP: gcpfake.LoopbackIP(t),
		PostgresHost: seed.Host(), PostgresPort: seed.Port(),
	})
	t.Setenv(cloudsql.AdminAPIEndpointVar, api.URL)

	for _, role := range []struct{ name, password string }{
		{"deployer", "secret"}, {"user", "pass"}, {"entra_deployer", entraToken},
		{"iam_deploy_user", ""}, {"iam_deploy", ""}, {"mtls_user", ""},
		{seedGoogleUser, md.TokenFor(gcpfake.ScopeSQLLogin)},
	} {
		sql := "CREATE ROLE " + pgx.Identifier{role.name}.Sanitize() + " LOGIN CREATEDB"
		if role.password != "" {
			sql += " PASSWORD '" + strings.ReplaceAll(role.password, "'", "''") + "'"
		}
		seed.Exec(t, "postgres", sql)
	}

	for _, l := range seedLines {
		t.Run(fmt.Sprintf("line %d", l.line), func(t *testing.T) {
			pg, db := seed, fmt.Sprintf("seed_l%d", l.line)
			if l.shared {
				pg, db = cluster, freshName(t)
				dropAfter(t, db)
			}
			r := strings.NewReplacer("$DIR", project(t, "deploy.sql", seedDeploySQL), "$PORT", fmt.Sprint(pg.Port()), "$DB", db, "$CERTS", certs)
			args := make([]string, len(l.args))
			for i, a := range l.args {
				args[i] = r.Replace(a)
			}
			env := map[string]string{"HOME": t.TempDir(), "USER": "nobody-in-particular"}
			for i := 0; i+1 < len(l.env); i += 2 {
				env[l.env[i]] = r.Replace(l.env[i+1])
			}
			if l.auth == "aws-keys" {
				t.Setenv("AWS_ACCESS_KEY_ID", "AKIA"+strings.ToUpper(azurefake.NewID()[:16]))
				t.Setenv("AWS_SECRET_ACCESS_KEY", azurefake.NewID()+azurefake.NewID()[:4])
			}
			fetches, miRequests, logins := awsCreds.Fetches(), len(mi.Requests()), len(inst.Logins())

			code, _, stderr := cli{env: env}.run(t, args...)
			if code != 0 {
				t.Fatalf("documented: %s\nran: pgmi %s\nrewrite: %s\nexit %d\n%s", l.doc, strings.Join(args, " "), l.rewrite, code, stderr)
			}
			var who string
			var tls bool
			conn := pg.Connect(t, db)
			if err := conn.QueryRow(context.Background(), "SELECT who, tls FROM landed").Scan(&who, &tls); err != nil {
				t.Fatalf("the deploy did not land in %s: %v", db, err)
			}
			if who != l.user {
				t.Errorf("deployed as %q, want %q", who, l.user)
			}
			if wantTLS := !l.shared && l.auth != "google"; tls != wantTLS {
				t.Errorf("session over TLS: %v, want %v", tls, wantTLS)
			}
			switch l.auth {
			case "azure":
				// The role's only password is the token; azidentity may
				// serve it from its cache, so requests are not counted.
				for _, req := range mi.Requests()[miRequests:] {
					if !req.HeaderOK || req.Resource == "" {
						t.Errorf("managed identity request %+v", req)
					}
				}
			case "aws-ambient":
				if awsCreds.Fetches() == fetches {
					t.Error("the AWS provider did not fetch credentials from the container endpoint")
				}
			case "aws-keys":
				if awsCreds.Fetches() != fetches {
					t.Error("the container endpoint was used although AWS_ACCESS_KEY_ID was set")
				}
			case "google":
				// The first login is refused (the database does not exist
				// yet; pgmi creates it through the maintenance database).
				ok := 0
				for _, lg := range inst.Logins()[logins:] {
					if !lg.IAM || lg.User != seedGoogleUser {
						t.Errorf("instance login %+v, want IAM logins of %s", lg, seedGoogleUser)
					}
					if lg.Err == nil {
						ok++
					}
				}
				if ok == 0 {
					t.Error("no successful IAM login through the Cloud SQL instance fake")
				}
			}
		})
	}
}

// seedCerts writes a CA, and a client certificate for mtls_user signed by
// it, to dir as ca.crt, client.crt and client.key (0600); it returns the CA
// and a server certificate for 127.0.0.1 and localhost signed by it.
func seedCerts(t *testing.T, dir string) (caPEM, srvCrt, srvKey []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pgmi seed test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP, dns []string) (crt, key []byte) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: ips, DNSNames: dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(k)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	srvCrt, srvKey = leaf(2, "localhost", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"})
	cliCrt, cliKey := leaf(3, "mtls_user", x509.ExtKeyUsageClientAuth, nil, nil)
	for name, data := range map[string][]byte{"ca.crt": caPEM, "client.crt": cliCrt, "client.key": cliKey} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caPEM, srvCrt, srvKey
}
