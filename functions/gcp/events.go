package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// CloudEvent types the function acts on.
const (
	// storageFinalized is a new object generation: an upload or an
	// overwrite (PLATFORMS.md §2.5).
	storageFinalized = "google.cloud.storage.object.v1.finalized"
	// legacyFinalize is the background-event name of the same thing. The
	// framework converts legacy events before the function sees them; it is
	// accepted in case one arrives unconverted.
	legacyFinalize = "google.storage.object.finalize"
	// pubsubPublished carries an action payload, sent by Cloud Scheduler
	// (scheduled resets) or by a person.
	pubsubPublished = "google.cloud.pubsub.topic.v1.messagePublished"
)

// storageSource is how a storage CloudEvent's source starts; the bucket
// name follows.
const storageSource = "//storage.googleapis.com/projects/_/buckets/"

// scheduleAttribute is the Pub/Sub message attribute that names a
// scheduled reset job when the payload has no "schedule" member. Cloud
// Scheduler publishes the same attributes on every run, so the attribute
// only names the job; the run is told apart by the message's publish time
// (see scheduleFromAttributes).
const scheduleAttribute = "schedule"

// parseCloudEvent translates one CloudEvent into a Request.
//
// A non-empty ignore says why the event asks for nothing (another event
// type, a metadata update); err is a malformed event, which will never
// become valid, so the caller should acknowledge it rather than have it
// delivered again. When both are empty, req has passed Validate.
func parseCloudEvent(e cloudevents.Event) (req deploy.Request, ignore string, err error) {
	switch e.Type() {
	case storageFinalized, legacyFinalize:
		return parseStorageEvent(e)
	case pubsubPublished:
		req, err = parsePubSubEvent(e)
		return req, "", err
	default:
		return deploy.Request{}, fmt.Sprintf("event type %q is neither an object upload (%s) nor an action message (%s)",
			e.Type(), storageFinalized, pubsubPublished), nil
	}
}

// eventData returns the event's data, which must be JSON.
func eventData(e cloudevents.Event) ([]byte, error) {
	if mt := strings.ToLower(e.DataMediaType()); mt != "" && mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil, fmt.Errorf("%s event %s: data content type is %q, want application/json", e.Type(), e.ID(), mt)
	}
	if len(e.Data()) == 0 {
		return nil, fmt.Errorf("%s event %s has no data", e.Type(), e.ID())
	}
	return e.Data(), nil
}

// storageObject is the part of StorageObjectData
// (google.events.cloud.storage.v1) the deployer uses. The int64 fields are
// kept raw: the proto3 JSON mapping writes them as strings, other producers
// as numbers (see int64Field).
type storageObject struct {
	Bucket         string          `json:"bucket"`
	Name           string          `json:"name"`
	Generation     json.RawMessage `json:"generation"`
	Metageneration json.RawMessage `json:"metageneration"`
}

// parseStorageEvent turns an object-finalized event into a deploy pinned
// to the object's generation.
func parseStorageEvent(e cloudevents.Event) (deploy.Request, string, error) {
	data, err := eventData(e)
	if err != nil {
		return deploy.Request{}, "", err
	}
	var obj storageObject
	if err := json.Unmarshal(data, &obj); err != nil {
		return deploy.Request{}, "", fmt.Errorf("storage event %s: data is not a StorageObjectData object: %v", e.ID(), err)
	}
	gen, err := checkStorageObject(e, obj)
	if err != nil {
		return deploy.Request{}, "", fmt.Errorf("storage event %s: %w", e.ID(), err)
	}
	meta, hasMeta, err := int64Field("metageneration", obj.Metageneration)
	if err != nil {
		return deploy.Request{}, "", fmt.Errorf("storage event %s: %w", e.ID(), err)
	}
	if hasMeta && meta > 1 {
		return deploy.Request{}, fmt.Sprintf("gs://%s/%s generation %d: metageneration %d is a metadata update, not a new upload",
			obj.Bucket, obj.Name, gen, meta), nil
	}
	version := strconv.FormatInt(gen, 10)
	req := deploy.Request{
		Action:    deploy.ActionDeploy,
		Bundle:    "gs://" + obj.Bucket + "/" + obj.Name,
		Version:   version,
		Sequencer: deploy.DecimalSequencer(version),
		Trigger:   deploy.Trigger{Platform: "gcp", Source: "storage", EventID: e.ID(), Time: e.Time()},
	}
	if err := req.Validate(); err != nil {
		return deploy.Request{}, "", fmt.Errorf("storage event %s: %w", e.ID(), err)
	}
	return req, "", nil
}

