package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// loadInvocation reads testdata/<name>.json, a body as the Functions host
// POSTs it, and decodes it the way the handler does.
func loadInvocation(t testing.TB, name string) invocation {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var inv invocation
	if err := json.Unmarshal(raw, &inv); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return inv
}

const (
	fixtureETag      = "0x8DC0FFEE12345678"
	fixtureSequencer = "00000000000000000000000000005A3F0000000000001b2c"
	fixtureEventID   = "a6d1e2f0-801e-0042-27b1-1f5c3d061a2b"
)

func TestParseEventGrid(t *testing.T) {
	uploaded := time.Date(2026, 11, 25, 18, 0, 0, 123456700, time.UTC)
	upload := deploy.Request{
		Action:    deploy.ActionDeploy,
		Bundle:    "azblob://bundles/app/releases/app-1.4.tgz",
		Version:   fixtureETag,
		Sequencer: fixtureSequencer,
		Trigger:   deploy.Trigger{Platform: "azure", Source: "eventgrid", EventID: fixtureEventID, Time: uploaded},
	}
	tests := []struct {
		fixture string
		want    deploy.Request
		account string
		ignore  string // a part of the ignore reason; "" = not ignored
		err     string // a part of the error; "" = no error
	}{
		{fixture: "eventgrid-blobcreated", want: upload, account: "pgmibundles"},
		{fixture: "eventgrid-blobcreated-string", want: upload, account: "pgmibundles"},
		{fixture: "eventgrid-blobcreated-cloudevents", want: upload, account: "pgmibundles"},
		{fixture: "eventgrid-blobcreated-array", want: upload, account: "pgmibundles"},
		{fixture: "eventgrid-hns-flushwithclose", want: upload, account: "pgmibundles"},
		{fixture: "eventgrid-emulator-pathstyle", want: upload, account: "devstoreaccount1"},
		{fixture: "eventgrid-blobdeleted", ignore: `event type "Microsoft.Storage.BlobDeleted" is not Microsoft.Storage.BlobCreated`},
		{fixture: "eventgrid-hns-createfile", ignore: `api "CreateFile" is not a completed write`},
		{fixture: "eventgrid-url-mismatch", err: "name different blobs"},
		{fixture: "eventgrid-account-mismatch", err: `storage account "pgmibundles" but data.url`},
		{fixture: "eventgrid-not-json-string", err: `binding "eventGridEvent": the binding value is a string that does not hold JSON`},
	}
	covered := map[string]bool{"timer": true, "timer-string": true, "timer-no-status": true, // TestParseTimer
		"servicebus-fleet": true} // TestParseFleetMessage
	for _, tc := range tests {
		covered[tc.fixture] = true
		t.Run(tc.fixture, func(t *testing.T) {
			inv := loadInvocation(t, tc.fixture)
			req, account, ignore, err := parseEventGrid(inv, eventGridBinding)
			functest.CheckParse(t, req, ignore, err, tc.want, tc.ignore, tc.err)
			if account != tc.account {
				t.Errorf("account = %q, want %q", account, tc.account)
			}
			sys, err := parseSys(inv)
			if err != nil || sys.MethodName != blobCreatedFunction || sys.RandGuid == "" || sys.UtcNow.IsZero() {
				t.Errorf("parseSys = %+v, %v", sys, err)
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".json"); !covered[name] {
			t.Errorf("fixture %s is in no test case", f)
		}
	}
}

// TestParseEventGridEdges covers shapes no captured event has.
func TestParseEventGridEdges(t *testing.T) {
	const (
		subject = `"subject":"/blobServices/default/containers/bundles/blobs/a/b.tgz"`
		data    = `"data":{"api":"PutBlob","eTag":"\"0x8D1\"","url":"https://acct.blob.core.windows.net/bundles/a/b.tgz","sequencer":"01"}`
		event   = `{"id":"1","eventType":"Microsoft.Storage.BlobCreated",` + subject + `,` + data + `}`
	)
	want := deploy.Request{Action: deploy.ActionDeploy, Bundle: "azblob://bundles/a/b.tgz", Version: `"0x8D1"`, Sequencer: "01",
		Trigger: deploy.Trigger{Platform: "azure", Source: "eventgrid", EventID: "1"}}
	noURL := want
	noURL.Sequencer = ""
	for _, tc := range []struct {
		name, value string
		want        deploy.Request
		account     string
		ignore, err string
	}{
		{name: "quoted ETag kept verbatim, account from the URL", value: event, want: want, account: "acct"},
		{name: "no subject: the URL names the blob", value: `{"id":"1","eventType":"Microsoft.Storage.BlobCreated",` + data + `}`, want: want, account: "acct"},
		{name: "no URL: the subject names the blob", value: `{"id":"1","eventType":"Microsoft.Storage.BlobCreated",` + subject +
			`,"data":{"api":"PutBlob","eTag":"\"0x8D1\""}}`, want: noURL},
		{name: "custom domain: no account", value: `{"id":"1","eventType":"Microsoft.Storage.BlobCreated",` + subject +
			`,"data":{"api":"PutBlob","eTag":"\"0x8D1\"","url":"https://bundles.example.com/bundles/a/b.tgz","sequencer":"01"}}`, want: want},
		{name: "api compared without case", value: strings.Replace(event, "PutBlob", "putblob", 1), want: want, account: "acct"},
		{name: "empty array", value: `[]`, err: "holds 0 events"},
		{name: "two events", value: `[` + event + `,` + event + `]`, err: "holds 2 events"},
		{name: "null", value: `null`, err: "the binding value is missing"},
		{name: "a number", value: `42`, err: "is not an Event Grid event"},
		{name: "no type", value: `{"id":"1"}`, err: "has no event type"},
		{name: "no id", value: strings.Replace(event, `"id":"1"`, `"id":""`, 1), err: "has no id"},
		{name: "no data", value: `{"id":"1","eventType":"Microsoft.Storage.BlobCreated",` + subject + `}`, err: "has no data"},
		{name: "no eTag", value: strings.Replace(event, `"eTag":"\"0x8D1\"",`, ``, 1), err: "has no eTag"},
		{name: "neither subject nor URL", value: `{"id":"1","eventType":"Microsoft.Storage.BlobCreated","data":{"api":"PutBlob","eTag":"x"}}`,
			err: "neither a subject nor a data.url"},
		{name: "container subject", value: strings.Replace(event, "/blobs/a/b.tgz", "", 1), err: "is not /blobServices/default/containers/"},
		{name: "URL without a blob", value: strings.Replace(event, "/bundles/a/b.tgz", "/bundles", 1), err: "does not name a container and a blob"},
		{name: "bad time", value: strings.Replace(event, `"id":"1"`, `"id":"1","eventTime":"yesterday"`, 1), err: `event time "yesterday"`},
		{name: "CloudEvents schema reads type, not eventType", value: strings.Replace(event, `"id":"1"`, `"id":"1","specversion":"1.0","type":"Other"`, 1),
			ignore: `event type "Other"`},
		{name: "missing binding", err: `the invocation has no "eventGridEvent" in Data`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := invocation{Data: map[string]json.RawMessage{}}
			if tc.value != "" {
				inv.Data[eventGridBinding] = json.RawMessage(tc.value)
			}
			req, account, ignore, err := parseEventGrid(inv, eventGridBinding)
			functest.CheckParse(t, req, ignore, err, tc.want, tc.ignore, tc.err)
			if account != tc.account {
				t.Errorf("account = %q, want %q", account, tc.account)
			}
		})
	}
}

func TestParseTimer(t *testing.T) {
	status := scheduleStatus{
		Last:        time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC),
		Next:        time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC),
		LastUpdated: time.Date(2026, 11, 25, 2, 0, 0, 12345600, time.UTC),
	}
	sys := sysInfo{MethodName: resetFunction, UtcNow: time.Date(2026, 11, 25, 2, 0, 0, 23456700, time.UTC), RandGuid: "7c9e6679-7425-40de-944b-e07fc1f90ae7"}
	for _, tc := range []struct {
		fixture string
		want    timerInfo
	}{
		{"timer", timerInfo{ScheduleStatus: status}},
		{"timer-string", timerInfo{ScheduleStatus: status, IsPastDue: true}},
		{"timer-no-status", timerInfo{}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			inv := loadInvocation(t, tc.fixture)
			got, err := parseTimer(inv, timerBinding)
			if err != nil {
				t.Fatal(err)
			}
			if !sameTimer(got, tc.want) {
				t.Errorf("timer = %+v, want %+v", got, tc.want)
			}
			gotSys, err := parseSys(inv)
			if err != nil {
				t.Fatal(err)
			}
			if gotSys.MethodName != sys.MethodName || gotSys.RandGuid != sys.RandGuid || !gotSys.UtcNow.Equal(sys.UtcNow) {
				t.Errorf("sys = %+v, want %+v", gotSys, sys)
			}
		})
	}
}

