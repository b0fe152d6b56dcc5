package connect

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// claim is one source asking for an auth method.
type claim struct {
	method AuthMethod
	source string
}

// resolveAuth picks the auth method and its cloud settings.
//
// Every source that names a method is a claim: the --azure/--aws/--google
// flags, the cloud id flags (--azure-tenant-id and --azure-client-id imply
// azure, --aws-region and --aws-role-arn aws, --google-instance and
// --google-ip-type google), PGMI_AUTH and the PGMI_* cloud variables, and
// pgmi.yaml's auth_method and cloud keys. Claims for two different methods
// are an error, whatever their sources. Ambient cloud variables
// (AWS_REGION, AZURE_CLIENT_ID …) never claim; they only supply values.
func resolveAuth(cfg *Config, f Flags, env Env, yml pgmiyaml.Connection, opts *Options, explicitUser bool) error {
	claims, err := authClaims(f, env, yml)
	if err != nil {
		return err
	}
	method, err := pickMethod(claims, opts)
	if err != nil {
		return err
	}
	cfg.Auth = method
	var from cloudSources
	cfg.Cloud, from = cloudSettings(method, f, env, yml)
	return validateCloud(cfg, from, explicitUser)
}

func authClaims(f Flags, env Env, yml pgmiyaml.Connection) ([]claim, error) {
	var out []claim
	add := func(set bool, m AuthMethod, source string) {
		if set {
			out = append(out, claim{m, source})
		}
	}
	add(f.Azure, AuthAzure, "--azure")
	add(f.AzureTenantID != "", AuthAzure, "--azure-tenant-id")
	add(f.AzureClientID != "", AuthAzure, "--azure-client-id")
	add(f.AWS, AuthAWS, "--aws")
	add(f.AWSRegion != "", AuthAWS, "--aws-region")
	add(f.AWSRoleARN != "", AuthAWS, "--aws-role-arn")
	add(f.Google, AuthGoogle, "--google")
	add(f.GoogleInstance != "", AuthGoogle, "--google-instance")
	add(f.GoogleIPType != "", AuthGoogle, "--google-ip-type")
	for _, named := range []struct{ value, source string }{
		{env.get("PGMI_AUTH"), "PGMI_AUTH"}, {yml.AuthMethod, "pgmi.yaml connection.auth_method"},
	} {
		if named.value == "" {
			continue
		}
		m, ok := ParseAuthMethod(named.value)
		if !ok {
			return nil, configErr("invalid authentication method %q in %s: use password, aws, azure or google", clip(named.value), named.source)
		}
		out = append(out, claim{m, named.source})
	}
	add(env.get("PGMI_AWS_REGION") != "", AuthAWS, "PGMI_AWS_REGION")
	add(env.get("PGMI_AWS_ROLE_ARN") != "", AuthAWS, "PGMI_AWS_ROLE_ARN")
	add(env.get("PGMI_AZURE_TENANT_ID") != "", AuthAzure, "PGMI_AZURE_TENANT_ID")
	add(env.get("PGMI_AZURE_CLIENT_ID") != "", AuthAzure, "PGMI_AZURE_CLIENT_ID")
	add(env.get("PGMI_GOOGLE_INSTANCE") != "", AuthGoogle, "PGMI_GOOGLE_INSTANCE")
	add(env.get("PGMI_GOOGLE_IP_TYPE") != "", AuthGoogle, "PGMI_GOOGLE_IP_TYPE")
	add(yml.AWSRegion != "", AuthAWS, "pgmi.yaml connection.aws_region")
	add(yml.AzureTenantID != "", AuthAzure, "pgmi.yaml connection.azure_tenant_id")
	add(yml.AzureClientID != "", AuthAzure, "pgmi.yaml connection.azure_client_id")
	add(yml.AWSRoleARN != "", AuthAWS, "pgmi.yaml connection.aws_role_arn")
	add(yml.GoogleInstance != "", AuthGoogle, "pgmi.yaml connection.google_instance")
	add(yml.GoogleIPType != "", AuthGoogle, "pgmi.yaml connection.google_ip_type")
	return out, nil
}

func pickMethod(claims []claim, opts *Options) (AuthMethod, error) {
	bySource := map[AuthMethod][]string{}
	var order []AuthMethod
	for _, c := range claims {
		if _, seen := bySource[c.method]; !seen {
			order = append(order, c.method)
		}
		bySource[c.method] = append(bySource[c.method], c.source)
	}
	switch len(order) {
	case 0:
		if opts != nil && opts.DefaultAuth != "" {
			return opts.DefaultAuth, nil
		}
		return AuthPassword, nil
	case 1:
		return order[0], nil
	}
	parts := make([]string, len(order))
	for i, m := range order {
		parts[i] = fmt.Sprintf("%s asks for %s", strings.Join(bySource[m], " and "), m)
	}
	sort.Strings(parts)
	return "", configErr("conflicting authentication methods: %s; choose one", strings.Join(parts, ", "))
}

// candidate is one source's value of a setting; source names it as the
// user gave it (a flag, a variable, a pgmi.yaml key).
type candidate struct{ val, source string }

