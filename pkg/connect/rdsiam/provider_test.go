package rdsiam

import (
	"context"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/awsfake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// minted records the tokens a provider signed. Its sign function calls the
// real BuildAuthToken and then makes the token the role's password, the
// local stand-in for RDS verifying the signature.
type minted struct {
	t      *testing.T
	mu     sync.Mutex
	tokens []string
}

func (m *minted) sign(ctx context.Context, endpoint, region, user string, creds sdkaws.CredentialsProvider, optFns ...func(*auth.BuildAuthTokenOptions)) (string, error) {
	tok, err := auth.BuildAuthToken(ctx, endpoint, region, user, creds, optFns...)
	if err != nil {
		return "", err
	}
	if err := setPassword(ctx, user, tok); err != nil {
		m.t.Errorf("set the token as %s's password: %v", user, err)
	}
	m.mu.Lock()
	m.tokens = append(m.tokens, tok)
	m.mu.Unlock()
	return tok, nil
}

func (m *minted) all() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.tokens...)
}

// factory is NewFactory with m's signer.
func (m *minted) factory(opts *Options) connect.ProviderFactory {
	o := Options{RoleSessionName: DefaultRoleSessionName}
	if opts != nil {
		o = *opts
	}
	return func(ctx context.Context, c *connect.Config, log *slog.Logger) (connect.Provider, error) {
		return newProvider(ctx, c, log, &o, m.sign)
	}
}

func withFactory(f connect.ProviderFactory) *connect.Options {
	return &connect.Options{Factory: f}
}

func target(t *testing.T, f connect.Flags, opts *connect.Options) *connect.Target {
	t.Helper()
	tgt, err := connect.ResolveWith(f, baseEnv(t), pgmiyaml.Connection{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tgt.Close() })
	return tgt
}

