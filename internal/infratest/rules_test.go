package infratest

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// A moduleSpec is what the infra issue asks of one Terraform module.
type moduleSpec struct {
	dir       string
	providers map[string]string // local name → source
	resources []string          // resource types that must be declared
	data      []string          // data source types that must be declared
	validated []string          // variables that must carry a validation block
	outputs   []string
	// env locates the function's environment (a local value) and the
	// values some of its keys must have.
	envLocal string
	envAuth  string
	// check holds the module's own rules.
	check func(m *module) []string
}

var specs = []moduleSpec{
	{
		dir:       "aws",
		providers: map[string]string{"aws": "hashicorp/aws"},
		resources: []string{
			"aws_s3_bucket", "aws_s3_bucket_versioning", "aws_s3_bucket_public_access_block",
			"aws_s3_bucket_ownership_controls", "aws_s3_bucket_server_side_encryption_configuration",
			"aws_s3_bucket_object_lock_configuration", "aws_s3_bucket_policy",
			"aws_iam_role", "aws_iam_role_policy", "aws_iam_role_policy_attachment",
			"aws_cloudwatch_log_group", "aws_lambda_function", "aws_lambda_permission",
			"aws_s3_bucket_notification", "aws_lambda_function_event_invoke_config", "aws_sqs_queue",
			"aws_security_group", "aws_scheduler_schedule",
		},
		data: []string{"aws_iam_policy_document", "aws_caller_identity", "aws_partition", "aws_region"},
		validated: []string{
			"name", "bucket_name", "bucket_account_id", "object_lock", "uploader_arns", "bundle_prefix",
			"bundle_suffixes", "results_prefix", "architecture", "package_path", "memory_mb",
			"timeout_seconds", "ephemeral_storage_mb", "log_retention_days", "max_retry_attempts",
			"max_event_age_seconds", "failure_destination_arn", "subnet_ids", "security_group_ids",
			"db_host", "db_port", "db_name", "db_user", "db_resource_id", "db_role_arn", "db_sslmode",
			"db_ca_bundle_path", "routes", "trusted_signers", "trusted_signers_url", "reset",
			"timeout_margin", "lock_wait", "ledger_table", "extra_environment",
		},
		outputs: []string{
			"bucket_name", "bundle_url_prefix", "results_url_prefix", "function_name", "function_arn",
			"role_arn", "failure_destination_arn", "reset_schedule_arn", "db_user", "upload_example",
		},
		envLocal: "environment",
		envAuth:  "aws",
		check:    checkAWS,
	},
	{
		dir:       "gcp",
		providers: map[string]string{"google": "hashicorp/google"},
		resources: []string{
			"google_project_service", "google_storage_bucket", "google_service_account",
			"google_storage_bucket_iam_member", "google_project_iam_member",
			"google_cloud_run_v2_service", "google_cloud_run_v2_service_iam_member",
			"google_eventarc_trigger", "google_sql_user", "google_pubsub_topic", "google_cloud_scheduler_job",
		},
		data: []string{"google_storage_project_service_account"},
		validated: []string{
			"project_id", "region", "name", "bucket_name", "bucket_location", "uploader_members",
			"bundle_prefix", "results_prefix", "image", "cpu", "memory", "timeout_seconds", "max_instances",
			"vpc_subnetwork", "sql_instance", "sql_ip_type", "db_name", "routes", "trusted_signers",
			"trusted_signers_url", "reset", "timeout_margin", "lock_wait", "ledger_table", "extra_environment",
		},
		outputs: []string{
			"bucket_name", "bundle_url_prefix", "results_url_prefix", "service_name",
			"service_account_email", "db_user", "trigger_name", "reset_topic", "upload_example",
		},
		envLocal: "environment",
		envAuth:  "google",
		check:    checkGCP,
	},
	{
		dir:       "azure",
		providers: map[string]string{"azurerm": "hashicorp/azurerm"},
		resources: []string{
			"azurerm_resource_group", "azurerm_storage_account", "azurerm_storage_container",
			"azurerm_user_assigned_identity", "azurerm_role_definition", "azurerm_role_assignment",
			"azurerm_service_plan", "azurerm_function_app_flex_consumption",
			"azurerm_log_analytics_workspace", "azurerm_application_insights",
			"azurerm_eventgrid_system_topic", "azurerm_eventgrid_system_topic_event_subscription",
			"azurerm_postgresql_flexible_server_active_directory_administrator",
		},
		validated: []string{
			"subscription_id", "location", "name", "container_name", "replication_type",
			"soft_delete_days", "immutability_days", "uploader_principal_ids", "bundle_prefix",
			"bundle_suffixes", "results_prefix", "maximum_instance_count", "instance_memory_mb",
			"virtual_network_subnet_id", "log_retention_days", "postgres_server_id", "db_name",
			"entra_admin", "routes", "trusted_signers", "trusted_signers_url", "reset",
			"timeout_margin", "lock_wait", "ledger_table", "extra_app_settings",
		},
		outputs: []string{
			"storage_account_name", "container_name", "bundle_url_prefix", "results_url_prefix",
			"function_app_name", "identity_name", "identity_client_id", "identity_principal_id",
			"publish_command", "upload_example",
		},
		envLocal: "app_settings",
		envAuth:  "azure",
		check:    checkAzure,
	},
}