func sameTimer(a, b timerInfo) bool {
	x, y := a.ScheduleStatus, b.ScheduleStatus
	return a.IsPastDue == b.IsPastDue && x.Last.Equal(y.Last) && x.Next.Equal(y.Next) && x.LastUpdated.Equal(y.LastUpdated)
}

func TestParseTimerErrors(t *testing.T) {
	for _, tc := range []struct{ value, err string }{
		{"", `the invocation has no "timer" in Data`},
		{`null`, "the binding value is missing"},
		{`"{not json"`, "does not hold JSON"},
		{`[1]`, "is not timer info"},
		{`{"ScheduleStatus":{"Last":"soon"}}`, `"soon" is not a date-time`},
		{`{"ScheduleStatus":{"Next":7}}`, "want a date-time string"},
	} {
		inv := invocation{Data: map[string]json.RawMessage{}}
		if tc.value != "" {
			inv.Data[timerBinding] = json.RawMessage(tc.value)
		}
		if _, err := parseTimer(inv, timerBinding); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("parseTimer(%s): err = %v, want one containing %q", tc.value, err, tc.err)
		}
	}
}

func TestParseSysAbsent(t *testing.T) {
	for _, meta := range []map[string]json.RawMessage{nil, {"sys": json.RawMessage(`null`)}, {"sys": json.RawMessage(` `)}} {
		if sys, err := parseSys(invocation{Metadata: meta}); err != nil || sys != (sysInfo{}) {
			t.Errorf("parseSys(%v) = %+v, %v; want the zero value", meta, sys, err)
		}
	}
	if _, err := parseSys(invocation{Metadata: map[string]json.RawMessage{"sys": json.RawMessage(`"nope"`)}}); err == nil {
		t.Error("parseSys accepted a string that holds no JSON")
	}
}

