package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// Function folders and their trigger binding names. The host POSTs each
// invocation to /<function folder>, and Data holds the trigger's value under
// its binding name; host_test.go checks the function.json files against
// these.
const (
	blobCreatedFunction = "BlobCreated"
	eventGridBinding    = "eventGridEvent"
	resetFunction       = "Reset"
	timerBinding        = "timer"
	fleetFunction       = "Fleet"
	fleetBinding        = "message"
)

// blobCreatedType is the only Event Grid event type that deploys.
const blobCreatedType = "Microsoft.Storage.BlobCreated"

// completedWrites are the data.api values of a BlobCreated event whose blob
// is complete when the event fires. Everything else is ignored, notably
// CreateFile, which an account with a hierarchical namespace (ADLS Gen2)
// raises for the empty file a Data Lake upload starts with, before the
// FlushWithClose that commits the content (PLATFORMS.md §2.9). CopyBlob is
// raised when a copy starts; a copy within one account finishes at once,
// while an asynchronous copy from elsewhere may still be running when the
// bundle is read (the ETag pin then refuses a blob that changed).
var completedWrites = []string{"PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose"}

// invocation is the body the Functions host POSTs to a custom handler for
// a non-HTTP trigger (EMULATION.md §2c): Data has one entry per input
// binding name, Metadata the trigger's binding data plus "sys".
type invocation struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// hostResponse is the body the host expects back. Outputs and Logs always
// marshal as an object and an array: the host wants a JSON object with all
// three members.
type hostResponse struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// MarshalJSON writes nil Outputs as {} and nil Logs as [].
func (r hostResponse) MarshalJSON() ([]byte, error) {
	type plain hostResponse
	p := plain(r)
	if p.Outputs == nil {
		p.Outputs = map[string]any{}
	}
	if p.Logs == nil {
		p.Logs = []string{}
	}
	return json.Marshal(p)
}

// bindingValue returns the JSON of one Data or Metadata value. The host
// sends a value as JSON or, when it holds it as a string, as a JSON string
// whose content is the JSON: a value starting with a quote is unwrapped once
// and must then be JSON itself. An absent or null value is an error.
func bindingValue(raw json.RawMessage) (json.RawMessage, error) {
	v := bytes.TrimSpace(raw)
	if len(v) == 0 || string(v) == "null" {
		return nil, fmt.Errorf("the binding value is missing")
	}
	if v[0] != '"' {
		return v, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("the binding value is not a JSON string: %v", err)
	}
	inner := []byte(s)
	if !json.Valid(inner) {
		return nil, fmt.Errorf("the binding value is a string that does not hold JSON: %.60q", s)
	}
	return bytes.TrimSpace(inner), nil
}

// gridEvent holds one Event Grid event in either input schema: the Event
// Grid schema (topic, eventType, eventTime) or CloudEvents 1.0 (source,
// type, time), told apart by specversion.
type gridEvent struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Subject     string          `json:"subject"`
	Data        json.RawMessage `json:"data"`
	// Event Grid schema.
	Topic     string `json:"topic"`
	EventType string `json:"eventType"`
	EventTime string `json:"eventTime"`
	// CloudEvents 1.0 schema.
	Source string `json:"source"`
	Type   string `json:"type"`
	Time   string `json:"time"`
}

// kind, resource and when read the schema-dependent members.
func (e gridEvent) kind() string {
	if e.SpecVersion != "" {
		return e.Type
	}
	return e.EventType
}

func (e gridEvent) resource() string {
	if e.SpecVersion != "" {
		return e.Source
	}
	return e.Topic
}

func (e gridEvent) when() (time.Time, error) {
	s := e.EventTime
	if e.SpecVersion != "" {
		s = e.Time
	}
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("event time %q is not RFC 3339", s)
	}
	return t, nil
}

// blobCreatedData is the part of a BlobCreated event's data the deployer
// uses.
type blobCreatedData struct {
	API       string `json:"api"`
	ETag      string `json:"eTag"`
	URL       string `json:"url"`
	Sequencer string `json:"sequencer"`
}