// checkModule applies the rules every module shares, then the module's own.
func checkModule(m *module, s moduleSpec) []string {
	var p problems
	if m.diags.HasErrors() {
		p.add("syntax: %s", m.diags.Error())
		return p
	}
	p.merge(checkProviders(m, s))
	p.merge(checkDeclared(m, "resource", s.resources))
	p.merge(checkDeclared(m, "data", s.data))
	p.merge(checkVariables(m, s.validated))
	p.merge(checkOutputs(m, s.outputs))
	p.merge(checkEnvironment(m, s))
	p.merge(s.check(m))
	return p
}

type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }
func (p *problems) merge(q []string)               { *p = append(*p, q...) }

// majorPin is a version constraint that allows one major version only.
var majorPin = regexp.MustCompile(`^~> [0-9]+\.[0-9]+$`)

func checkProviders(m *module, s moduleSpec) []string {
	var p problems
	tf := m.top("terraform")
	if len(tf) != 1 {
		p.add("want one terraform block, found %d", len(tf))
		return p
	}
	if a := attr(tf[0].Body, "required_version"); a == nil || literalString(a.Expr) == "" {
		p.add("terraform block: no required_version")
	}
	rp := nested(tf[0].Body, "required_providers")
	if len(rp) != 1 {
		p.add("terraform block: no required_providers")
		return p
	}
	for name, source := range s.providers {
		a, ok := rp[0].Attributes[name]
		if !ok {
			p.add("required_providers: %s is missing", name)
			continue
		}
		items := objectItems(a.Expr)
		if got := literalString(items["source"]); got != source {
			p.add("required_providers.%s: source %q, want %q", name, got, source)
		}
		if got := literalString(items["version"]); !majorPin.MatchString(got) {
			p.add("required_providers.%s: version %q is not pinned to a major version (~> X.Y)", name, got)
		}
	}
	return p
}

func checkDeclared(m *module, kind string, types []string) []string {
	var p problems
	have := m.resourceTypes(kind)
	for _, t := range types {
		if !have[t] {
			p.add("%s %s is not declared", kind, t)
		}
	}
	return p
}

func checkVariables(m *module, validated []string) []string {
	var p problems
	vars := m.named("variable")
	for name, b := range vars {
		d := attr(b.Body, "description")
		if d == nil || len(literalString(d.Expr)) < 10 {
			p.add("variable %s: no description", name)
		}
		if attr(b.Body, "type") == nil {
			p.add("variable %s: no type", name)
		}
		for _, v := range nested(b.Body, "validation") {
			if v.Attributes["condition"] == nil || v.Attributes["error_message"] == nil {
				p.add("variable %s: a validation block without condition or error_message", name)
			}
		}
		if secretName.MatchString(name) {
			p.add("variable %s: the functions authenticate with their cloud identity; no variable may carry a secret", name)
		}
	}
	for _, name := range validated {
		b, ok := vars[name]
		if !ok {
			p.add("variable %s is not declared", name)
			continue
		}
		if len(nested(b.Body, "validation")) == 0 {
			p.add("variable %s: no validation block", name)
		}
	}
	return p
}