func TestBindingValue(t *testing.T) {
	for _, tc := range []struct{ raw, want, err string }{
		{raw: `{"a":1}`, want: `{"a":1}`},
		{raw: "  \n[1] ", want: `[1]`},
		{raw: `"{\"a\":1}"`, want: `{"a":1}`},
		{raw: ` "  {\"a\":1} " `, want: `{"a":1}`},
		{raw: `"\"inner\""`, want: `"inner"`}, // unwrapped once only
		{raw: `"42"`, want: `42`},
		{raw: `""`, err: "does not hold JSON"},
		{raw: `"{"`, err: "does not hold JSON"},
		{raw: `"unterminated`, err: "is not a JSON string"},
		{raw: ``, err: "missing"},
		{raw: `null`, err: "missing"},
	} {
		got, err := bindingValue(json.RawMessage(tc.raw))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("bindingValue(%s): err = %v, want one containing %q", tc.raw, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("bindingValue(%s) = %s, %v; want %s", tc.raw, got, err, tc.want)
		}
	}
}

func TestHostResponseJSON(t *testing.T) {
	for _, tc := range []struct {
		r    any
		want string
	}{
		{hostResponse{}, `{"Outputs":{},"Logs":[],"ReturnValue":null}`},
		{&hostResponse{}, `{"Outputs":{},"Logs":[],"ReturnValue":null}`},
		{hostResponse{Outputs: map[string]any{"res": 1}, Logs: []string{"deployed"}, ReturnValue: "ok"},
			`{"Outputs":{"res":1},"Logs":["deployed"],"ReturnValue":"ok"}`},
	} {
		b, err := json.Marshal(tc.r)
		if err != nil || string(b) != tc.want {
			t.Errorf("json.Marshal(%+v) = %s, %v; want %s", tc.r, b, err, tc.want)
		}
	}
}