// parseEventGrid translates the Event Grid event in Data[binding] into a
// deploy pinned to the blob's ETag, and returns the storage account it came
// from ("" when the event does not show it) for the caller to check.
//
// The event may arrive as an object, a one-element array, or either inside
// a JSON string. A non-empty ignore says why it asks for nothing (another
// event type, an incomplete write); err is a malformed event, which will
// never become valid. When both are empty, req has passed Validate.
func parseEventGrid(inv invocation, binding string) (req deploy.Request, account, ignore string, err error) {
	ev, err := decodeGridEvent(inv, binding)
	if err != nil {
		return deploy.Request{}, "", "", err
	}
	if ev.kind() == "" {
		return deploy.Request{}, "", "", internal.WithEventID(ev.ID, fmt.Errorf("event grid event %q has no event type", ev.ID))
	}
	if ev.kind() != blobCreatedType {
		return deploy.Request{}, "", fmt.Sprintf("event type %q is not %s", ev.kind(), blobCreatedType), nil
	}
	req, account, ignore, err = parseBlobCreated(ev)
	if err != nil {
		return deploy.Request{}, "", "", internal.WithEventID(ev.ID, fmt.Errorf("event grid event %q: %w", ev.ID, err))
	}
	return req, account, ignore, nil
}

// decodeGridEvent reads Data[binding] as one Event Grid event.
func decodeGridEvent(inv invocation, binding string) (gridEvent, error) {
	raw, ok := inv.Data[binding]
	if !ok {
		return gridEvent{}, fmt.Errorf("the invocation has no %q in Data: check the binding name in function.json", binding)
	}
	v, err := bindingValue(raw)
	if err != nil {
		return gridEvent{}, fmt.Errorf("binding %q: %w", binding, err)
	}
	if v[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			return gridEvent{}, fmt.Errorf("binding %q: %v", binding, err)
		}
		if len(list) != 1 {
			return gridEvent{}, fmt.Errorf("binding %q holds %d events; the host delivers one per invocation", binding, len(list))
		}
		v = list[0]
	}
	var ev gridEvent
	if err := json.Unmarshal(v, &ev); err != nil {
		return gridEvent{}, fmt.Errorf("binding %q is not an Event Grid event: %v", binding, err)
	}
	return ev, nil
}

// parseBlobCreated builds the deploy for a BlobCreated event.
func parseBlobCreated(ev gridEvent) (deploy.Request, string, string, error) {
	if ev.ID == "" {
		return deploy.Request{}, "", "", fmt.Errorf("the event has no id")
	}
	var d blobCreatedData
	if len(ev.Data) == 0 {
		return deploy.Request{}, "", "", fmt.Errorf("the event has no data")
	}
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return deploy.Request{}, "", "", fmt.Errorf("data is not a BlobCreated object: %v", err)
	}
	if !slices.ContainsFunc(completedWrites, func(api string) bool { return strings.EqualFold(api, d.API) }) {
		return deploy.Request{}, "", fmt.Sprintf("%s by api %q is not a completed write (deploys follow %s)",
			ev.Subject, d.API, strings.Join(completedWrites, ", ")), nil
	}
	container, name, account, err := locateBlob(ev.Subject, d.URL, ev.resource())
	if err != nil {
		return deploy.Request{}, "", "", err
	}
	if d.ETag == "" {
		return deploy.Request{}, "", "", fmt.Errorf("data has no eTag: the deployer pins every read to the uploaded content")
	}
	when, err := ev.when()
	if err != nil {
		return deploy.Request{}, "", "", err
	}
	req := deploy.Request{
		Action:    deploy.ActionDeploy,
		Bundle:    "azblob://" + container + "/" + name,
		Version:   d.ETag,
		Sequencer: d.Sequencer,
		Trigger:   deploy.Trigger{Platform: "azure", Source: "eventgrid", EventID: ev.ID, Time: when},
	}
	if err := req.Validate(); err != nil {
		return deploy.Request{}, "", "", err
	}
	return req, account, "", nil
}