var secretName = regexp.MustCompile(`(?i)password|secret|access_key|private_key|token|connection_string`)

func checkOutputs(m *module, want []string) []string {
	var p problems
	outs := m.named("output")
	for name, b := range outs {
		if d := attr(b.Body, "description"); d == nil || literalString(d.Expr) == "" {
			p.add("output %s: no description", name)
		}
		if attr(b.Body, "value") == nil {
			p.add("output %s: no value", name)
		}
	}
	for _, name := range want {
		if outs[name] == nil {
			p.add("output %s is not declared", name)
		}
	}
	return p
}

// checkEnvironment checks the function's environment against the contract
// of pkg/deploy: the settings every function gets, wired to the module's
// variables.
func checkEnvironment(m *module, s moduleSpec) []string {
	var p problems
	e, ok := m.locals()[s.envLocal]
	if !ok {
		p.add("local.%s (the function's environment) is not declared", s.envLocal)
		return p
	}
	env := objectItems(e)
	wantRefs := map[string]string{
		"PGMI_RESULTS_PREFIX":      "var.results_prefix",
		"PGMI_TRUSTED_SIGNERS":     "var.trusted_signers",
		"PGMI_TRUSTED_SIGNERS_URL": "var.trusted_signers_url",
		"PGMI_ALLOW_UNSIGNED":      "var.allow_unsigned",
		"PGMI_RESET_ALLOW":         "var.reset_allow",
		"PGMI_TIMEOUT_MARGIN":      "var.timeout_margin",
		"PGMI_LOCK_WAIT":           "var.lock_wait",
		"PGMI_LEDGER_TABLE":        "var.ledger_table",
		"PGDATABASE":               "var.db_name",
		"PGMI_ROUTES":              "var.bundle_prefix",
	}
	for key, ref := range wantRefs {
		v, ok := env[key]
		if !ok {
			p.add("environment: %s is not set", key)
			continue
		}
		if !m.deepRefs(v)[ref] {
			p.add("environment: %s does not come from %s (%s)", key, ref, m.text(v))
		}
	}
	for _, key := range []string{"PGUSER", "PGMI_AUTH"} {
		if _, ok := env[key]; !ok {
			p.add("environment: %s is not set", key)
		}
	}
	if v, ok := env["PGMI_AUTH"]; ok && literalString(v) != s.envAuth {
		p.add("environment: PGMI_AUTH = %s, want %q", m.text(v), s.envAuth)
	}
	for key := range env {
		if secretName.MatchString(key) && !strings.HasPrefix(key, "APPLICATIONINSIGHTS_") {
			p.add("environment: %s looks like a secret; functions authenticate with their identity", key)
		}
	}
	return p
}

// statements are the IAM policy statements of a policy document data
// source, with their literal actions.
type statement struct {
	actions   []string
	resources *hclsyntax.Attribute
}