func TestSplitBlobURL(t *testing.T) {
	for _, tc := range []struct{ url, account, container, name string }{
		{"https://acct.blob.core.windows.net/ctr/a%20b/c%2Bd.tgz", "acct", "ctr", "a b/c+d.tgz"},
		{"https://acct.dfs.core.windows.net/ctr/x.tgz", "acct", "ctr", "x.tgz"},
		{"https://acct.blob.core.chinacloudapi.cn/ctr/x.tgz", "acct", "ctr", "x.tgz"},
		{"http://127.0.0.1:10000/devstoreaccount1/ctr/x.tgz", "devstoreaccount1", "ctr", "x.tgz"},
		{"http://localhost:10000/devstoreaccount1/ctr/x.tgz", "devstoreaccount1", "ctr", "x.tgz"},
		{"http://[::1]:10000/devstoreaccount1/ctr/x.tgz", "devstoreaccount1", "ctr", "x.tgz"},
		{"http://devstoreaccount1.blob.localhost:10000/ctr/x.tgz", "devstoreaccount1", "ctr", "x.tgz"},
		{"https://cdn.example.com/ctr/x.tgz", "", "ctr", "x.tgz"},
	} {
		account, container, name, err := splitBlobURL(tc.url)
		if err != nil || account != tc.account || container != tc.container || name != tc.name {
			t.Errorf("splitBlobURL(%s) = %q, %q, %q, %v", tc.url, account, container, name, err)
		}
	}
	for _, bad := range []string{"not a url", "/ctr/x.tgz", "https://acct.blob.core.windows.net/ctr", "https://acct.blob.core.windows.net/ctr/%zz"} {
		if _, _, _, err := splitBlobURL(bad); err == nil {
			t.Errorf("splitBlobURL(%q) accepted", bad)
		}
	}
}

func TestAccountFromResource(t *testing.T) {
	for id, want := range map[string]string{
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/pgmibundles":          "pgmibundles",
		"/subscriptions/s/resourcegroups/rg/providers/microsoft.storage/storageaccounts/pgmibundles/x":        "pgmibundles",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.EventGrid/topics/storageAccounts/pgmibundles": "",
		"": "",
	} {
		if got := accountFromResource(id); got != want {
			t.Errorf("accountFromResource(%q) = %q, want %q", id, got, want)
		}
	}
}

// FuzzInvocation feeds arbitrary host bodies to every parser: no panic,
// and a deploy that comes back is always valid.
func FuzzInvocation(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	contracts, _ := filepath.Glob(filepath.Join("testdata", "contract", "*.json"))
	for _, name := range append(files, contracts...) {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"Data":{"eventGridEvent":"[\"\"]"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var inv invocation
		if json.Unmarshal(body, &inv) != nil {
			return
		}
		fuzzParsers(t, inv)
	})
}

// FuzzEventGridEvent feeds arbitrary bytes as the trigger's value, past the
// JSON decoding of the body that FuzzInvocation mostly stops at.
func FuzzEventGridEvent(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "eventgrid-*.json"))
	for _, name := range append(files, filepath.Join("testdata", "contract", "eventgrid.json")) {
		inv := loadInvocation(f, strings.TrimSuffix(strings.TrimPrefix(name, "testdata"+string(filepath.Separator)), ".json"))
		f.Add([]byte(inv.Data[eventGridBinding]))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		fuzzParsers(t, invocation{
			Data:     map[string]json.RawMessage{eventGridBinding: value, timerBinding: value},
			Metadata: map[string]json.RawMessage{"sys": value},
		})
	})
}

func fuzzParsers(t *testing.T, inv invocation) {
	for _, raw := range inv.Data {
		_, _ = bindingValue(raw)
	}
	req, _, ignore, err := parseEventGrid(inv, eventGridBinding)
	if err == nil && ignore == "" {
		if verr := req.Validate(); verr != nil {
			t.Fatalf("returned an invalid request %+v: %v", req, verr)
		}
		if !strings.HasPrefix(req.Bundle, "azblob://") || req.Version == "" {
			t.Fatalf("returned %+v", req)
		}
	} else if !functest.SameRequest(req, deploy.Request{}) {
		t.Fatalf("a request came with ignore %q / error %v: %+v", ignore, err, req)
	}
	_, _ = parseTimer(inv, timerBinding)
	_, _ = parseSys(inv)
}