// locateBlob finds the blob's container and name, preferring the subject
// (where the name is not encoded) and checking them against data.url
// (percent-encoded) when both are present, and the storage account, from
// the event's topic or source, else from the URL.
func locateBlob(subject, rawURL, resource string) (container, name, account string, err error) {
	var urlAccount, urlContainer, urlName string
	if rawURL != "" {
		if urlAccount, urlContainer, urlName, err = splitBlobURL(rawURL); err != nil {
			return "", "", "", err
		}
	}
	switch {
	case subject != "":
		if container, name, err = splitSubject(subject); err != nil {
			return "", "", "", err
		}
		if rawURL != "" && (container != urlContainer || name != urlName) {
			return "", "", "", fmt.Errorf("subject %q and data.url %q name different blobs", subject, rawURL)
		}
	case rawURL != "":
		container, name = urlContainer, urlName
	default:
		return "", "", "", fmt.Errorf("the event has neither a subject nor a data.url naming the blob")
	}
	account = accountFromResource(resource)
	if account != "" && urlAccount != "" && !strings.EqualFold(account, urlAccount) {
		return "", "", "", fmt.Errorf("the event comes from storage account %q but data.url %q is in account %q", account, rawURL, urlAccount)
	}
	if account == "" {
		account = urlAccount
	}
	return container, name, account, nil
}

// subjectPrefix starts the subject of a blob event; the container name
// follows, then "/blobs/" and the blob name as stored.
const subjectPrefix = "/blobServices/default/containers/"

func splitSubject(subject string) (container, name string, err error) {
	rest, ok := strings.CutPrefix(subject, subjectPrefix)
	if ok {
		container, name, ok = strings.Cut(rest, "/blobs/")
	}
	if !ok || container == "" || strings.Contains(container, "/") || name == "" {
		return "", "", fmt.Errorf("subject %q is not %s<container>/blobs/<name>", subject, subjectPrefix)
	}
	if err := checkContainer(container); err != nil {
		return "", "", fmt.Errorf("subject %q: %w", subject, err)
	}
	return container, name, nil
}

// checkContainer refuses a container name Azure could never hold: the
// pipeline opens azblob://<container> as a gocloud URL, where a '?' would
// carry driver parameters (domain=, protocol=, storage_account=) that send
// the fetch, and the result, to a server of the event's choosing.
func checkContainer(container string) error {
	if err := deploy.CheckBucketName("azblob", container); err != nil {
		return fmt.Errorf("invalid container name %q in the event: %v", container, err)
	}
	return nil
}

// splitBlobURL reads a blob URL, percent-decoded:
// https://<account>.blob.core.windows.net/<container>/<name> (or .dfs. for
// a Data Lake endpoint, in any cloud's suffix), or the emulator's path
// style http://127.0.0.1:10000/<account>/<container>/<name>. Under any
// other host (a custom domain) the account is unknown and returned empty.
func splitBlobURL(raw string) (account, container, name string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", "", "", fmt.Errorf("data.url %q is not a blob URL", raw)
	}
	path := strings.TrimPrefix(u.Path, "/")
	host := u.Hostname()
	if host == "localhost" || net.ParseIP(host) != nil {
		account, path, _ = strings.Cut(path, "/")
	} else if label, rest, ok := strings.Cut(host, "."); ok && (strings.HasPrefix(rest, "blob.") || strings.HasPrefix(rest, "dfs.")) {
		account = label
	}
	container, name, ok := strings.Cut(path, "/")
	if !ok || container == "" || name == "" {
		return "", "", "", fmt.Errorf("data.url %q does not name a container and a blob", raw)
	}
	if err := checkContainer(container); err != nil {
		return "", "", "", fmt.Errorf("data.url %q: %w", raw, err)
	}
	return account, container, name, nil
}

