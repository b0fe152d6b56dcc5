package rdsiam

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// DefaultRoleSessionName names the STS session when a role is assumed.
const DefaultRoleSessionName = "pgmi"

// Options tune the provider; nil means the defaults.
type Options struct {
	// RoleSessionName names the session when the role (SettingRoleARN) is assumed,
	// as it appears in CloudTrail; "" means DefaultRoleSessionName.
	RoleSessionName string
	// LoadOptions are passed to config.LoadDefaultConfig after pgmi's own
	// (the region), for an embedder's HTTP client, retryer or profile.
	LoadOptions []func(*config.LoadOptions) error
}

// signFunc mints a token; auth.BuildAuthToken in production.
type signFunc func(ctx context.Context, endpoint, region, user string, creds sdkaws.CredentialsProvider, optFns ...func(*auth.BuildAuthTokenOptions)) (string, error)

// NewFactory returns the aws ProviderFactory. Each call of the factory (once
// per connect.Target, at its first connection) checks the settings offline,
// loads the AWS configuration with the SDK's default credential chain (its
// log going to the factory's logger), and sets up role assumption when
// SettingRoleARN is set. Credentials are
// fetched at the first connection and cached until they expire; a token is
// signed for every physical connection.
func NewFactory(opts *Options) connect.ProviderFactory {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.RoleSessionName == "" {
		o.RoleSessionName = DefaultRoleSessionName
	}
	return func(ctx context.Context, c *connect.Config, log *slog.Logger) (connect.Provider, error) {
		return newProvider(ctx, c, log, &o, auth.BuildAuthToken)
	}
}

// provider signs an RDS IAM token for every connection.
type provider struct {
	region string
	role   string // assumed role ARN, "" for none
	creds  sdkaws.CredentialsProvider
	source string // which credential source the chain uses, for messages
	sign   signFunc
}

func newProvider(ctx context.Context, c *connect.Config, log *slog.Logger, o *Options, sign signFunc) (*provider, error) {
	if err := checkSettings(c); err != nil {
		return nil, err
	}
	load := []func(*config.LoadOptions) error{config.WithLogger(sdkLog(log))}
	if region := c.AuthSettings.Get(SettingRegion); region != "" {
		load = append(load, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(load, o.LoadOptions...)...)
	if err != nil {
		return nil, fault.Wrap(fault.Config, redacted{err}, "cannot load the AWS configuration: check AWS_PROFILE, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE and the files they name")
	}
	if cfg.Region == "" {
		return nil, fault.Errorf(fault.Config, "AWS RDS IAM authentication needs the database's region: pass --aws-region, or set PGMI_AWS_REGION, AWS_REGION, AWS_DEFAULT_REGION or connection.aws_region in pgmi.yaml")
	}
	p := &provider{region: cfg.Region, creds: cfg.Credentials, source: chainSource(cfg), sign: sign}
	if p.creds == nil {
		return nil, fault.Errorf(fault.Config, "the AWS configuration has no credential provider")
	}
	if arn := c.AuthSettings.Get(SettingRoleARN); arn != "" {
		p.role = arn
		assume := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), arn, func(ao *stscreds.AssumeRoleOptions) {
			ao.RoleSessionName = o.RoleSessionName
		})
		p.creds = sdkaws.NewCredentialsCache(assume)
	}
	return p, nil
}

// checkSettings refuses, before anything is loaded, what RDS IAM cannot do.
func checkSettings(c *connect.Config) error {
	if err := checkRoleARN(c.AuthSettings); err != nil {
		return err
	}
	if c.User == "" {
		return fault.Errorf(fault.Config, "AWS RDS IAM authentication needs the database user that has rds_iam: pass -U/--username or set PGUSER")
	}
	if c.SSL.Mode == "disable" {
		return fault.Errorf(fault.Config, "AWS RDS IAM authentication needs TLS, but sslmode is disable: use --sslmode require, or verify-full with the RDS CA bundle as --sslrootcert")
	}
	eps := c.Endpoints()
	for _, ep := range eps {
		if connect.IsSocketDir(ep.Host) {
			return fault.Errorf(fault.Config, "AWS RDS IAM authentication cannot use the Unix socket %s: pass the instance's or cluster's endpoint as --host", ep)
		}
	}
	if len(eps) > 1 {
		return fault.Errorf(fault.Config, "AWS RDS IAM authentication signs a token for one endpoint, but %d hosts are given (%s): name one", len(eps), c.Address())
	}
	return nil
}

// Prepare signs a fresh token for this connection's endpoint and user and
// makes it the password. Attempts without TLS (sslmode allow or prefer) are
// dropped first, so the token never travels unencrypted.
func (p *provider) Prepare(ctx context.Context, cfg *pgx.ConnConfig) error {
	if err := connect.TLSOnly(cfg, "AWS RDS IAM"); err != nil {
		return err
	}
	endpoint := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	token, err := p.sign(ctx, endpoint, p.region, cfg.User, p.creds)
	if err != nil {
		return p.credentialsError(ctx, err)
	}
	cfg.Password = token
	return nil
}

// String describes the provider without secrets.
func (p *provider) String() string {
	s := fmt.Sprintf("aws rds iam: region %s, credentials from %s", p.region, p.source)
	if p.role != "" {
		s += ", assuming " + p.role
	}
	return s
}
