package cloudsql

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/compute/metadata"
)

// OAuth scopes: the Admin API calls need sqlservice.admin; the token that
// Cloud SQL accepts as an IAM database login needs sqlservice.login.
const (
	scopeAdmin = "https://www.googleapis.com/auth/sqlservice.admin"
	scopeLogin = "https://www.googleapis.com/auth/sqlservice.login"
)

// identity holds the Application Default Credentials found for one dialer,
// with each token provider marking its failures as credential failures.
type identity struct {
	api, login *auth.Credentials
	json       []byte // the credentials file, nil on the metadata server
}

// detectIdentity finds Application Default Credentials the way Google's
// libraries do: GOOGLE_APPLICATION_CREDENTIALS, then gcloud's
// application_default_credentials.json, then the metadata server. It reads
// files but fetches no token.
func detectIdentity() (*identity, error) {
	api, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{scopeAdmin}})
	if err != nil {
		return nil, err
	}
	login, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{scopeLogin}})
	if err != nil {
		return nil, err
	}
	return &identity{api: marked(api, "sqlservice.admin"), login: marked(login, "sqlservice.login"), json: api.JSON()}, nil
}

// marked wraps c so that its token errors are credentialsErrors.
func marked(c *auth.Credentials, scope string) *auth.Credentials {
	return auth.NewCredentials(&auth.CredentialsOptions{
		TokenProvider:          markedProvider{c.TokenProvider, scope},
		JSON:                   c.JSON(),
		ProjectIDProvider:      auth.CredentialsPropertyFunc(c.ProjectID),
		QuotaProjectIDProvider: auth.CredentialsPropertyFunc(c.QuotaProjectID),
		UniverseDomainProvider: auth.CredentialsPropertyFunc(c.UniverseDomain),
	})
}

type markedProvider struct {
	tp    auth.TokenProvider
	scope string
}

func (m markedProvider) Token(ctx context.Context) (*auth.Token, error) {
	t, err := m.tp.Token(ctx)
	if err != nil {
		return nil, &credentialsError{scope: m.scope, err: err}
	}
	return t, nil
}

// credentialsError is a failure to get an access token.
type credentialsError struct {
	scope string
	err   error
}

func (e *credentialsError) Error() string {
	return fmt.Sprintf("getting a %s access token: %v", e.scope, e.err)
}

func (e *credentialsError) Unwrap() error { return e.err }

// fileInfo is what pgmi reads from a credentials file for messages.
type fileInfo struct {
	Type          string `json:"type"`
	ClientEmail   string `json:"client_email"`
	Impersonation string `json:"service_account_impersonation_url"`
}

// describe names the identity for a message: a service account's e-mail
// when it can be known (from the file, or asked of the metadata server with
// a short deadline), otherwise where the credentials came from.
func (id *identity) describe(ctx context.Context) string {
	if len(id.json) == 0 {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if email, err := metadata.EmailWithContext(ctx, "default"); err == nil && email != "" {
			return fmt.Sprintf("service account %s (from the metadata server)", email)
		}
		return "the service account of the metadata server"
	}
	var f fileInfo
	_ = json.Unmarshal(id.json, &f)
	switch {
	case f.Impersonation != "":
		sa := f.Impersonation[strings.LastIndex(f.Impersonation, "/")+1:]
		return fmt.Sprintf("service account %s (impersonated)", strings.TrimSuffix(sa, ":generateAccessToken"))
	case f.ClientEmail != "":
		return fmt.Sprintf("service account %s (from its key file)", f.ClientEmail)
	case f.Type == "authorized_user":
		return "the Google account of gcloud auth application-default login"
	case f.Type == "external_account":
		return "the workload identity federation credentials in GOOGLE_APPLICATION_CREDENTIALS"
	}
	return "the Application Default Credentials"
}