// accountFromResource returns <acct> from an ARM resource id
// …/providers/Microsoft.Storage/storageAccounts/<acct>[/…], "" if absent.
func accountFromResource(id string) string {
	parts := strings.Split(id, "/")
	for i := 1; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "storageAccounts") && strings.EqualFold(parts[i-1], "Microsoft.Storage") {
			return parts[i+1]
		}
	}
	return ""
}

// scheduleStatus is a timer's schedule monitor record; zero times when the
// host sends none (useMonitor false, or the first run).
type scheduleStatus struct {
	Last        time.Time
	Next        time.Time
	LastUpdated time.Time
}

// timerInfo is the timer trigger's value (the host's TimerInfo).
type timerInfo struct {
	ScheduleStatus scheduleStatus
	IsPastDue      bool
}

// parseTimer reads the timer trigger's value from Data[binding].
func parseTimer(inv invocation, binding string) (timer timerInfo, err error) {
	raw, ok := inv.Data[binding]
	if !ok {
		return timerInfo{}, fmt.Errorf("the invocation has no %q in Data: check the binding name in function.json", binding)
	}
	v, err := bindingValue(raw)
	if err != nil {
		return timerInfo{}, fmt.Errorf("binding %q: %w", binding, err)
	}
	var wire struct {
		ScheduleStatus *struct {
			Last, Next, LastUpdated hostTime
		}
		IsPastDue bool
	}
	if err := json.Unmarshal(v, &wire); err != nil {
		return timerInfo{}, fmt.Errorf("binding %q is not timer info: %v", binding, err)
	}
	timer.IsPastDue = wire.IsPastDue
	if s := wire.ScheduleStatus; s != nil {
		timer.ScheduleStatus = scheduleStatus{Last: time.Time(s.Last), Next: time.Time(s.Next), LastUpdated: time.Time(s.LastUpdated)}
	}
	return timer, nil
}

// sysInfo is Metadata.sys, which the host adds to every invocation.
type sysInfo struct {
	MethodName string
	UtcNow     time.Time
	RandGuid   string
}

// parseSys reads Metadata.sys; absent or null gives the zero sysInfo.
func parseSys(inv invocation) (sysInfo, error) {
	raw := bytes.TrimSpace(inv.Metadata["sys"])
	if len(raw) == 0 || string(raw) == "null" {
		return sysInfo{}, nil
	}
	v, err := bindingValue(raw)
	if err != nil {
		return sysInfo{}, fmt.Errorf("metadata sys: %w", err)
	}
	var wire struct {
		MethodName string
		UtcNow     hostTime
		RandGuid   string
	}
	if err := json.Unmarshal(v, &wire); err != nil {
		return sysInfo{}, fmt.Errorf("metadata sys: %v", err)
	}
	return sysInfo{MethodName: wire.MethodName, UtcNow: time.Time(wire.UtcNow), RandGuid: wire.RandGuid}, nil
}

// hostTime is a date-time as the host serialises a .NET DateTime: RFC 3339
// with an offset, or with none (read as UTC, which is the host's clock in
// Azure); null or "" is the zero time.
type hostTime time.Time

func (t *hostTime) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a date-time string, got %s", b)
	}
	if s == nil || *s == "" {
		*t = hostTime{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if v, err := time.Parse(layout, *s); err == nil {
			*t = hostTime(v)
			return nil
		}
	}
	return fmt.Errorf("%q is not a date-time", *s)
}

// serviceBusMessage is what the Fleet function reads of a Service Bus
// trigger invocation besides the body: the trigger's binding data, which
// the host puts in Metadata.
type serviceBusMessage struct {
	MessageID     string
	DeliveryCount int       // from 1; 0 when the host sent none
	EnqueuedTime  time.Time // UTC; zero when the host sent none
}

