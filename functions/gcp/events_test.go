package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

func TestParseCloudEvent(t *testing.T) {
	uploaded := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	published := time.Date(2026, 11, 25, 2, 0, 0, 512_000_000, time.UTC)
	storage := func(id, gen string) deploy.Request {
		return deploy.Request{
			Action:    deploy.ActionDeploy,
			Bundle:    "gs://bundles/app/releases/app-1.4.tgz",
			Version:   gen,
			Sequencer: "0000" + gen,
			Trigger:   deploy.Trigger{Platform: "gcp", Source: "storage", EventID: id, Time: uploaded},
		}
	}
	reset := func(id, schedule string) deploy.Request {
		return deploy.Request{
			Action:   deploy.ActionReset,
			Bundle:   "gs://bundles/app/releases/app 1.4.tgz",
			Version:  "1700000000000001",
			Database: "app_dev",
			Trigger:  deploy.Trigger{Platform: "gcp", Source: "pubsub", EventID: id, Time: published, Schedule: schedule},
		}
	}
	fleetTime := time.Date(2026, 11, 25, 9, 30, 0, 250_000_000, time.UTC)
	fleet := deploy.Request{
		Action:   deploy.ActionDeploy,
		Bundle:   "gs://bundles/tenants/release-1.tgz",
		Version:  "1700000000000001",
		Database: "tenant_07",
		Rollout:  12,
		Trigger:  deploy.Trigger{Platform: "gcp", Source: "pubsub", EventID: "11223344556690", Time: fleetTime},
	}
	encoded := storage("9876543210123463", "1700000000000001")
	encoded.Bundle = "gs://bundles/app/releases/app 1.4.tgz"

	tests := []struct {
		fixture string
		want    deploy.Request
		ignore  string // a part of the ignore reason; "" = not ignored
		err     string // a part of the error; "" = no error
	}{
		{fixture: "storage-finalized-strings", want: storage("9876543210123456", "1700000000000001")},
		{fixture: "storage-finalized-numbers", want: storage("9876543210123457", "1700000000000002")},
		{fixture: "storage-legacy-finalize", want: storage("9876543210123462", "1700000000000001")},
		{fixture: "storage-encoded-subject", want: encoded},
		{fixture: "storage-metadata-update", ignore: "metageneration 2 is a metadata update"},
		{fixture: "storage-wrong-subject", err: `subject "objects/app/releases/other.tgz" does not name the object`},
		{fixture: "storage-wrong-bucket", err: `does not name the bucket in the data ("bundles")`},
		{fixture: "storage-missing-generation", err: "has no generation"},
		{fixture: "pubsub-reset", want: reset("11223344556677",
			"projects/pgmi-demo/locations/europe-west1/jobs/reset-app-dev@2026-11-25T02:00:00.512Z")},
		{fixture: "pubsub-reset-payload-schedule", want: reset("11223344556678", "reset-app-dev@2026-11-25T02:00:00Z")},
		{fixture: "pubsub-reset-no-attributes", want: reset("11223344556679", "")},
		{fixture: "pubsub-fleet", want: fleet},
		{fixture: "pubsub-fleet-unknown-member", err: `pubsub message 11223344556691: invalid action payload: json: unknown field "wave"`},
		{fixture: "pubsub-bad-base64", err: "pubsub message 11223344556680: message data is not base64"},
		{fixture: "unknown-type", ignore: `event type "google.cloud.storage.object.v1.deleted"`},
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.fixture] = true
		t.Run(tc.fixture, func(t *testing.T) {
			req, ignore, err := parseCloudEvent(loadCloudEventFixture(t, tc.fixture))
			functest.CheckParse(t, req, ignore, err, tc.want, tc.ignore, tc.err)
		})
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".json"); !covered[name] {
			t.Errorf("fixture %s is in no test case", f)
		}
	}
}

func TestInt64Field(t *testing.T) {
	for _, tc := range []struct {
		raw    string
		want   int64
		ok     bool
		hasErr bool
	}{
		{raw: `"1700000000000001"`, want: 1700000000000001, ok: true},
		{raw: `1700000000000001`, want: 1700000000000001, ok: true},
		{raw: `"9223372036854775807"`, want: 1<<63 - 1, ok: true},
		{raw: `"0"`, want: 0, ok: true},
		{raw: ``},
		{raw: `null`},
		{raw: `"9223372036854775808"`, hasErr: true},
		{raw: `"-1"`, hasErr: true},
		{raw: `1.7e15`, hasErr: true},
		{raw: `"1 "`, hasErr: true},
		{raw: `""`, hasErr: true},
		{raw: `true`, hasErr: true},
		{raw: `"\u0031"`, want: 1, ok: true},
	} {
		n, ok, err := int64Field("generation", json.RawMessage(tc.raw))
		if (err != nil) != tc.hasErr || n != tc.want || ok != tc.ok {
			t.Errorf("int64Field(%s) = %d, %v, %v; want %d, %v, error %v", tc.raw, n, ok, err, tc.want, tc.ok, tc.hasErr)
		}
	}
}