// TestParseFleetMessage: a fleet message, whichever way the host encodes
// the Service Bus body (a JSON string holding the body, as the host
// serialises a string; that string once more; the body as JSON; base64 of
// a byte[] body) and its metadata (a string as a JSON string holding a
// JSON string, a number as a string, or plain), is the one target of the
// rollout it names.
func TestParseFleetMessage(t *testing.T) {
	const body = `{"action":"deploy","rollout":12,"database":"tenant_07","bundle":"azblob://bundles/tenants/release-1.tgz","version":"0x8DC0FFEE12345678"}`
	enqueued := time.Date(2026, 11, 25, 18, 0, 0, 123456700, time.UTC)
	want := deploy.Request{
		Action: deploy.ActionDeploy, Rollout: 12, Database: "tenant_07",
		Bundle: "azblob://bundles/tenants/release-1.tgz", Version: "0x8DC0FFEE12345678",
		Trigger: deploy.Trigger{Platform: "azure", Source: "servicebus", EventID: "3f2a9c0d4b1e4e6f8a7b5c9d0e1f2a3b", Time: enqueued},
	}
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	hostMeta := `{"MessageId":"\"3f2a9c0d4b1e4e6f8a7b5c9d0e1f2a3b\"","DeliveryCount":"2","EnqueuedTimeUtc":"2026-11-25T18:00:00.1234567Z"}`
	plainMeta := `{"MessageId":"3f2a9c0d4b1e4e6f8a7b5c9d0e1f2a3b","DeliveryCount":2,"EnqueuedTimeUtc":"2026-11-25T18:00:00.1234567"}`
	for name, tc := range map[string]struct{ value, meta string }{
		"StringHostMetadata":  {quote(body), hostMeta},
		"StringPlainMetadata": {quote(body), plainMeta},
		"JSON":                {body, hostMeta},
		"StringInString":      {quote(quote(body)), plainMeta},
		"Base64":              {quote(base64.StdEncoding.EncodeToString([]byte(body))), hostMeta},
	} {
		t.Run(name, func(t *testing.T) {
			var inv invocation
			if err := json.Unmarshal([]byte(`{"Data":{"message":`+tc.value+`},"Metadata":`+tc.meta+`}`), &inv); err != nil {
				t.Fatal(err)
			}
			req, msg, err := parseFleetMessage(inv, fleetBinding)
			if err != nil {
				t.Fatal(err)
			}
			if !req.Trigger.Time.Equal(want.Trigger.Time) {
				t.Errorf("time %v, want %v", req.Trigger.Time, want.Trigger.Time)
			}
			req.Trigger.Time = want.Trigger.Time
			if req != want {
				t.Errorf("got  %+v\nwant %+v", req, want)
			}
			if msg.DeliveryCount != 2 || msg.MessageID != want.Trigger.EventID {
				t.Errorf("metadata %+v", msg)
			}
		})
	}
	t.Run("Fixture", func(t *testing.T) {
		req, msg, err := parseFleetMessage(loadInvocation(t, "servicebus-fleet"), fleetBinding)
		if err != nil {
			t.Fatal(err)
		}
		if req.Rollout != 12 || req.Database != "tenant_07" || req.Trigger.EventID != want.Trigger.EventID || msg.DeliveryCount != 2 {
			t.Errorf("request %+v, message %+v", req, msg)
		}
	})
	t.Run("NoMetadata", func(t *testing.T) {
		req, msg, err := parseFleetMessage(invocation{Data: map[string]json.RawMessage{fleetBinding: json.RawMessage(body)}}, fleetBinding)
		if err != nil || req.Rollout != 12 || msg != (serviceBusMessage{}) || req.Trigger.EventID != "" {
			t.Errorf("request %+v, message %+v, error %v", req, msg, err)
		}
	})
}