// checkStorageObject checks that the object data is complete and agrees
// with the event's subject and source, and returns its generation.
func checkStorageObject(e cloudevents.Event, obj storageObject) (int64, error) {
	if obj.Bucket == "" {
		return 0, fmt.Errorf("data has no valid bucket (%q)", obj.Bucket)
	}
	// The pipeline opens gs://<bucket> as a gocloud URL: a name GCS could
	// never hold ('?', '=', '&' …) would carry driver parameters
	// (universe_domain=, anonymous=) that send the fetch elsewhere.
	if err := deploy.CheckBucketName("gs", obj.Bucket); err != nil {
		return 0, fmt.Errorf("invalid bucket name %q in the event: %v", obj.Bucket, err)
	}
	if obj.Name == "" {
		return 0, fmt.Errorf("data has no object name")
	}
	gen, ok, err := int64Field("generation", obj.Generation)
	if err != nil {
		return 0, err
	}
	if !ok || gen <= 0 {
		return 0, fmt.Errorf("gs://%s/%s has no generation: the deployer pins every read to one generation", obj.Bucket, obj.Name)
	}
	if sub := e.Subject(); sub != "" && !subjectNames(sub, obj.Name) {
		return 0, fmt.Errorf("subject %q does not name the object in the data (%q)", sub, obj.Name)
	}
	if b, ok := strings.CutPrefix(e.Source(), storageSource); ok && b != obj.Bucket {
		return 0, fmt.Errorf("source %q does not name the bucket in the data (%q)", e.Source(), obj.Bucket)
	}
	return gen, nil
}

// subjectNames reports whether a storage event subject, objects/<name>,
// names the object. The name is compared as written and, failing that,
// percent-decoded: the CloudEvents HTTP binding percent-encodes header
// values outside printable ASCII (and spaces), and sdk-go does not decode
// them.
func subjectNames(subject, name string) bool {
	got, ok := strings.CutPrefix(subject, "objects/")
	if !ok {
		return false
	}
	if got == name {
		return true
	}
	decoded, err := url.PathUnescape(got)
	return err == nil && decoded == name
}

// int64Field reads a proto3 int64 field written either as a decimal string
// or as a JSON number. ok is false when the field is absent or null.
func int64Field(name string, raw json.RawMessage) (n int64, ok bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, nil
	}
	text := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, false, fmt.Errorf("%s: %v", name, err)
		}
	}
	n, err = strconv.ParseInt(text, 10, 64)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("%s %s is not a non-negative 64-bit integer", name, raw)
	}
	return n, true, nil
}

// pubsubEnvelope is the data of a messagePublished event
// (google.events.cloud.pubsub.v1.MessagePublishedData).
type pubsubEnvelope struct {
	Message struct {
		Data        string            `json:"data"` // base64
		Attributes  map[string]string `json:"attributes"`
		MessageID   string            `json:"messageId"`
		PublishTime string            `json:"publishTime"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// parsePubSubEvent decodes the action payload a Pub/Sub message carries.
func parsePubSubEvent(e cloudevents.Event) (deploy.Request, error) {
	data, err := eventData(e)
	if err != nil {
		return deploy.Request{}, err
	}
	var env pubsubEnvelope
	if err := json.Unmarshal(data, &env); err != nil {
		return deploy.Request{}, fmt.Errorf("pubsub event %s: data is not a MessagePublishedData object: %v", e.ID(), err)
	}
	msg := env.Message
	id := msg.MessageID
	if id == "" {
		id = e.ID()
	}
	payload, err := decodeBase64(msg.Data)
	if err != nil {
		return deploy.Request{}, fmt.Errorf("pubsub message %s: message data is not base64: %v", id, err)
	}
	if len(payload) == 0 {
		return deploy.Request{}, fmt.Errorf("pubsub message %s has no data: want an action payload", id)
	}
	req, err := internal.ParsePayload(payload, "gcp", "pubsub")
	if err != nil {
		return deploy.Request{}, fmt.Errorf("pubsub message %s: %w", id, err)
	}
	published := e.Time()
	if t, err := time.Parse(time.RFC3339Nano, msg.PublishTime); err == nil {
		published = t
	}
	req.Trigger.EventID = id
	req.Trigger.Time = published
	if req.Action == deploy.ActionReset && req.Trigger.Schedule == "" {
		req.Trigger.Schedule = scheduleFromAttributes(msg.Attributes, published)
	}
	return req, nil
}

// scheduleFromAttributes builds a reset's schedule identity when the
// payload has none (deploys have none: their identity is the bundle's): the message's "schedule" attribute (the job, e.g. its
// name) + "@" + the publish time in UTC, the same shape as the AWS
// "<schedule-arn>@<scheduled-time>".
//
// Cloud Scheduler's Pub/Sub target publishes fixed data and attributes (it
// cannot template the run time in), so the attribute alone would make every
// run after the first look like a duplicate. The publish time is the same on
// every redelivery of one message, which is the retry Eventarc makes; a rare
// duplicate run of the job itself publishes a new message and is not told
// apart (the advisory lock still serialises the two). Without the attribute
// or a time the identity stays empty: nothing derived from the message id
// alone is used.
func scheduleFromAttributes(attrs map[string]string, published time.Time) string {
	job := attrs[scheduleAttribute]
	if job == "" || published.IsZero() {
		return ""
	}
	return job + "@" + published.UTC().Format(time.RFC3339Nano)
}

// decodeBase64 decodes Pub/Sub message data: standard base64, padded as
// Pub/Sub writes it, or unpadded.
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b2, err2 := base64.RawStdEncoding.DecodeString(s); err2 == nil {
			return b2, nil
		}
	}
	return b, err
}