func statements(b *hclsyntax.Block) []statement {
	var out []statement
	for _, s := range nested(b.Body, "statement") {
		st := statement{resources: s.Attributes["resources"]}
		if a := s.Attributes["actions"]; a != nil {
			st.actions = literalStrings(a.Expr)
		}
		out = append(out, st)
	}
	return out
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func checkAWS(m *module) []string {
	var p problems
	fn := m.one("resource", "aws_lambda_function", "deployer")
	if fn == nil {
		p.add("resource aws_lambda_function.deployer is not declared")
	} else {
		for attrName, want := range map[string]string{"runtime": "provided.al2023", "handler": "bootstrap"} {
			if a := attr(fn.Body, attrName); a == nil || literalString(a.Expr) != want {
				p.add("%s: %s must be %q", where(fn), attrName, want)
			}
		}
		if a := attr(fn.Body, "architectures"); a == nil || !refs(a.Expr)["var.architecture"] {
			p.add("%s: architectures must come from var.architecture", where(fn))
		}
		if attr(fn.Body, "vpc_config", "subnet_ids") == nil {
			p.add("%s: no vpc_config for a private database", where(fn))
		}
	}

	if n := m.one("resource", "aws_s3_bucket_notification", "bundles"); n == nil {
		p.add("resource aws_s3_bucket_notification.bundles is not declared")
	} else {
		fp := attrs(n.Body, "lambda_function", "filter_prefix")
		if len(fp) == 0 || !refs(fp[0].Expr)["var.bundle_prefix"] {
			p.add("%s: the trigger's filter_prefix must be var.bundle_prefix", where(n))
		}
	}

	if perm := m.one("resource", "aws_lambda_permission", "s3"); perm == nil {
		p.add("resource aws_lambda_permission.s3 is not declared")
	} else {
		for _, a := range []string{"source_account", "source_arn"} {
			if attr(perm.Body, a) == nil {
				p.add("%s: no %s (confused-deputy guard)", where(perm), a)
			}
		}
		if a := attr(perm.Body, "principal"); a == nil || literalString(a.Expr) != "s3.amazonaws.com" {
			p.add("%s: principal must be s3.amazonaws.com", where(perm))
		}
	}

	if ic := m.one("resource", "aws_lambda_function_event_invoke_config", "deployer"); ic == nil || attr(ic.Body, "destination_config", "on_failure", "destination") == nil {
		p.add("the function has no on-failure destination (aws_lambda_function_event_invoke_config)")
	}

	if pv := m.one("resource", "aws_s3_bucket_versioning", "bundles"); pv == nil ||
		literalString(attr(pv.Body, "versioning_configuration", "status").Expr) != "Enabled" {
		p.add("the bucket's versioning must be Enabled")
	}
	if pab := m.one("resource", "aws_s3_bucket_public_access_block", "bundles"); pab != nil {
		for _, a := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
			if at := attr(pab.Body, a); at == nil || m.text(at.Expr) != "true" {
				p.add("%s: %s must be true", where(pab), a)
			}
		}
	}

	if sch := m.one("resource", "aws_scheduler_schedule", "reset"); sch == nil || attr(sch.Body, "target", "input") == nil {
		p.add("the reset schedule has no target input")
	} else if in := m.locals()["reset_payload"]; in == nil || !strings.Contains(m.text(in), "<aws.scheduler.schedule-arn>@<aws.scheduler.scheduled-time>") {
		p.add("the reset payload must carry schedule = <aws.scheduler.schedule-arn>@<aws.scheduler.scheduled-time>")
	}

	p.merge(checkAWSPolicy(m))
	return p
}

// checkAWSPolicy: the function's role reads the bundle prefix and writes
// the results prefix, in separate statements, and nothing wider.
func checkAWSPolicy(m *module) []string {
	var p problems
	doc := m.one("data", "aws_iam_policy_document", "deployer")
	if doc == nil {
		return []string{"data aws_iam_policy_document.deployer (the function's policy) is not declared"}
	}
	var read, write, connect bool
	for _, st := range statements(doc) {
		if st.resources == nil {
			continue
		}
		r := refs(st.resources.Expr)
		res := m.text(st.resources.Expr)
		if strings.Contains(res, `"*"`) || strings.Contains(res, `/*"`) {
			p.add("%s: a statement with actions %v grants a wildcard resource %s", where(doc), st.actions, res)
		}
		for _, a := range st.actions {
			if strings.Contains(a, "*") {
				p.add("%s: wildcard action %s", where(doc), a)
			}
		}
		if has(st.actions, "s3:GetObject") && !r["local.trusted_signers_object_arn"] {
			read = true
			if !r["var.bundle_prefix"] || r["var.results_prefix"] {
				p.add("%s: s3:GetObject must be limited to var.bundle_prefix (got %s)", where(doc), res)
			}
		}
		if has(st.actions, "s3:PutObject") {
			write = true
			if !r["var.results_prefix"] || r["var.bundle_prefix"] || len(st.actions) != 1 {
				p.add("%s: s3:PutObject must be alone in its statement and limited to var.results_prefix (got %v on %s)", where(doc), st.actions, res)
			}
		}
		if has(st.actions, "rds-db:connect") {
			connect = true
			if !m.deepRefs(st.resources.Expr)["var.db_user"] {
				p.add("%s: rds-db:connect must name the one database user", where(doc))
			}
		}
	}
	if !read || !write || !connect {
		p.add("%s: want statements for reading bundles (%v), writing results (%v) and rds-db:connect (%v)", where(doc), read, write, connect)
	}
	return p
}

