package deploy_test

import (
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// The bucket URL SplitBundleURL returns is opened as a gocloud URL with the
// deployer's credentials, so its bucket part must be a bucket name and
// nothing more: a '?' would make the rest driver parameters (s3 endpoint=,
// gs universe_domain=, azblob domain= …) and send the fetch, and the result
// object, to a server the bundle URL chose. This pins, per scheme, that the
// names the platform allows split as before (keys verbatim, '?', '#' and '%'
// included) and that anything else in the bucket part is refused.
func TestSplitBundleURLBucketNames(t *testing.T) {
	for _, c := range []struct{ url, bucket, key string }{
		{"s3://bundles/app/r1.tgz", "s3://bundles", "app/r1.tgz"},
		{"s3://abc/k", "s3://abc", "k"},
		{"s3://my.bundles-2026/k", "s3://my.bundles-2026", "k"},
		{"s3://" + strings.Repeat("a", 63) + "/k", "s3://" + strings.Repeat("a", 63), "k"},
		{"s3://bundles/a?endpoint=x#y%20z", "s3://bundles", "a?endpoint=x#y%20z"},
		{"gs://bundles/app/r1.tgz", "gs://bundles", "app/r1.tgz"},
		{"gs://my_bundles.example.com/k", "gs://my_bundles.example.com", "k"},
		{"gs://" + strings.Repeat("a.", 110) + "aa/k", "gs://" + strings.Repeat("a.", 110) + "aa", "k"},
		{"azblob://bundles/app/r1.tgz", "azblob://bundles", "app/r1.tgz"},
		{"azblob://app-bundles-2/k", "azblob://app-bundles-2", "k"},
		{"azblob://" + strings.Repeat("a", 63) + "/k", "azblob://" + strings.Repeat("a", 63), "k"},
		{"file:///srv/bundles/app.tgz", "file:///srv/bundles", "app.tgz"},
		{"file:///tmp/a b/x?y#z.tgz", "file:///tmp/a b", "x?y#z.tgz"},
		{"mem://bundles/releases/app.tgz", "mem://bundles", "releases/app.tgz"},
		{"mem://b/k", "mem://b", "k"},
		{"mem://My_Bucket.1~x/k", "mem://My_Bucket.1~x", "k"},
	} {
		bucket, key, err := deploy.SplitBundleURL(c.url)
		if err != nil || bucket != c.bucket || key != c.key {
			t.Errorf("SplitBundleURL(%q) = %q, %q, %v; want %q, %q", c.url, bucket, key, err, c.bucket, c.key)
		}
	}
	for _, u := range []string{
		// Parameters, a fragment, userinfo or a port in the bucket part.
		"s3://bundles?endpoint=https%3A%2F%2Fevil.example&use_path_style=true/app/r1.tgz",
		"s3://bundles?endpoint=https://evil.example/app/r1.tgz",
		"s3://bundles#x/k",
		"s3://bundles&endpoint=x/k",
		"s3://user@bundles/k",
		"s3://bundles:443/k",
		"s3://bun%3Fdles/k",
		"S3://bundles?endpoint=x/k",
		"gs://bundles?universe_domain=evil.example&anonymous=true/app/r1.tgz",
		"azblob://bundles?domain=evil.example&protocol=https/app/r1.tgz",
		"azblob://bundles?storage_account=evil/k",
		"file:///srv/bundles?create_dir=true/app/r1.tgz",
		"file:///srv/bundles#x/app.tgz",
		"mem://b?x=y/k",
		"mem://b&x/k",
		"mem://b@h/k",
		// Names S3 does not allow.
		"s3://ab/k",
		"s3://" + strings.Repeat("a", 64) + "/k",
		"s3://Bundles/k",
		"s3://-bundles/k",
		"s3://bundles-/k",
		"s3://my_bundles/k",
		// Names Cloud Storage does not allow.
		"gs://ab/k",
		"gs://" + strings.Repeat("a", 223) + "/k",
		"gs://Bundles/k",
		"gs://_bundles/k",
		"gs://bundles./k",
		// Names Azure does not allow.
		"azblob://ab/k",
		"azblob://" + strings.Repeat("a", 64) + "/k",
		"azblob://Bundles/k",
		"azblob://my.bundles/k",
		"azblob://my_bundles/k",
		"azblob://-bundles/k",
		// Not a scheme a URL parser reads back the same.
		"s3:x://bundles/k",
		"3s://bundles/k",
	} {
		if bucket, key, err := deploy.SplitBundleURL(u); err == nil {
			t.Errorf("SplitBundleURL(%q) = %q, %q; want an error", u, bucket, key)
		} else if !strings.Contains(err.Error(), "invalid bundle URL") {
			t.Errorf("SplitBundleURL(%q): error %v, want one saying invalid bundle URL", u, err)
		}
	}
}

// The error names the bucket and says what the platform allows.
func TestSplitBundleURLBucketError(t *testing.T) {
	_, _, err := deploy.SplitBundleURL("s3://bundles?endpoint=x/k")
	want := `invalid bundle URL "s3://bundles?endpoint=x/k": bucket "bundles?endpoint=x": an S3 bucket name is 3 to 63 lowercase letters`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %v, want one starting %q", err, want)
	}
	for scheme, name := range map[string]string{"s3": "my.bundles", "gs": "my_bundles", "azblob": "my-bundles", "mem": "B"} {
		if err := deploy.CheckBucketName(scheme, name); err != nil {
			t.Errorf("CheckBucketName(%q, %q): %v", scheme, name, err)
		}
		if err := deploy.CheckBucketName(scheme, name+"?x=y"); err == nil {
			t.Errorf("CheckBucketName(%q, %q) accepted", scheme, name+"?x=y")
		}
	}
	if err := deploy.CheckBucketName("file", "x"); err == nil {
		t.Error("CheckBucketName(file) accepted a name: a file:// bucket is a folder")
	}
}

