package rdsiam

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"

	"github.com/aws/smithy-go/logging"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// AuthMethod is the method's name: PGMI_AUTH=aws, auth_method: aws, --aws.
const AuthMethod connect.AuthMethod = "aws"

// The method's settings, by the keys of connect.AuthSettings.
const (
	// SettingRegion is the database's region.
	SettingRegion = "region"
	// SettingRoleARN is a role to assume first (cross-account pipelines).
	SettingRoleARN = "role_arn"
)

func init() { connect.Register(Method(NewFactory(nil))) }

// Method describes RDS IAM authentication with factory as its Provider
// factory; init registers it with NewFactory(nil).
func Method(factory connect.ProviderFactory) connect.Method {
	return connect.Method{
		Name:  AuthMethod,
		Title: title,
		Flag:  "aws", Usage: "authenticate with AWS RDS IAM",
		Settings: []connect.Setting{
			{Key: SettingRegion, Flag: "aws-region", Usage: "AWS region (AWS_REGION); implies --aws",
				Env: []string{"PGMI_AWS_REGION"}, Ambient: []string{"AWS_REGION", "AWS_DEFAULT_REGION"}, YAML: "aws_region"},
			{Key: SettingRoleARN, Flag: "aws-role-arn", Usage: "IAM role to assume first, for cross-account pipelines (PGMI_AWS_ROLE_ARN); implies --aws",
				Env: []string{"PGMI_AWS_ROLE_ARN"}, YAML: "aws_role_arn"},
		},
		Validate: validate,
		Factory:  factory,
	}
}

const title = "AWS RDS IAM authentication"

// roleARN is an IAM role's ARN, in any partition.
var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/.+$`)

// validate is the offline check of resolution: the region, a well-formed
// role ARN, and a user someone named (the token is signed for it).
func validate(s connect.AuthSettings, _ *connect.Config, explicitUser bool) error {
	if s.Get(SettingRegion) == "" {
		return connect.Missing(title+" needs the database's region: pass --aws-region, or set AWS_REGION or connection.aws_region in pgmi.yaml",
			title+" needs the database's region: set PGMI_AWS_REGION (or AWS_REGION)")
	}
	if err := checkRoleARN(s); err != nil {
		return err
	}
	if !explicitUser {
		return connect.Missing(title+" needs the database user that has rds_iam: pass -U/--username or set PGUSER",
			title+" needs the database user that has rds_iam: set PGUSER")
	}
	return nil
}

// checkRoleARN accepts an empty role or an IAM role ARN; the error names
// where the value came from.
func checkRoleARN(s connect.AuthSettings) error {
	arn := s.Get(SettingRoleARN)
	if arn == "" || roleARN.MatchString(arn) {
		return nil
	}
	from := s.Source(SettingRoleARN)
	if from == "" {
		from = "the settings"
	}
	return fault.Errorf(fault.Config, "invalid AWS role ARN %q in %s: expected arn:aws:iam::<account>:role/<name>", clip(arn), from)
}

// clip keeps a value quoted in a message short.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// sdkLogger writes the AWS SDK's log lines to a slog logger: "AWS SDK: "
// and the line, at WARN for the SDK's warnings and DEBUG otherwise.
type sdkLogger struct{ log *slog.Logger }

// Logf implements logging.Logger.
func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, "AWS SDK: "+fmt.Sprintf(format, v...))
}

// sdkLog is the SDK's logger for log: never the SDK's default, which
// writes plain lines to stderr.
func sdkLog(log *slog.Logger) logging.Logger {
	if log == nil {
		return logging.Nop{}
	}
	return sdkLogger{log}
}
