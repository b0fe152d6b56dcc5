// Package rdsiam adds the aws authentication method to pgmi/pkg/connect:
// Amazon RDS and Aurora PostgreSQL IAM database authentication. A binary
// links it with a blank import,
//
//	import _ "github.com/pgmi-cloud/pgmi/pkg/connect/rdsiam"
//
// which registers the method from init(); nothing else happens at init.
//
// # What it does
//
// Before every physical connection (Provider.Prepare) the provider signs an
// RDS IAM token for the connection's endpoint ("host:port"), region and
// database user with feature/rds/auth.BuildAuthToken, and makes it the
// password. Signing is local and takes microseconds; a token is valid for 15
// minutes, and only at login, so a deploy that holds its session longer is
// fine, and every reconnect (the maintenance database, a retry) gets a new
// token.
//
// # How the identity is found
//
// The factory runs once per connect.Target, at its first connection. It
// loads the AWS configuration with config.LoadDefaultConfig, so the SDK's
// default credential chain applies: the first configured of
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN; Lambda hands
// its role over this way), AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN,
// the profile AWS_PROFILE (else default) in ~/.aws/config and
// ~/.aws/credentials (static keys, SSO, credential_process, role_arn …), the
// container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI for an ECS task
// role, AWS_CONTAINER_CREDENTIALS_FULL_URI with
// AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE] for EKS Pod Identity), and EC2
// instance metadata. The SDK caches the credentials until they expire.
//
// With the role ARN setting, SettingRoleARN (--aws-role-arn, PGMI_AWS_ROLE_ARN) those
// credentials first assume that role through STS (stscreds, in the
// database's region, session name "pgmi" unless Options.RoleSessionName says
// otherwise), and the role's temporary credentials, cached until they
// expire, sign the tokens: the pipeline runs in one account, the database
// lives in another. AWS_ENDPOINT_URL_STS overrides the STS endpoint, as
// everywhere in the SDK.
//
// # Required settings
//
//   - Region: SettingRegion, which the resolver takes from
//     --aws-region, PGMI_AWS_REGION, AWS_REGION, AWS_DEFAULT_REGION, then
//     pgmi.yaml connection.aws_region; when a caller leaves it empty, the
//     region the SDK finds (AWS_REGION, AWS_DEFAULT_REGION, the profile's
//     region). None → fault.Config (exit 10).
//   - User: the database user, -U/--username or PGUSER; the token is signed
//     for it and its case must match.
//   - One endpoint: the token is signed for one host and port, so a
//     multi-host connection is refused. Use the instance, cluster or proxy
//     endpoint, not a CNAME (RDS checks the signed host).
//   - TLS: RDS refuses IAM logins without TLS, and the token must never
//     travel in clear. sslmode disable is refused (exit 10); under allow and
//     prefer (the default) only the TLS attempts are made, so they behave as
//     require. Use --sslmode verify-full with the RDS CA bundle as
//     --sslrootcert to also authenticate the server.
//
// # Database-side setup
//
// Enable IAM database authentication on the instance or cluster, then, as
// the master user:
//
//	CREATE ROLE deployer LOGIN;
//	GRANT rds_iam TO deployer;
//
// and allow the identity (after role assumption, the assumed role) to
// connect:
//
//	{"Effect": "Allow", "Action": "rds-db:connect",
//	 "Resource": "arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId or prx-id>/deployer"}
//
// For cross-account use, the role in the database's account trusts the
// pipeline's identity (its trust policy) and carries the rds-db:connect
// policy; the pipeline's identity may call sts:AssumeRole on it.
//
// # Errors
//
// All are *fault.Error kinds as connect reports them:
//
//   - fault.Config (exit 10): no region, no user, sslmode disable, a Unix
//     socket or several hosts, an unreadable AWS config file;
//   - fault.Connection (exit 11): no credentials (the message names the
//     source the default chain used, lists the chain and says what to
//     check), STS refusing the role (the message names the role and the
//     error code), or the server rejecting the token (check the rds_iam
//     grant and the rds-db:connect policy). Credential failures are not
//     retried by connect: the SDK has retried its own requests;
//   - fault.Timeout (exit 16) when the deadline expires meanwhile.
//
// No message contains a token, a secret access key, a session token or the
// container authorization token.
package rdsiam
