package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	storage "google.golang.org/api/storage/v1"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// No module on the Go proxy ships sample storage events:
// github.com/googleapis/google-cloudevents-go, which would, is not served
// by proxy.golang.org. The data of google.cloud.storage.object.v1.finalized
// is the Cloud Storage JSON API object resource, so these Vendor tests build
// it with Google's own type for that resource, storage.Object from
// google.golang.org/api (already required), serialized by its own JSON
// encoding (int64 fields as decimal strings), and check the field names the
// parser reads against the API's discovery document shipped in that module.

func vendorStorageEvent(t *testing.T, obj *storage.Object) cloudevents.Event {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	e := cloudevents.NewEvent()
	e.SetID("vendor-1")
	e.SetType(storageFinalized)
	e.SetSource(storageSource + obj.Bucket)
	e.SetSubject("objects/" + obj.Name)
	e.SetTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	if err := e.SetData(cloudevents.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestVendorStorageObjectFinalized(t *testing.T) {
	obj := &storage.Object{
		Bucket: "pgmi-bundles", Name: "app/releases/app 1.4.tgz",
		Generation: 1767225600123456, Metageneration: 1,
		Size: 4096, ContentType: "application/gzip", Md5Hash: "1B2M2Y8AsgTpgAmY7PhCfg==",
		TimeCreated: "2026-03-01T12:00:00.000Z", Updated: "2026-03-01T12:00:00.000Z", StorageClass: "STANDARD",
	}
	e := vendorStorageEvent(t, obj)
	if !strings.Contains(string(e.Data()), `"generation":"1767225600123456"`) {
		t.Fatalf("storage.Object no longer writes generation as a string: %s", e.Data())
	}
	req, ignore, err := parseCloudEvent(e)
	if err != nil || ignore != "" {
		t.Fatalf("parseCloudEvent: ignore %q, err %v", ignore, err)
	}
	want := deploy.Request{
		Action:    deploy.ActionDeploy,
		Bundle:    "gs://pgmi-bundles/app/releases/app 1.4.tgz",
		Version:   "1767225600123456",
		Sequencer: deploy.DecimalSequencer("1767225600123456"),
		Trigger:   deploy.Trigger{Platform: "gcp", Source: "storage", EventID: "vendor-1", Time: e.Time()},
	}
	if req != want {
		t.Errorf("request\n got %+v\nwant %+v", req, want)
	}

	// A metadata update: same generation, a later metageneration.
	obj.Metageneration = 2
	if _, ignore, err := parseCloudEvent(vendorStorageEvent(t, obj)); err != nil || !strings.Contains(ignore, "metageneration 2") {
		t.Errorf("metageneration 2: ignore %q, err %v; want ignored as a metadata update", ignore, err)
	}
}

// The members storageObject reads are Object properties of the Cloud
// Storage JSON API, int64 ones written as strings.
func TestVendorStorageObjectSchema(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/api").Output()
	if err != nil {
		t.Fatalf("go list -m google.golang.org/api: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "storage", "v1", "storage-api.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schemas map[string]struct {
			Properties map[string]struct {
				Type   string `json:"type"`
				Format string `json:"format"`
			} `json:"properties"`
		} `json:"schemas"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	props := doc.Schemas["Object"].Properties
	if len(props) == 0 {
		t.Fatal("storage-api.json has no Object schema")
	}
	for _, f := range []struct{ name, typ, format string }{
		{"bucket", "string", ""}, {"name", "string", ""},
		{"generation", "string", "int64"}, {"metageneration", "string", "int64"},
	} {
		p, ok := props[f.name]
		if !ok {
			t.Errorf("Object has no property %q", f.name)
			continue
		}
		if p.Type != f.typ || p.Format != f.format {
			t.Errorf("Object.%s: type %q format %q, want %q %q", f.name, p.Type, p.Format, f.typ, f.format)
		}
	}
}