func checkGCP(m *module) []string {
	var p problems
	tr := m.one("resource", "google_eventarc_trigger", "bundles")
	if tr == nil {
		p.add("resource google_eventarc_trigger.bundles is not declared")
	} else {
		crit := map[string]hclsyntax.Expression{}
		for _, c := range nested(tr.Body, "matching_criteria") {
			if a, v := c.Attributes["attribute"], c.Attributes["value"]; a != nil && v != nil {
				crit[literalString(a.Expr)] = v.Expr
			}
		}
		if literalString(crit["type"]) != "google.cloud.storage.object.v1.finalized" {
			p.add("%s: must match type google.cloud.storage.object.v1.finalized", where(tr))
		}
		if crit["bucket"] == nil {
			p.add("%s: must match the bundle bucket", where(tr))
		}
		if attr(tr.Body, "destination", "cloud_run_service", "service") == nil {
			p.add("%s: no Cloud Run destination", where(tr))
		}
	}

	// Eventarc cannot filter on a name prefix: the routes must, and the
	// read and write grants are scoped by IAM conditions on the prefixes.
	for name, prefix := range map[string]string{"read_bundles": "var.bundle_prefix", "write_results": "var.results_prefix"} {
		b := m.one("resource", "google_storage_bucket_iam_member", name)
		if b == nil {
			p.add("resource google_storage_bucket_iam_member.%s is not declared", name)
			continue
		}
		cond := attr(b.Body, "condition", "expression")
		if cond == nil || !refs(cond.Expr)[prefix] {
			p.add("%s: the grant must carry a condition on %s", where(b), prefix)
		}
		other := map[string]string{"var.bundle_prefix": "var.results_prefix", "var.results_prefix": "var.bundle_prefix"}[prefix]
		if cond != nil && refs(cond.Expr)[other] {
			p.add("%s: the condition must not also open %s", where(b), other)
		}
	}
	if rb := m.one("resource", "google_storage_bucket_iam_member", "read_bundles"); rb != nil {
		if r := attr(rb.Body, "role"); r == nil || literalString(r.Expr) != "roles/storage.objectViewer" {
			p.add("%s: bundles are read with roles/storage.objectViewer only", where(rb))
		}
	}

	if u := m.one("resource", "google_sql_user", "deployer"); u == nil || literalString(attr(u.Body, "type").Expr) != "CLOUD_IAM_SERVICE_ACCOUNT" {
		p.add("the IAM database user (google_sql_user type CLOUD_IAM_SERVICE_ACCOUNT) is missing")
	}
	roles := map[string]bool{}
	for _, b := range m.top("resource", "google_project_iam_member") {
		if r := attr(b.Body, "role"); r != nil {
			roles[literalString(r.Expr)] = true
		}
	}
	for _, r := range []string{"roles/cloudsql.client", "roles/cloudsql.instanceUser", "roles/eventarc.eventReceiver", "roles/pubsub.publisher"} {
		if !roles[r] {
			p.add("no project IAM member with %s", r)
		}
	}

	svc := m.one("resource", "google_cloud_run_v2_service", "deployer")
	if svc == nil {
		p.add("resource google_cloud_run_v2_service.deployer is not declared")
	} else {
		if a := attr(svc.Body, "ingress"); a == nil || literalString(a.Expr) != "INGRESS_TRAFFIC_INTERNAL_ONLY" {
			p.add("%s: ingress must be INGRESS_TRAFFIC_INTERNAL_ONLY", where(svc))
		}
		if attr(svc.Body, "template", "containers", "image") == nil {
			p.add("%s: no container image", where(svc))
		}
	}
	env := objectItems(m.locals()["environment"])
	if literalString(env["FUNCTION_TARGET"]) != "Deploy" {
		p.add("environment: FUNCTION_TARGET must be Deploy")
	}
	for _, key := range []string{"PGMI_TIMEOUT", "CLOUD_RUN_TIMEOUT_SECONDS"} {
		if v := env[key]; v == nil || !refs(v)["var.timeout_seconds"] {
			p.add("environment: %s must follow var.timeout_seconds (Cloud Run hands the function no deadline)", key)
		}
	}

	job := m.one("resource", "google_cloud_scheduler_job", "reset")
	if job == nil || attr(job.Body, "pubsub_target", "attributes") == nil ||
		objectItems(attr(job.Body, "pubsub_target", "attributes").Expr)["schedule"] == nil {
		p.add("the reset job must publish with a \"schedule\" attribute")
	}
	if rt := m.one("resource", "google_eventarc_trigger", "reset"); rt == nil || attr(rt.Body, "transport", "pubsub", "topic") == nil {
		p.add("the reset trigger must deliver the reset topic (transport.pubsub.topic)")
	}
	return p
}

