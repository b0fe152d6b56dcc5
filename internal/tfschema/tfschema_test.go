package tfschema

import (
	"os"
	"path/filepath"
	"testing"
)

// load reads one manifest scripts/deps.sh installs; without it the test
// fails under CI=true and skips otherwise.
func load(t *testing.T, pkg, version string) *Provider {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	file := File(Dir(root), pkg, version)
	if _, err := os.Stat(file); err != nil {
		msg := "@cdktf/" + pkg + "@" + version + " is not installed (" + file + "); run scripts/deps.sh (make deps)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	p, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Names known from the provider documentation come out in Terraform's
// spelling, with blocks told from arguments and the required ones marked.
func TestSchemaKnownNames(t *testing.T) {
	aws := load(t, "provider-aws", "21.0.0")
	if aws.Source != "hashicorp/aws" || aws.Version != "6.0.0" {
		t.Errorf("provider %s %s, want hashicorp/aws 6.0.0", aws.Source, aws.Version)
	}
	fn := aws.Resources["aws_lambda_function"]
	if fn == nil {
		t.Fatal("aws_lambda_function is missing")
	}
	for name, required := range map[string]bool{
		"function_name": true, "role": true, "reserved_concurrent_executions": false,
		"s3_bucket": false, "s3_object_version": false, "memory_size": false, "source_code_hash": false,
	} {
		a := fn.Arguments[name]
		if a == nil {
			t.Errorf("aws_lambda_function: no argument %s", name)
		} else if a.Required != required {
			t.Errorf("aws_lambda_function.%s: required = %v, want %v", name, a.Required, required)
		}
	}
	for _, name := range []string{"image_config", "environment", "vpc_config", "logging_config", "ephemeral_storage"} {
		if fn.Blocks[name] == nil {
			t.Errorf("aws_lambda_function: no block %s", name)
		}
		if fn.Arguments[name] != nil {
			t.Errorf("aws_lambda_function: %s is a block, read as an argument", name)
		}
	}
	if ic := fn.Blocks["image_config"]; ic != nil && (ic.Required || ic.Arguments["working_directory"] == nil || ic.Arguments["entry_point"] == nil) {
		t.Errorf("aws_lambda_function.image_config: %+v", ic.Block)
	}
	if es := fn.Blocks["ephemeral_storage"]; es != nil && es.Arguments["size"] == nil {
		t.Errorf("aws_lambda_function.ephemeral_storage has no size")
	}
	for _, name := range []string{"arn", "invoke_arn", "qualified_arn", "qualified_invoke_arn", "version", "function_name", "code_sha256"} {
		if !fn.Exports(name) {
			t.Errorf("aws_lambda_function does not export %s", name)
		}
	}
	for _, name := range []string{"function_arn", "arn_suffix", "output_base64sha256"} {
		if fn.Exports(name) {
			t.Errorf("aws_lambda_function exports %s", name)
		}
	}
	// SDKv2 attributes Terraform also takes as blocks: jsii types them
	// like blocks but documents them as arguments.
	if sg := aws.Resources["aws_security_group"]; sg == nil || sg.Arguments["egress"] == nil || sg.Arguments["egress"].Object == nil ||
		sg.Arguments["egress"].Object.Arguments["cidr_blocks"] == nil {
		t.Error("aws_security_group.egress is not an object argument with cidr_blocks")
	}
	if d := aws.DataSources["aws_iam_policy_document"]; d == nil || d.Blocks["statement"] == nil ||
		d.Blocks["statement"].Blocks["principals"] == nil || d.Blocks["statement"].Blocks["principals"].Arguments["identifiers"] == nil ||
		!d.Blocks["statement"].Blocks["principals"].Arguments["identifiers"].Required || !d.Exports("json") {
		t.Error("data aws_iam_policy_document: statement.principals.identifiers (required) or json missing")
	}

	archive := load(t, "provider-archive", "11.0.1")
	af := archive.DataSources["archive_file"]
	if af == nil || af.Arguments["type"] == nil || !af.Arguments["type"].Required || af.Blocks["source"] == nil {
		t.Fatalf("data archive_file: %+v", af)
	}
	// jsii's outputBase64Sha256 is Terraform's output_base64sha256.
	for _, name := range []string{"output_base64sha256", "output_path", "output_md5", "output_size"} {
		if !af.Exports(name) {
			t.Errorf("data archive_file does not export %s", name)
		}
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"functionName": "function_name", "s3Key": "s3_key", "id": "id", "tagsAll": "tags_all"} {
		if got := Snake(in); got != want {
			t.Errorf("Snake(%q) = %q, want %q", in, got, want)
		}
	}
}
