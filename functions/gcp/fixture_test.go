package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// cloudEventFixture is a binary-mode CloudEvents HTTP request as Eventarc
// sends it to the function: ce-* headers and the data as the body.
type cloudEventFixture struct {
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// loadCloudEventFixture reads testdata/<name>.json and decodes it through
// sdk-go's HTTP binding, the same decoding the functions framework does.
func loadCloudEventFixture(t testing.TB, name string) cloudevents.Event {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx cloudEventFixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	r := httptest.NewRequest("POST", "/", bytes.NewReader(fx.Body))
	for k, v := range fx.Headers {
		r.Header.Set(k, v)
	}
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		t.Fatalf("%s: sdk-go does not decode the fixture: %v", name, err)
	}
	return *e
}