func checkAzure(m *module) []string {
	var p problems
	app := m.one("resource", "azurerm_function_app_flex_consumption", "deployer")
	if app == nil {
		p.add("resource azurerm_function_app_flex_consumption.deployer is not declared")
	} else {
		if a := attr(app.Body, "runtime_name"); a == nil || literalString(a.Expr) != "custom" {
			p.add("%s: runtime_name must be \"custom\" (a custom handler)", where(app))
		}
		if a := attr(app.Body, "identity", "type"); a == nil || literalString(a.Expr) != "UserAssigned" {
			p.add("%s: identity must be UserAssigned", where(app))
		}
		if a := attr(app.Body, "storage_authentication_type"); a == nil || literalString(a.Expr) != "UserAssignedIdentity" {
			p.add("%s: the deployment storage must be reached with the managed identity", where(app))
		}
	}
	if plan := m.one("resource", "azurerm_service_plan", "pgmi"); plan == nil ||
		literalString(attr(plan.Body, "sku_name").Expr) != "FC1" || literalString(attr(plan.Body, "os_type").Expr) != "Linux" {
		p.add("the plan must be Linux Flex Consumption (FC1)")
	}
	for _, b := range m.top("resource", "azurerm_storage_account") {
		if a := attr(b.Body, "shared_access_key_enabled"); a == nil || m.text(a.Expr) != "false" {
			p.add("%s: shared keys must be disabled", where(b))
		}
	}
	if sa := m.one("resource", "azurerm_storage_account", "bundles"); sa == nil || attr(sa.Body, "blob_properties", "versioning_enabled") == nil {
		p.add("the bundle storage account must enable blob versioning")
	}

	sub := m.one("resource", "azurerm_eventgrid_system_topic_event_subscription", "bundles")
	if sub == nil {
		p.add("resource azurerm_eventgrid_system_topic_event_subscription.bundles is not declared")
	} else {
		if a := attr(sub.Body, "subject_filter", "subject_begins_with"); a == nil || !refs(a.Expr)["var.bundle_prefix"] {
			p.add("%s: the subject filter must end in var.bundle_prefix", where(sub))
		}
		if a := attr(sub.Body, "included_event_types"); a == nil || !has(literalStrings(a.Expr), "Microsoft.Storage.BlobCreated") {
			p.add("%s: must include Microsoft.Storage.BlobCreated", where(sub))
		}
		if a := attr(sub.Body, "azure_function_endpoint", "function_id"); a == nil || !strings.Contains(m.text(a.Expr), "/functions/BlobCreated") {
			p.add("%s: must deliver to the BlobCreated function", where(sub))
		}
		if attr(sub.Body, "storage_blob_dead_letter_destination", "storage_account_id") == nil {
			p.add("%s: no dead-letter destination", where(sub))
		}
	}

	// Read under the bundle prefix and write under the results prefix, by
	// separate role assignments whose conditions name one prefix each.
	for name, prefix := range map[string]string{"read_bundles": "var.bundle_prefix", "write_results": "var.results_prefix"} {
		b := m.one("resource", "azurerm_role_assignment", name)
		if b == nil {
			p.add("resource azurerm_role_assignment.%s is not declared", name)
			continue
		}
		cond := attr(b.Body, "condition")
		if cond == nil || attr(b.Body, "condition_version") == nil {
			p.add("%s: no ABAC condition", where(b))
			continue
		}
		r := m.deepRefs(cond.Expr)
		other := map[string]string{"var.bundle_prefix": "var.results_prefix", "var.results_prefix": "var.bundle_prefix"}[prefix]
		if !r[prefix] || r[other] {
			p.add("%s: the condition must name %s and not %s", where(b), prefix, other)
		}
	}
	if def := m.one("resource", "azurerm_role_definition", "blob_writer"); def != nil {
		actions := literalStrings(attr(def.Body, "permissions", "data_actions").Expr)
		for _, a := range actions {
			if !strings.HasSuffix(a, "/blobs/write") && !strings.HasSuffix(a, "/blobs/add/action") {
				p.add("%s: the writer role may only write blobs, not %s", where(def), a)
			}
		}
		if n := attrs(def.Body, "permissions", "actions"); len(n) > 0 {
			p.add("%s: the writer role needs no control-plane actions", where(def))
		}
	}

	env := objectItems(m.locals()["app_settings"])
	for _, key := range []string{"AZURE_CLIENT_ID", "PGMI_AZURE_CLIENT_ID", "AZURE_STORAGE_ACCOUNT", "PGMI_RESET_SCHEDULE", "PGMI_RESET_DATABASE", "PGMI_RESET_BUNDLE", "AzureWebJobsStorage__credential"} {
		if env[key] == nil {
			p.add("app settings: %s is not set", key)
		}
	}
	for _, key := range []string{"AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME"} {
		if env[key] != nil {
			p.add("app settings: %s must not be set (identity-based host storage; the runtime is runtime_name)", key)
		}
	}
	return p
}