// TestPubSubDeployHasNoSchedule: the schedule attribute only names a
// reset's run; a deploy's identity is its bundle, so a deploy message must
// not get a per-message schedule that would defeat the ledger's dedupe.
func TestPubSubDeployHasNoSchedule(t *testing.T) {
	e := loadCloudEventFixture(t, "pubsub-reset")
	e.DataEncoded = []byte(`{"message":{"data":"eyJhY3Rpb24iOiJkZXBsb3kiLCJidW5kbGUiOiJnczovL2J1bmRsZXMvYXBwLnRneiJ9",` +
		`"attributes":{"schedule":"job"},"messageId":"7","publishTime":"2026-11-25T02:00:00Z"}}`)
	req, _, err := parseCloudEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	if req.Action != deploy.ActionDeploy || req.Bundle != "gs://bundles/app.tgz" || req.Trigger.Schedule != "" || req.Trigger.EventID != "7" {
		t.Fatalf("got %+v", req)
	}
}

// TestPubSubFleetMessage: every fleet message the core publishes
// (deploy.FleetMessage, as JSON, with its attributes) reads, through
// Eventarc's messagePublished event, as the request the core itself reads
// from it (deploy.ParseFleetMessage), and a schedule attribute does not
// make it a scheduled run.
func TestPubSubFleetMessage(t *testing.T) {
	for _, m := range []deploy.FleetMessage{
		{Action: deploy.ActionDeploy, Rollout: 1, Database: "tenant_01", Bundle: "gs://bundles/tenants/r.tgz", Version: "1700000000000001"},
		{Action: deploy.ActionDeploy, Rollout: 9_000_000_001, Database: "Tenant \"Ä\"", Bundle: "gs://bundles/a b/r.tgz"},
	} {
		body, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		e := loadCloudEventFixture(t, "pubsub-fleet")
		data, _ := json.Marshal(map[string]any{"message": map[string]any{
			"data": base64.StdEncoding.EncodeToString(body), "messageId": "42", "publishTime": "2026-11-25T09:30:00Z",
			"attributes": map[string]string{"pgmi-rollout": fmt.Sprint(m.Rollout), "schedule": "job"}}})
		e.DataEncoded = data
		got, ignore, err := parseCloudEvent(e)
		if err != nil || ignore != "" {
			t.Fatalf("%s: ignore %q, error %v", body, ignore, err)
		}
		want, err := deploy.ParseFleetMessage(body, deploy.Trigger{Platform: "gcp", Source: "pubsub", EventID: "42",
			Time: time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		if !functest.SameRequest(got, want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", body, got, want)
		}
	}
	// Members a fleet message does not have, or a rollout on a reset, are refused.
	for _, payload := range []string{
		`{"action":"deploy","rollout":3,"database":"t","bundle":"gs://bkt/k","priority":1}`,
		`{"action":"reset","rollout":3,"database":"t","bundle":"gs://bkt/k"}`,
		`{"action":"deploy","rollout":-3,"database":"t","bundle":"gs://bkt/k"}`,
		`{"action":"deploy","rollout":3,"bundle":"gs://bkt/k"}`,
		`{"action":"deploy","rollout":"3","database":"t","bundle":"gs://bkt/k"}`,
	} {
		e := loadCloudEventFixture(t, "pubsub-fleet")
		e.DataEncoded, _ = json.Marshal(map[string]any{"message": map[string]any{
			"data": base64.StdEncoding.EncodeToString([]byte(payload)), "messageId": "43"}})
		if req, ignore, err := parseCloudEvent(e); err == nil || ignore != "" || !functest.SameRequest(req, deploy.Request{}) {
			t.Errorf("%s: %+v, ignore %q, error %v; want refused", payload, req, ignore, err)
		}
	}
}

func TestZeroEvent(t *testing.T) {
	if req, ignore, err := parseCloudEvent(cloudevents.Event{}); err != nil || ignore == "" || !functest.SameRequest(req, deploy.Request{}) {
		t.Fatalf("zero event: %+v, %q, %v; want ignored", req, ignore, err)
	}
}

func TestDataContentType(t *testing.T) {
	e := loadCloudEventFixture(t, "storage-finalized-strings")
	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON", "application/cloudevents+json", ""} {
		if err := e.SetData(ct, e.Data()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := parseCloudEvent(e); err != nil {
			t.Errorf("content type %q: %v", ct, err)
		}
	}
}

func TestNonJSONData(t *testing.T) {
	e := loadCloudEventFixture(t, "storage-finalized-strings")
	if err := e.SetData("application/protobuf", []byte{0x0a, 0x07}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := parseCloudEvent(e); err == nil || !strings.Contains(err.Error(), `"application/protobuf"`) {
		t.Fatalf("err = %v, want one naming the content type", err)
	}
}

// FuzzParseCloudEvent feeds arbitrary data (and subject) to both event
// kinds: no panic, and a request that comes back is always valid.
func FuzzParseCloudEvent(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	contracts, _ := filepath.Glob(filepath.Join("testdata", "contract", "*.json"))
	for _, name := range append(files, contracts...) {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		var fx cloudEventFixture
		if err := json.Unmarshal(raw, &fx); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(fx.Body), fx.Headers["ce-subject"])
	}
	f.Add([]byte(`{"bucket":"b","name":"n","generation":1}`), "")
	f.Add([]byte(`{"message":{"data":""}}`), "")
	f.Add([]byte(`null`), "objects/")
	f.Fuzz(func(t *testing.T, data []byte, subject string) {
		for _, typ := range []string{storageFinalized, pubsubPublished} {
			e := cloudevents.NewEvent()
			e.SetID("fuzz")
			e.SetType(typ)
			e.SetSource(storageSource + "bundles")
			e.SetSubject(subject)
			e.SetDataContentType("application/json")
			e.DataEncoded = data
			req, ignore, err := parseCloudEvent(e)
			if err != nil || ignore != "" {
				if !functest.SameRequest(req, deploy.Request{}) {
					t.Fatalf("%s: a request came with ignore %q / error %v: %+v", typ, ignore, err, req)
				}
				continue
			}
			if verr := req.Validate(); verr != nil {
				t.Fatalf("%s: returned an invalid request %+v: %v", typ, req, verr)
			}
			if typ == storageFinalized && (!strings.HasPrefix(req.Bundle, "gs://bundles/") || req.Version == "" || req.Sequencer == "") {
				t.Fatalf("storage event gave %+v", req)
			}
		}
	})
}

// A bucket name GCS could never hold ('?', '=' and '&' are not allowed)
// must not reach the pipeline: it opens everything before the key's '/' as
// a gocloud bucket URL, so gs://bundles?universe_domain=…&anonymous=true/key
// would fetch the bundle from, and write the result to, a server the event
// chose. This pins that a storage event naming such a bucket, and a Pub/Sub
// action payload whose bundle URL does, are refused as malformed (an error,
// never retried) that names the bad bucket.
func TestParseCloudEventRefusesHostileBucketName(t *testing.T) {
	bucket := "bundles?universe_domain=evil.example&anonymous=true"

	storage := loadCloudEventFixture(t, "storage-finalized-strings")
	storage.SetSource(storageSource + bucket)
	storage.SetSubject("objects/app/r1.tgz")
	storage.DataEncoded = []byte(`{"bucket":"` + bucket + `","name":"app/r1.tgz","generation":"1700000000000001","metageneration":"1"}`)

	payload := `{"action":"deploy","bundle":"gs://` + bucket + `/app/r1.tgz"}`
	pubsub := loadCloudEventFixture(t, "pubsub-reset")
	pubsub.DataEncoded, _ = json.Marshal(map[string]any{"message": map[string]any{
		"data": base64.StdEncoding.EncodeToString([]byte(payload)), "messageId": "m1", "publishTime": "2026-11-25T02:00:00Z"}})

	for _, c := range []struct {
		name    string
		e       cloudevents.Event
		wantErr string
	}{
		{"storage event", storage, fmt.Sprintf("invalid bucket name %q in the event: a Cloud Storage bucket name is", bucket)},
		{"Pub/Sub action payload", pubsub, fmt.Sprintf("invalid action payload: invalid bundle URL %q: bucket %q: a Cloud Storage bucket name is",
			"gs://"+bucket+"/app/r1.tgz", bucket)},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, ignore, err := parseCloudEvent(c.e)
			if err == nil || ignore != "" || !strings.Contains(err.Error(), c.wantErr) {
				bucketURL, _, _ := deploy.SplitBundleURL(req.Bundle)
				t.Fatalf("bundle %q (bucket URL %q), ignore %q, error %v; want an error containing %q",
					req.Bundle, bucketURL, ignore, err, c.wantErr)
			}
			if !functest.SameRequest(req, deploy.Request{}) {
				t.Errorf("a request alongside the error: %+v", req)
			}
		})
	}
}

// A Pub/Sub action payload is one JSON value and nothing else. This pins
// that trailing bytes after it are refused even when they are a stray ']'
// or '}' (a garbled or concatenated message), which json.Decoder.More
// reports as no more values.
func TestPubSubPayloadWithTrailingBracketRefused(t *testing.T) {
	for _, tail := range []string{"]", "}", "]]}", " }", "{}"} {
		payload := `{"action":"reset","bundle":"gs://bundles/app/r1.tgz","database":"app_dev"}` + tail
		e := loadCloudEventFixture(t, "pubsub-reset")
		e.DataEncoded, _ = json.Marshal(map[string]any{"message": map[string]any{
			"data": base64.StdEncoding.EncodeToString([]byte(payload)), "messageId": "m1", "publishTime": "2026-11-25T02:00:00Z"}})
		req, ignore, err := parseCloudEvent(e)
		if err == nil || ignore != "" || !strings.Contains(err.Error(), "invalid action payload: more than one JSON value") {
			t.Errorf("payload %s: %s of %s on %q, ignore %q, error %v; want it refused as more than one JSON value",
				payload, req.Action, req.Bundle, req.Database, ignore, err)
		}
	}
}