// TestParseFleetMessageErrors: a message that is not a fleet message is
// refused (the handler acknowledges it: the same bytes never parse), and
// the error carries the message id for the log line.
func TestParseFleetMessageErrors(t *testing.T) {
	meta := map[string]json.RawMessage{"MessageId": json.RawMessage(`"\"m-1\""`), "DeliveryCount": json.RawMessage(`"1"`)}
	for name, tc := range map[string]struct{ value, err string }{
		"NotJSON":        {`"not a message"`, "not JSON"},
		"Null":           {`null`, "missing"},
		"Array":          {`[{"action":"deploy"}]`, "not a JSON object"},
		"StringOfNumber": {`"42"`, "not a JSON object"},
		"UnknownMember":  {`{"action":"deploy","rollout":1,"database":"d","bundle":"azblob://ctr/k","extra":1}`, `unknown field "extra"`},
		"NoRollout":      {`{"action":"reset","database":"app_dev","bundle":"azblob://ctr/k"}`, "names no rollout"},
		"NoBundle":       {`{"action":"deploy","rollout":3,"database":"d"}`, "needs a bundle"},
		"Truncated":      {`"{\"action\":\"deploy\",\"rollout\":"`, "not JSON"},
	} {
		t.Run(name, func(t *testing.T) {
			inv := invocation{Data: map[string]json.RawMessage{fleetBinding: json.RawMessage(tc.value)}, Metadata: meta}
			_, _, err := parseFleetMessage(inv, fleetBinding)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
			if id := internal.EventIDOf(err); id != "m-1" {
				t.Errorf("the error carries event id %q, want the message id m-1", id)
			}
		})
	}
	_, _, err := parseFleetMessage(invocation{Data: map[string]json.RawMessage{"myQueueItem": json.RawMessage(`{}`)}}, fleetBinding)
	if err == nil || !strings.Contains(err.Error(), `no "message" in Data`) {
		t.Errorf("wrong binding name: %v", err)
	}
}

// A container name Azure could never hold ('?', '=' and '&' are not
// allowed) must not reach the pipeline: it opens everything before the
// blob name as a gocloud bucket URL, so azblob://bundles?domain=…/name would
// fetch the bundle from, and write the result to, a server the event chose
// (domain=, protocol=, storage_account=). This pins that an Event Grid
// event naming such a container in its subject or its data.url, and a fleet
// message whose bundle URL carries one, are refused (an error,
// acknowledged, never retried) naming the field that was bad.
func TestParseRefusesHostileContainerName(t *testing.T) {
	const (
		container = "bundles?domain=evil.example&protocol=https"
		subject   = "/blobServices/default/containers/" + container + "/blobs/app/r1.tgz"
		blobURL   = "https://pgmibundles.blob.core.windows.net/bundles%3Fdomain=evil.example&protocol=https/app/r1.tgz"
		goodURL   = "https://pgmibundles.blob.core.windows.net/bundles/app/r1.tgz"
	)
	bad := `invalid container name "` + container + `" in the event: an Azure container name is`
	for _, c := range []struct{ name, subject, url, err string }{
		{"subject", subject, "", `subject "` + subject + `": ` + bad},
		{"data.url", "", blobURL, `data.url "` + blobURL + `": ` + bad},
		{"subject and matching data.url", subject, blobURL, `data.url "` + blobURL + `": ` + bad},
		{"subject and a legal data.url", subject, goodURL, `subject "` + subject + `": ` + bad},
	} {
		t.Run("EventGrid/"+c.name, func(t *testing.T) {
			ev := map[string]any{
				"topic":     "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/pgmibundles",
				"eventType": "Microsoft.Storage.BlobCreated",
				"eventTime": "2026-11-25T18:00:00Z",
				"id":        "e-1",
				"data":      map[string]any{"api": "PutBlockList", "eTag": "0x8DC0FFEE12345678", "url": c.url, "sequencer": "01"},
			}
			if c.subject != "" {
				ev["subject"] = c.subject
			}
			raw, _ := json.Marshal(ev)
			req, _, ignore, err := parseEventGrid(invocation{Data: map[string]json.RawMessage{eventGridBinding: raw}}, eventGridBinding)
			functest.CheckParse(t, req, ignore, err, deploy.Request{}, "", c.err)
		})
	}
	t.Run("FleetMessage", func(t *testing.T) {
		body := `{"action":"deploy","rollout":12,"database":"tenant_07","bundle":"azblob://` + container + `/app/r1.tgz"}`
		inv := invocation{Data: map[string]json.RawMessage{fleetBinding: json.RawMessage(body)}}
		req, _, err := parseFleetMessage(inv, fleetBinding)
		want := `invalid action payload: invalid bundle URL "azblob://` + container + `/app/r1.tgz": bucket "` + container + `": an Azure container name is`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("fleet message %s: bundle %q, error %v; want one containing %q", body, req.Bundle, err, want)
		}
	})
}