// secretPatterns are what must never be written into infra/: credentials
// that would belong in a secret store (and that the design does without).
var secretPatterns = map[string]*regexp.Regexp{
	"AWS access key id":        regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`),
	"private key":              regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`),
	"storage account key":      regexp.MustCompile(`(?i)AccountKey=[A-Za-z0-9+/=]{20,}`),
	"password assignment":      regexp.MustCompile(`(?i)\b\w*(password|passwd|secret)\w*\s*=\s*"[^"$]+"`),
	"Google service key":       regexp.MustCompile(`"private_key_id"\s*:`),
	"connection with password": regexp.MustCompile(`(?i)postgres(ql)?://[^:\s/]+:[^@\s/]+@`),
	"PGPASSWORD literal":       regexp.MustCompile(`PGPASSWORD\s*=\s*"?[A-Za-z0-9]`),
}

func findSecrets(name string, src []byte) []string {
	var out []string
	for what, re := range secretPatterns {
		for _, loc := range re.FindAllIndex(src, -1) {
			line := 1 + strings.Count(string(src[:loc[0]]), "\n")
			out = append(out, fmt.Sprintf("%s:%d: looks like a %s: %q", name, line, what, src[loc[0]:loc[1]]))
		}
	}
	sort.Strings(out)
	return out
}
