package rdsiam

import (
	"context"
	"errors"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/smithy-go"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// chainOrder is the order in which the SDK's default chain picks its
// source: the first one configured is used, the others are not tried.
const chainOrder = "the AWS SDK's default chain uses the first configured of: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; " +
	"AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN; the profile AWS_PROFILE (else default) in ~/.aws/config and ~/.aws/credentials; " +
	"the container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI: an ECS task role, EKS Pod Identity); EC2 instance metadata"

// tokenError is a failure to get the credentials that sign a token. The
// connection fails with exit 11 and is not retried: the SDK has already
// retried its own requests.
type tokenError struct {
	msg string
	err error
}

func (e *tokenError) Error() string   { return e.msg + ": " + fault.Redact(e.err.Error()) }
func (e *tokenError) Unwrap() error   { return e.err }
func (e *tokenError) Retryable() bool { return false }

// credentialsError says what to check when no token could be signed.
func (p *provider) credentialsError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err // connect reports the interrupt or the timeout
	}
	var api smithy.APIError
	if p.role != "" && errors.As(err, &api) {
		return &tokenError{err: err, msg: fmt.Sprintf(
			"STS refused to let the credentials from %s assume role %s (%s): check the role's trust policy and that this identity may call sts:AssumeRole on it",
			p.source, p.role, api.ErrorCode())}
	}
	return &tokenError{err: err, msg: fmt.Sprintf(
		"no AWS credentials from %s: check that this source is reachable and holds valid credentials for this process (%s)",
		p.source, chainOrder)}
}

// chainSource names the source the default chain picked, from the
// settings the SDK loaded (never their values).
func chainSource(cfg sdkaws.Config) string {
	var env config.EnvConfig
	var shared config.SharedConfig
	for _, s := range cfg.ConfigSources {
		switch v := s.(type) {
		case config.EnvConfig:
			env = v
		case *config.EnvConfig:
			env = *v
		case config.SharedConfig:
			shared = v
		case *config.SharedConfig:
			shared = *v
		}
	}
	switch {
	case env.Credentials.HasKeys():
		return "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
	case env.WebIdentityTokenFilePath != "":
		return "web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)"
	case profileHasCredentials(shared):
		return fmt.Sprintf("profile %q of the shared config files", shared.Profile)
	case env.ContainerCredentialsRelativePath != "":
		return "the ECS container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"
	case env.ContainerCredentialsEndpoint != "":
		return "the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI)"
	case env.EC2IMDSClientEnableState == imds.ClientDisabled:
		return "EC2 instance metadata, which AWS_EC2_METADATA_DISABLED turns off, because no other source is configured"
	}
	return "EC2 instance metadata (no other source is configured)"
}

func profileHasCredentials(s config.SharedConfig) bool {
	return s.Source != nil || s.Credentials.HasKeys() || s.CredentialSource != "" || s.CredentialProcess != "" ||
		s.WebIdentityTokenFile != "" || s.SSOStartURL != "" || s.SSOSession != nil || s.RoleARN != ""
}

// redacted hides secrets in an SDK error's text.
type redacted struct{ err error }

func (r redacted) Error() string { return fault.Redact(r.err.Error()) }
func (r redacted) Unwrap() error { return r.err }