// firstSet is the first candidate with a value.
func firstSet(cs ...candidate) candidate {
	for _, c := range cs {
		if c.val != "" {
			return c
		}
	}
	return candidate{}
}

// cloudSources names where the cloud settings that validateCloud checks
// came from, for its messages.
type cloudSources struct{ awsRoleARN, googleInstance, googleIPType string }

func cloudSettings(method AuthMethod, f Flags, env Env, yml pgmiyaml.Connection) (Cloud, cloudSources) {
	e := func(name string) candidate { return candidate{env.get(name), name} }
	y := func(val, key string) candidate { return candidate{val, "pgmi.yaml connection." + key} }
	switch method {
	case AuthAWS:
		role := firstSet(candidate{f.AWSRoleARN, "--aws-role-arn"}, e("PGMI_AWS_ROLE_ARN"), y(yml.AWSRoleARN, "aws_role_arn"))
		return Cloud{
			AWSRegion:  firstNonEmpty(f.AWSRegion, env.get("PGMI_AWS_REGION"), env.get("AWS_REGION"), env.get("AWS_DEFAULT_REGION"), yml.AWSRegion),
			AWSRoleARN: role.val,
		}, cloudSources{awsRoleARN: role.source}
	case AuthAzure:
		return Cloud{
			AzureTenantID: firstNonEmpty(f.AzureTenantID, env.get("PGMI_AZURE_TENANT_ID"), env.get("AZURE_TENANT_ID"), yml.AzureTenantID),
			AzureClientID: firstNonEmpty(f.AzureClientID, env.get("PGMI_AZURE_CLIENT_ID"), env.get("AZURE_CLIENT_ID"), yml.AzureClientID),
		}, cloudSources{}
	case AuthGoogle:
		inst := firstSet(candidate{f.GoogleInstance, "--google-instance"}, e("PGMI_GOOGLE_INSTANCE"), y(yml.GoogleInstance, "google_instance"))
		ip := firstSet(candidate{f.GoogleIPType, "--google-ip-type"}, e("PGMI_GOOGLE_IP_TYPE"), y(yml.GoogleIPType, "google_ip_type"))
		return Cloud{GoogleInstance: inst.val, GoogleIPType: strings.ToLower(ip.val)},
			cloudSources{googleInstance: inst.source, googleIPType: ip.source}
	}
	return Cloud{}, cloudSources{}
}

var (
	// instanceName is PROJECT:REGION:INSTANCE, or DOMAIN:PROJECT:REGION:INSTANCE
	// for a domain-scoped project.
	instanceName = regexp.MustCompile(`^(?:[a-z0-9.-]+:)?[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]+$`)
	roleARN      = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/.+$`)
)

// validateCloud checks offline what each cloud method needs. An invalid
// value is named by its source; a missing one is a *SettingError, whose
// message names the flags and, for ForEnvironment, the variables.
func validateCloud(cfg *Config, from cloudSources, explicitUser bool) error {
	switch cfg.Auth {
	case AuthAWS:
		return validateAWS(cfg.Cloud, from, explicitUser)
	case AuthGoogle:
		return validateGoogle(cfg.Cloud, from, explicitUser)
	}
	return nil
}

func validateAWS(c Cloud, from cloudSources, explicitUser bool) error {
	if c.AWSRegion == "" {
		return missing("AWS RDS IAM authentication needs the database's region: pass --aws-region, or set AWS_REGION or connection.aws_region in pgmi.yaml",
			"AWS RDS IAM authentication needs the database's region: set PGMI_AWS_REGION (or AWS_REGION)")
	}
	if c.AWSRoleARN != "" && !roleARN.MatchString(c.AWSRoleARN) {
		return configErr("invalid AWS role ARN %q in %s: expected arn:aws:iam::<account>:role/<name>", clip(c.AWSRoleARN), from.awsRoleARN)
	}
	if !explicitUser {
		return missing("AWS RDS IAM authentication needs the database user that has rds_iam: pass -U/--username or set PGUSER",
			"AWS RDS IAM authentication needs the database user that has rds_iam: set PGUSER")
	}
	return nil
}

func validateGoogle(c Cloud, from cloudSources, explicitUser bool) error {
	if c.GoogleInstance == "" {
		return missing("Cloud SQL IAM authentication needs the instance: pass --google-instance project:region:instance",
			"Cloud SQL IAM authentication needs the instance: set PGMI_GOOGLE_INSTANCE to its connection name, project:region:instance")
	}
	if !instanceName.MatchString(c.GoogleInstance) {
		return configErr("invalid Cloud SQL instance %q in %s: expected project:region:instance", clip(c.GoogleInstance), from.googleInstance)
	}
	switch c.GoogleIPType {
	case "", GoogleIPPublic, GoogleIPPrivate, GoogleIPPSC:
	default:
		return configErr("invalid Cloud SQL IP type %q in %s: use public, private or psc", clip(c.GoogleIPType), from.googleIPType)
	}
	if !explicitUser {
		const need = "Cloud SQL IAM authentication needs the IAM database user (for a service account, its e-mail without .gserviceaccount.com)"
		return missing(need+": pass -U/--username", need+": set PGUSER")
	}
	return nil
}