// parseFleetMessage translates the Service Bus message in Data[binding], a
// fleet message (deploy.FleetMessage, the members of an action payload),
// into its request. The body may arrive as JSON, as a JSON string holding
// it (the host serialises a string value once more), as a string holding
// that, or base64-encoded (a byte[] value). A message that is not a fleet
// message (no rollout) is refused: the fleet queue carries targets of a
// rollout only, never a direct deploy or reset. An error is permanent and
// carries the message id.
func parseFleetMessage(inv invocation, binding string) (deploy.Request, serviceBusMessage, error) {
	meta := parseServiceBusMetadata(inv)
	raw, ok := inv.Data[binding]
	if !ok {
		return deploy.Request{}, meta, internal.WithEventID(meta.MessageID,
			fmt.Errorf("the invocation has no %q in Data: check the binding name in function.json", binding))
	}
	body, err := messageBody(raw)
	if err != nil {
		return deploy.Request{}, meta, internal.WithEventID(meta.MessageID, fmt.Errorf("binding %q: %w", binding, err))
	}
	req, err := internal.ParsePayload(body, "azure", "servicebus")
	if err == nil && req.Rollout == 0 {
		err = fmt.Errorf("the message names no rollout: the fleet queue carries targets of a rollout, not direct requests")
	}
	if err != nil {
		return deploy.Request{}, meta, internal.WithEventID(meta.MessageID, fmt.Errorf("service bus message %q: %w", meta.MessageID, err))
	}
	req.Trigger.EventID = meta.MessageID
	req.Trigger.Time = meta.EnqueuedTime
	return req, meta, nil
}

// messageBody unwraps a Service Bus message body to the JSON object it
// holds: at most two string layers, and base64 in the last one.
func messageBody(raw json.RawMessage) ([]byte, error) {
	v := bytes.TrimSpace(raw)
	if len(v) == 0 || string(v) == "null" {
		return nil, fmt.Errorf("the message body is missing")
	}
	for range 3 {
		if v[0] == '{' {
			return v, nil
		}
		if v[0] != '"' {
			break
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("the message body is not a JSON string: %v", err)
		}
		inner := bytes.TrimSpace([]byte(s))
		if !json.Valid(inner) {
			if dec, err := base64.StdEncoding.DecodeString(s); err == nil && json.Valid(dec) {
				inner = bytes.TrimSpace(dec)
			} else {
				return nil, fmt.Errorf("the message body is not JSON: %.60q", s)
			}
		}
		if len(inner) == 0 {
			break
		}
		v = inner
	}
	return nil, fmt.Errorf("the message body is not a JSON object: %.60s", v)
}

// parseServiceBusMetadata reads the trigger's binding data the handler
// uses, best effort: the host sends a string value as a JSON string holding
// a JSON string ("\"id\""), a number as a string holding it ("2"), so
// both those and the plain forms are read; what does not parse is left
// zero, since the body alone decides what the message asks.
func parseServiceBusMetadata(inv invocation) serviceBusMessage {
	var m serviceBusMessage
	m.MessageID = metadataString(inv.Metadata["MessageId"])
	if s := metadataString(inv.Metadata["DeliveryCount"]); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			m.DeliveryCount = n
		}
	}
	if s := metadataString(inv.Metadata["EnqueuedTimeUtc"]); s != "" {
		var t hostTime
		if err := json.Unmarshal(strconv.AppendQuote(nil, s), &t); err == nil {
			m.EnqueuedTime = time.Time(t).UTC()
		}
	}
	return m
}

// metadataString is a Metadata value as text: a JSON string (unwrapped
// again when it holds a JSON string) or a number; "" otherwise.
func metadataString(raw json.RawMessage) string {
	v := bytes.TrimSpace(raw)
	if len(v) == 0 {
		return ""
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return ""
		}
		if t := strings.TrimSpace(s); strings.HasPrefix(t, `"`) {
			var inner string
			if json.Unmarshal([]byte(t), &inner) == nil {
				return inner
			}
		}
		return s
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if json.Unmarshal(v, &n) == nil {
			return n.String()
		}
	}
	return ""
}
