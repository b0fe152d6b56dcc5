package cloudsql

import (
	"context"
	"errors"
	"net/http"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/cloudsqlconn"
	"cloud.google.com/go/cloudsqlconn/errtype"
	"cloud.google.com/go/compute/metadata"
	"google.golang.org/api/googleapi"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// failure is a connector error with its kind and whether a retry may help.
// It unwraps to the *fault.Error, which connect keeps as it is.
type failure struct {
	err       *fault.Error
	transient bool
}

func (f *failure) Error() string   { return f.err.Error() }
func (f *failure) Unwrap() error   { return f.err }
func (f *failure) Retryable() bool { return f.transient }

func fail(kind fault.Kind, transient bool, cause error, format string, args ...any) error {
	return &failure{err: fault.Wrap(kind, redacted{cause}, format, args...), transient: transient}
}

// explain turns a failed dial into an error that says what to check. A
// canceled or expired context is left alone: connect reports it as an
// interrupt or a timeout.
func (p *provider) explain(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	inst := p.s.instance
	var (
		credErr *credentialsError
		apiErr  *googleapi.Error
		confErr *errtype.ConfigError
		dialErr *errtype.DialError
	)
	switch {
	case errors.As(err, &credErr):
		return fail(fault.Connection, credentialsTransient(credErr.err), err,
			"could not get a Google access token to connect to Cloud SQL instance %q: %s", inst, credentialsHint(p.sh.id))
	case errors.As(err, &apiErr):
		return p.apiFailure(ctx, apiErr, err)
	case errors.As(err, &confErr):
		return fail(fault.Config, false, err,
			"Cloud SQL instance %q cannot be reached as configured: check the region in the instance connection name (--google-instance, PGMI_GOOGLE_INSTANCE), and that the instance has a %s IP address (--google-ip-type or PGMI_GOOGLE_IP_TYPE: public, private or psc)", inst, p.s.ipType)
	case errors.Is(err, cloudsqlconn.ErrDialerClosed):
		return fail(fault.Connection, false, err, "the Cloud SQL connector for instance %q is closed: the connection target was closed before this connection", inst)
	case errors.As(err, &dialErr):
		return fail(fault.Connection, true, err,
			"cannot reach Cloud SQL instance %q over its %s address: %s", inst, p.s.ipType, networkHint(p.s.ipType))
	}
	return fail(fault.Connection, fault.Retryable(err), err, "cannot connect to Cloud SQL instance %q", inst)
}

// apiFailure explains an error status from the Cloud SQL Admin API.
func (p *provider) apiFailure(ctx context.Context, apiErr *googleapi.Error, err error) error {
	inst, code := p.s.instance, apiErr.Code
	switch {
	case code == http.StatusForbidden:
		return fail(fault.Connection, false, err,
			"the Cloud SQL Admin API refused access to instance %q for %s (HTTP 403): check the instance connection name (an unknown project or instance also gives 403), that this identity has the Cloud SQL Client role (roles/cloudsql.client) and, for IAM login, the Cloud SQL Instance User role (roles/cloudsql.instanceUser) in project %q, and that the Cloud SQL Admin API (sqladmin.googleapis.com) is enabled there",
			inst, p.sh.id.describe(ctx), p.s.project)
	case code == http.StatusNotFound:
		return fail(fault.Connection, false, err,
			"Cloud SQL instance %q was not found (HTTP 404): check the instance connection name (--google-instance, PGMI_GOOGLE_INSTANCE); %s", inst, describeHint)
	case code == http.StatusUnauthorized:
		return fail(fault.Connection, false, err,
			"the Cloud SQL Admin API did not accept the credentials of %s (HTTP 401): %s", p.sh.id.describe(ctx), credentialsHint(p.sh.id))
	case code == http.StatusTooManyRequests || code >= 500:
		return fail(fault.Connection, true, err,
			"the Cloud SQL Admin API could not answer for instance %q (HTTP %d): retry later, or check the project's Cloud SQL Admin API quota", inst, code)
	}
	return fail(fault.Connection, false, err,
		"the Cloud SQL Admin API refused the request for instance %q (HTTP %d): check that IAM database authentication is on for the instance (flag cloudsql.iam_authentication)", inst, code)
}

// credentialsHint says where Application Default Credentials came from.
func credentialsHint(id *identity) string {
	if id == nil {
		return "set GOOGLE_APPLICATION_CREDENTIALS to a readable credentials file, run gcloud auth application-default login, or run on Google Cloud with a service account attached"
	}
	if len(id.json) == 0 {
		return "check the metadata server and the service account attached to the function, service or VM (its access scopes must allow Cloud SQL)"
	}
	return "check the credentials file in GOOGLE_APPLICATION_CREDENTIALS, or renew gcloud's with gcloud auth application-default login"
}

func networkHint(ipType string) string {
	switch ipType {
	case "private":
		return "a private IP is reachable only from the instance's VPC network (Cloud Run and functions need Direct VPC egress or a Serverless VPC Access connector)"
	case "psc":
		return "check the Private Service Connect endpoint and its DNS record in the caller's network"
	}
	return "check that outbound connections to port 3307 are allowed, or use the private IP type (--google-ip-type private, PGMI_GOOGLE_IP_TYPE=private) inside the instance's VPC"
}

// credentialsTransient: a metadata server or token endpoint that failed
// with 5xx or 429, or a network failure reaching it, may recover.
func credentialsTransient(err error) bool {
	var (
		mdErr   *metadata.Error
		authErr *auth.Error
	)
	switch {
	case errors.As(err, &mdErr):
		return mdErr.Code == http.StatusTooManyRequests || mdErr.Code >= 500
	case errors.As(err, &authErr) && authErr.Response != nil:
		return authErr.Response.StatusCode == http.StatusTooManyRequests || authErr.Response.StatusCode >= 500
	}
	return fault.Retryable(err)
}

// redacted hides secrets in an underlying error's text.
type redacted struct{ err error }

func (r redacted) Error() string { return fault.Redact(r.err.Error()) }
func (r redacted) Unwrap() error { return r.err }

// noCredentials explains why Application Default Credentials were not found.
func noCredentials(err error) error {
	return fail(fault.Connection, false, err,
		"no usable Google credentials for Cloud SQL IAM authentication: %s", credentialsHint(nil))
}