// Request.Validate, which every adapter and the pipeline call, refuses a
// bundle whose bucket carries parameters, and a Bucket (the folder of pgmi
// local, or a fleet message's bucket member) that is not a plain bucket
// URL; pgmi local's folder with its sub-folder keys still validates.
func TestRequestValidateBucket(t *testing.T) {
	for _, r := range []deploy.Request{
		{Action: deploy.ActionDeploy, Bundle: "s3://bundles/app/r1.tgz"},
		{Action: deploy.ActionDeploy, Bundle: "gs://bundles/app/r1.tgz", Version: "1"},
		{Action: deploy.ActionDeploy, Bundle: "azblob://bundles/app/r1.tgz"},
		{Action: deploy.ActionDeploy, Bucket: "file:///srv/pgmi local", Bundle: "file:///srv/pgmi local/app/sub/r1.tgz"},
		{Action: deploy.ActionDeploy, Bucket: "file:///srv/bundles/", Bundle: "file:///srv/bundles/app/r1.tgz"},
		{Action: deploy.ActionReset, Bundle: "s3://bundles/app/r1.tgz", Database: "app_dev"},
	} {
		if err := r.Validate(); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	for _, r := range []deploy.Request{
		{Action: deploy.ActionDeploy, Bundle: "s3://bundles?endpoint=https%3A%2F%2Fevil.example/app/r1.tgz"},
		{Action: deploy.ActionReset, Bundle: "gs://bundles?anonymous=true/app/r1.tgz", Database: "app_dev"},
		{Action: deploy.ActionDeploy, Bundle: "azblob://bundles?domain=evil.example/app/r1.tgz", Database: "t", Rollout: 3},
		{Action: deploy.ActionDeploy, Bucket: "s3://bundles?endpoint=x", Bundle: "s3://bundles?endpoint=x/app/r1.tgz"},
		{Action: deploy.ActionDeploy, Bucket: "s3://bundles/app", Bundle: "s3://bundles/app/r1.tgz"},
		{Action: deploy.ActionDeploy, Bucket: "file:///srv/b?create_dir=true", Bundle: "file:///srv/b?create_dir=true/app/r1.tgz"},
		{Action: deploy.ActionDeploy, Bucket: "file:///srv/b#x", Bundle: "file:///srv/b#x/app/r1.tgz"},
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v: valid, want refused", r)
		}
	}
	// A fleet message's bucket member goes through the same check.
	body := `{"action":"deploy","rollout":3,"database":"t","bucket":"file:///srv/b?create_dir=true","bundle":"file:///srv/b?create_dir=true/app/r1.tgz"}`
	if req, err := deploy.ParseFleetMessage([]byte(body), deploy.Trigger{}); err == nil || !strings.Contains(err.Error(), "invalid bucket URL") {
		t.Errorf("fleet message %s: %+v, error %v; want an invalid bucket URL error", body, req, err)
	}
}

// A fleet message is one JSON object: anything but white space after it
// (a stray ']' or '}', which json.Decoder.More does not see) is refused.
func TestParseFleetMessageRefusesTrailingData(t *testing.T) {
	msg := `{"action":"deploy","bundle":"s3://bundles/app/r1.tgz","database":"tenant_1","rollout":7}`
	if _, err := deploy.ParseFleetMessage([]byte(" "+msg+"\n"), deploy.Trigger{Source: "fleet"}); err != nil {
		t.Fatalf("a fleet message with white space around it: %v", err)
	}
	for _, tail := range []string{"]", "}", " {}", "x"} {
		if _, err := deploy.ParseFleetMessage([]byte(msg+tail), deploy.Trigger{Source: "fleet"}); err == nil || !strings.Contains(err.Error(), "more than one JSON value") {
			t.Errorf("%q after the message: err = %v, want more than one JSON value", tail, err)
		}
	}
}