func dial(t *testing.T, tgt *connect.Target) *pgx.Conn {
	t.Helper()
	conn, err := tgt.Dial(t.Context(), "postgres")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// tokenQuery parses the presigned query of an RDS token ("host:port?…").
func tokenQuery(t *testing.T, tok string) (hostPort string, q url.Values) {
	t.Helper()
	hostPort, raw, ok := strings.Cut(tok, "?")
	if !ok {
		t.Fatalf("token has no query: %.40s…", tok)
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return hostPort, q
}

func waitNextSecond() {
	now := time.Now().Unix()
	for time.Now().Unix() == now {
		time.Sleep(10 * time.Millisecond)
	}
}

// The ambient identity is a container credentials endpoint; each physical
// connection signs a new token, which the server accepts as the password.
func TestTokenPerConnectionFromContainerCredentials(t *testing.T) {
	testpg.Require(t, pgErr)
	awsfake.Isolate(t)
	creds := awsfake.StartContainerEndpoint(t)
	creds.Use(t)
	role := newRole(t, "iam_deployer")
	m := &minted{t: t}
	tgt := target(t, flags(role, "eu-west-1"), withFactory(m.factory(nil)))

	for i := range 2 {
		if i > 0 {
			waitNextSecond() // so a fresh signature differs from the first
		}
		conn := dial(t, tgt)
		var user string
		var ssl bool
		err := conn.QueryRow(t.Context(), "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&user, &ssl)
		if err != nil || user != role || !ssl {
			t.Fatalf("connection %d: user %q ssl %v err %v", i, user, ssl, err)
		}
	}
	toks := m.all()
	if len(toks) != 2 || toks[0] == toks[1] {
		t.Fatalf("want two different tokens, one per connection; got %d", len(toks))
	}
	d0, d1 := "", ""
	for i, tok := range toks {
		hostPort, q := tokenQuery(t, tok)
		if want := pg.Host() + ":" + strconv.Itoa(pg.Port()); hostPort != want {
			t.Errorf("token %d signed for %q, want %q", i, hostPort, want)
		}
		if q.Get("Action") != "connect" || q.Get("DBUser") != role || q.Get("X-Amz-Expires") != "900" {
			t.Errorf("token %d: Action %q DBUser %q Expires %q", i, q.Get("Action"), q.Get("DBUser"), q.Get("X-Amz-Expires"))
		}
		if !strings.HasPrefix(q.Get("X-Amz-Credential"), creds.Creds.AccessKeyID+"/") || !strings.Contains(q.Get("X-Amz-Credential"), "/eu-west-1/rds-db/aws4_request") {
			t.Errorf("token %d credential scope %q", i, q.Get("X-Amz-Credential"))
		}
		if q.Get("X-Amz-Security-Token") != creds.Creds.SessionToken {
			t.Errorf("token %d does not carry the session token of the container credentials", i)
		}
		if i == 0 {
			d0 = q.Get("X-Amz-Date")
		} else {
			d1 = q.Get("X-Amz-Date")
		}
	}
	if d0 == d1 {
		t.Errorf("both tokens signed at %s", d0)
	}
	if creds.Fetches() != 1 || creds.Rejected() != 0 {
		t.Errorf("credential fetches %d (rejected %d); want 1: cached until they expire", creds.Fetches(), creds.Rejected())
	}
	t.Logf("token length %d", len(toks[0]))
}

// A stale token (the role's password moved on) is rejected: exit 11,
// without the token in the message.
func TestRejectedTokenIsExit11WithoutTheToken(t *testing.T) {
	testpg.Require(t, pgErr)
	awsfake.Isolate(t)
	creds := awsfake.StartContainerEndpoint(t)
	creds.Use(t)
	role := newRole(t, "iam_stale")
	var signed []string
	sign := func(ctx context.Context, endpoint, region, user string, cp sdkaws.CredentialsProvider, o ...func(*auth.BuildAuthTokenOptions)) (string, error) {
		tok, err := auth.BuildAuthToken(ctx, endpoint, region, user, cp, o...)
		signed = append(signed, tok)
		return tok, err
	}
	if err := setPassword(t.Context(), role, "an-older-token"); err != nil {
		t.Fatal(err)
	}
	f := func(ctx context.Context, c *connect.Config, log *slog.Logger) (connect.Provider, error) {
		return newProvider(ctx, c, log, &Options{RoleSessionName: "pgmi"}, sign)
	}
	_, err := target(t, flags(role, "us-east-1"), withFactory(f)).Dial(t.Context(), "postgres")
	if exitcode.Of(err) != 11 || !strings.Contains(err.Error(), "was rejected") {
		t.Fatalf("exit %d: %v", exitcode.Of(err), err)
	}
	if len(signed) != 1 {
		t.Errorf("signed %d tokens; an authentication failure is not retried", len(signed))
	}
	assertNoSecrets(t, errTexts(err), append(signed, creds.Creds.SecretAccessKey, creds.Creds.SessionToken, creds.AuthToken)...)
	t.Log(err)
}

// Cross-account: the ambient credentials assume a role through STS, and the
// token is signed with the role's temporary credentials.
func TestAssumeRoleThroughSTS(t *testing.T) {
	testpg.Require(t, pgErr)
	awsfake.Isolate(t)
	creds := awsfake.StartContainerEndpoint(t)
	creds.Use(t)
	sts := awsfake.StartSTS(t)
	sts.Use(t)
	role := newRole(t, "iam_xacct")
	m := &minted{t: t}
	f := flags(role, "ap-southeast-2")
	f.Auth["aws-role-arn"] = "arn:aws:iam::222222222222:role/pgmi-deployer"
	tgt := target(t, f, withFactory(m.factory(&Options{RoleSessionName: "release-42"})))
	dial(t, tgt)
	dial(t, tgt)

	calls := sts.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d AssumeRole calls for two connections; want 1 (cached)", len(calls))
	}
	c := calls[0]
	if c.RoleARN != f.Auth["aws-role-arn"] || c.RoleSessionName != "release-42" {
		t.Errorf("AssumeRole %q session %q", c.RoleARN, c.RoleSessionName)
	}
	if c.SigningKeyID != creds.Creds.AccessKeyID || c.SecurityToken != creds.Creds.SessionToken {
		t.Errorf("AssumeRole signed by %q, want the ambient credentials %q", c.SigningKeyID, creds.Creds.AccessKeyID)
	}
	if c.SigningService != "sts" || c.SigningRegion != "ap-southeast-2" {
		t.Errorf("AssumeRole signed for %s in %s", c.SigningService, c.SigningRegion)
	}
	for _, tok := range m.all() {
		_, q := tokenQuery(t, tok)
		if !strings.HasPrefix(q.Get("X-Amz-Credential"), sts.Issued.AccessKeyID+"/") || q.Get("X-Amz-Security-Token") != sts.Issued.SessionToken {
			t.Errorf("token not signed with the assumed role's credentials: %s", q.Get("X-Amz-Credential"))
		}
	}
}

func TestAssumeRoleDenied(t *testing.T) {
	testpg.Require(t, pgErr)
	awsfake.Isolate(t)
	creds := awsfake.StartContainerEndpoint(t)
	creds.Use(t)
	sts := awsfake.StartSTS(t)
	sts.Deny = true
	sts.Use(t)
	f := flags(newRole(t, "iam_denied"), "us-east-2")
	f.Auth["aws-role-arn"] = "arn:aws:iam::333333333333:role/not-trusted"
	_, err := target(t, f, nil).Dial(t.Context(), "postgres")
	if exitcode.Of(err) != 11 {
		t.Fatalf("exit %d: %v", exitcode.Of(err), err)
	}
	for _, want := range []string{"assume role " + f.Auth["aws-role-arn"], "AccessDenied", "trust policy", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
	assertNoSecrets(t, errTexts(err), creds.Creds.SecretAccessKey, creds.Creds.SessionToken, creds.AuthToken)
}

// The registered provider (no override) with a credentials endpoint that
// does not answer: exit 11, says where the credentials were looked for,
// and shows no secret.
func TestUnreachableCredentialsEndpoint(t *testing.T) {
	testpg.Require(t, pgErr)
	awsfake.Isolate(t)
	const authToken = "container-auth-S3cret-value-not-to-print"
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", awsfake.ClosedURL(t, "/v2/credentials/x"))
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", authToken)
	start := time.Now()
	_, err := target(t, flags(newRole(t, "iam_nocreds"), "us-east-1"), nil).Dial(t.Context(), "postgres")
	if exitcode.Of(err) != 11 {
		t.Fatalf("exit %d: %v", exitcode.Of(err), err)
	}
	for _, want := range []string{"no AWS credentials", "container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI)", "default chain"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
	assertNoSecrets(t, errTexts(err), authToken)
	t.Logf("failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

// No source configured at all: the chain falls to instance metadata, which
// the test environment turns off; the message says so.
func TestNoCredentialSourceAtAll(t *testing.T) {
	testpg.Require(t, pgErr)
	awsfake.Isolate(t)
	_, err := target(t, flags(newRole(t, "iam_none"), "us-east-1"), nil).Dial(t.Context(), "postgres")
	if exitcode.Of(err) != 11 || !strings.Contains(err.Error(), "EC2 instance metadata, which AWS_EC2_METADATA_DISABLED turns off") {
		t.Fatalf("exit %d: %v", exitcode.Of(err), err)
	}
}
