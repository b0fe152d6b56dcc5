package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// platform is Trigger.Platform for everything this adapter parses.
const platform = "aws"

// Trigger.Source values of this adapter.
const (
	sourceS3          = "s3"
	sourceEventBridge = "eventbridge"
	sourceSQS         = "sqs"
	sourceScheduler   = "scheduler"
)

// item is one unit of work found in an invocation's payload. Exactly one of
// Request (its Action is set), Ignore and Err is meaningful.
type item struct {
	Request deploy.Request
	// Ignore says why the record needs no work (a test event, a deletion).
	Ignore string
	// Err is a permanent parse error: the same record will never parse.
	Err error
	// MessageID is the SQS messageId the item came from, so the entrypoint
	// can report partial batch failures; empty outside SQS.
	MessageID string
}

// parseEvent turns the raw payload of one Lambda invocation into items. It
// recognises an S3 notification (one item per record), the s3:TestEvent, an
// EventBridge event from aws.s3, an SQS batch whose message bodies are any
// of those or an action payload, and an action payload sent by EventBridge
// Scheduler or a person. sqs reports an SQS batch; in one, every message
// yields at least one item carrying its MessageID. err is set, and items is
// empty, when the payload has none of these shapes.
func parseEvent(raw []byte, invocationID string) (items []item, sqs bool, err error) {
	k, err := classify(raw)
	if err != nil {
		return nil, false, err
	}
	if k == kindSQS {
		items, err := parseSQS(raw, invocationID)
		if err != nil {
			return nil, true, err
		}
		return items, true, nil
	}
	items, err = parseKind(k, raw, invocationID, sourceScheduler)
	return items, false, err
}

// kind is the shape of a payload.
type kind int

const (
	kindS3 kind = iota + 1
	kindSQS
	kindTestEvent
	kindEventBridge
	kindPayload
)

// shapeProbe holds the members that tell the shapes apart. encoding/json
// matches member names case-insensitively, which is what we want here
// (SNS records, for one, spell it EventSource).
type shapeProbe struct {
	Records *[]struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
	Event      string  `json:"Event"`
	Source     *string `json:"source"`
	DetailType *string `json:"detail-type"`
}

const expectedShapes = "want an S3 notification {\"Records\":[…]}, an SQS batch, an EventBridge event from aws.s3, " +
	"the s3:TestEvent or an action payload {\"action\":…}"

// classify finds the shape of raw.
func classify(raw []byte) (kind, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return 0, fmt.Errorf("unrecognised event: not a JSON object (%s)", expectedShapes)
	}
	var p shapeProbe
	if err := json.Unmarshal(trimmed, &p); err != nil {
		return 0, fmt.Errorf("unrecognised event: %v (%s)", err, expectedShapes)
	}
	switch {
	case p.Records != nil:
		return classifyRecords(*p.Records)
	case internal.IsPayload(trimmed):
		return kindPayload, nil
	case p.Event == "s3:TestEvent":
		return kindTestEvent, nil
	case p.Source != nil || p.DetailType != nil:
		if p.Source == nil || *p.Source != "aws.s3" {
			return 0, fmt.Errorf("unsupported EventBridge event (source %q, detail-type %q): want source aws.s3",
				deref(p.Source), deref(p.DetailType))
		}
		return kindEventBridge, nil
	}
	return 0, fmt.Errorf("unrecognised event (%s)", expectedShapes)
}

// classifyRecords tells an S3 notification from an SQS batch by the
// records' eventSource, which must be the same for all of them.
func classifyRecords(recs []struct {
	EventSource string `json:"eventSource"`
}) (kind, error) {
	if len(recs) == 0 {
		return 0, errors.New("unrecognised event: Records is empty (want S3 or SQS records)")
	}
	src := recs[0].EventSource
	for _, r := range recs[1:] {
		if r.EventSource != src {
			return 0, fmt.Errorf("unrecognised event: Records mix eventSource %q and %q", src, r.EventSource)
		}
	}
	switch src {
	case "aws:s3":
		return kindS3, nil
	case "aws:sqs":
		return kindSQS, nil
	}
	return 0, fmt.Errorf("unsupported eventSource %q: want aws:s3 (S3 notification) or aws:sqs (SQS batch)", src)
}

// parseKind parses a payload of a known shape other than an SQS batch.
// source is the Trigger.Source of an action payload: it came from
// EventBridge Scheduler (or a person), or in an SQS message (a fleet
// message, or one a person sent).
func parseKind(k kind, raw []byte, invocationID, source string) ([]item, error) {
	switch k {
	case kindS3:
		return parseS3(raw, invocationID)
	case kindTestEvent:
		return []item{{Ignore: "s3:TestEvent"}}, nil
	case kindEventBridge:
		return []item{parseEventBridge(raw, invocationID)}, nil
	case kindPayload:
		return []item{parsePayload(raw, invocationID, source)}, nil
	}
	return nil, fmt.Errorf("unsupported event shape %d", k)
}

func parsePayload(raw []byte, invocationID, source string) item {
	req, err := internal.ParsePayload(raw, platform, source)
	if err != nil {
		return item{Err: err}
	}
	req.Trigger.InvocationID = invocationID
	return item{Request: req}
}

// parseS3 parses an S3 notification record by record, so one bad record
// does not hide the others. (events.S3Event would reject the whole event:
// S3Object's UnmarshalJSON fails on a key that does not URL-decode, and
// EventTime on a malformed time.)
func parseS3(raw []byte, invocationID string) ([]item, error) {
	var ev struct {
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("malformed S3 notification: %v", err)
	}
	items := make([]item, 0, len(ev.Records))
	for i, rec := range ev.Records {
		it := parseS3Record(rec, invocationID)
		if it.Err != nil {
			it.Err = internal.WithEventID(s3RecordID(rec), fmt.Errorf("S3 record %d: %w", i, it.Err))
		}
		items = append(items, it)
	}
	return items, nil
}

// s3RecordID digs a record's event id (as parseS3Record builds it) out of
// a record that may not parse: "" when it has none.
func s3RecordID(raw json.RawMessage) string {
	var probe struct {
		ResponseElements map[string]string `json:"responseElements"`
		S3               struct {
			Object struct {
				Sequencer string `json:"sequencer"`
			} `json:"object"`
		} `json:"s3"`
	}
	_ = json.Unmarshal(raw, &probe)
	return joinNonEmpty(":", probe.ResponseElements["x-amz-request-id"], probe.S3.Object.Sequencer)
}

func parseS3Record(raw json.RawMessage, invocationID string) item {
	var rec events.S3EventRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return badS3Record(raw, err)
	}
	if ignore, err := s3NotUpload(rec.EventName); ignore != "" || err != nil {
		return item{Ignore: ignore, Err: err}
	}
	obj := rec.S3.Object
	// Decode the key here rather than trust URLDecodedKey: the event may not
	// have been decoded by S3Object.UnmarshalJSON, and the field is also an
	// ordinary JSON member anyone can send.
	key, err := url.QueryUnescape(obj.Key)
	if err != nil {
		return item{Err: fmt.Errorf("object key %q is not URL-encoded correctly: %v", obj.Key, err)}
	}
	bundle, err := bundleURL(rec.S3.Bucket.Name, key)
	if err != nil {
		return item{Err: err}
	}
	return item{Request: deploy.Request{
		Action:    deploy.ActionDeploy,
		Bundle:    bundle,
		Version:   obj.VersionID,
		Sequencer: obj.Sequencer,
		Trigger: deploy.Trigger{
			Platform:     platform,
			Source:       sourceS3,
			EventID:      joinNonEmpty(":", rec.ResponseElements["x-amz-request-id"], obj.Sequencer),
			InvocationID: invocationID,
			Time:         rec.EventTime,
		},
	}}
}

// badS3Record explains a record that events.S3EventRecord rejected. A
// record that is not an upload stays ignored even when it is malformed.
func badS3Record(raw json.RawMessage, decodeErr error) item {
	var probe struct {
		EventName string `json:"eventName"`
		S3        struct {
			Object struct {
				Key string `json:"key"`
			} `json:"object"`
		} `json:"s3"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return item{Err: fmt.Errorf("malformed S3 record: %v", decodeErr)}
	}
	if ignore, _ := s3NotUpload(probe.EventName); ignore != "" {
		return item{Ignore: ignore}
	}
	if _, err := url.QueryUnescape(probe.S3.Object.Key); err != nil {
		return item{Err: fmt.Errorf("object key %q is not URL-encoded correctly: %v", probe.S3.Object.Key, err)}
	}
	return item{Err: fmt.Errorf("malformed S3 record: %v", decodeErr)}
}

// s3NotUpload says why an S3 eventName is not an upload (anything but
// ObjectCreated:Put, :Post, :Copy, :CompleteMultipartUpload), or returns an
// error when there is no eventName. S3 sends the name without the "s3:" of
// the notification configuration; accept both.
func s3NotUpload(eventName string) (ignore string, err error) {
	if eventName == "" {
		return "", errors.New("the record has no eventName")
	}
	if strings.HasPrefix(strings.TrimPrefix(eventName, "s3:"), "ObjectCreated:") {
		return "", nil
	}
	return eventName + " is not an upload", nil
}

// s3Detail is the detail of an EventBridge event from aws.s3.
type s3Detail struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key       string `json:"key"`
		VersionID string `json:"version-id"`
		Sequencer string `json:"sequencer"`
	} `json:"object"`
	Reason string `json:"reason"`
}

// parseEventBridge parses an EventBridge event from aws.s3. Unlike in S3
// notifications, detail.object.key is not URL-encoded.
func parseEventBridge(raw []byte, invocationID string) item {
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		var probe struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(raw, &probe)
		return item{Err: internal.WithEventID(probe.ID, fmt.Errorf("malformed EventBridge event: %v", err))}
	}
	if ev.DetailType != "Object Created" {
		return item{Ignore: fmt.Sprintf("%s is not an upload", strconv.Quote(ev.DetailType))}
	}
	var d s3Detail
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return item{Err: internal.WithEventID(ev.ID, fmt.Errorf("malformed detail of EventBridge event %s: %v", ev.ID, err))}
	}
	bundle, err := bundleURL(d.Bucket.Name, d.Object.Key)
	if err != nil {
		return item{Err: internal.WithEventID(ev.ID, fmt.Errorf("EventBridge event %s: %w", ev.ID, err))}
	}
	return item{Request: deploy.Request{
		Action:    deploy.ActionDeploy,
		Bundle:    bundle,
		Version:   d.Object.VersionID,
		Sequencer: d.Object.Sequencer,
		Trigger: deploy.Trigger{
			Platform:     platform,
			Source:       sourceEventBridge,
			EventID:      ev.ID,
			InvocationID: invocationID,
			Time:         ev.Time,
		},
	}}
}

// parseSQS parses an SQS batch message by message. Each body is parsed as
// a payload of its own: an S3 notification or EventBridge event routed
// through a queue, or an action payload, in particular a fleet message
// (deploy.FleetMessage, which the deployer publishes to PGMI_FLEET_TOPIC
// and the event source mapping delivers back). A message whose body cannot
// be parsed becomes one item with Err: it is logged and acknowledged, as
// the same body would never parse.
func parseSQS(raw []byte, invocationID string) ([]item, error) {
	var batch struct {
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(raw, &batch); err != nil {
		return nil, fmt.Errorf("malformed SQS batch: %v", err)
	}
	var items []item
	for i, rec := range batch.Records {
		var msg events.SQSMessage
		if err := json.Unmarshal(rec, &msg); err != nil {
			id := sqsMessageID(rec)
			items = append(items, item{MessageID: id, Err: internal.WithEventID(id, fmt.Errorf("SQS record %d: malformed message: %v", i, err))})
			continue
		}
		items = append(items, parseSQSMessage(msg, invocationID)...)
	}
	return items, nil
}

// sqsMessageID digs the messageId out of a record that does not decode as
// an events.SQSMessage (a bad binary attribute, say).
func sqsMessageID(rec json.RawMessage) string {
	var probe struct {
		MessageID string `json:"messageId"`
	}
	_ = json.Unmarshal(rec, &probe)
	return probe.MessageID
}

func parseSQSMessage(msg events.SQSMessage, invocationID string) []item {
	body := []byte(msg.Body)
	k, err := classify(body)
	if err == nil && k == kindSQS {
		err = errors.New("the body is itself an SQS batch")
	}
	var inner []item
	if err == nil {
		inner, err = parseKind(k, body, invocationID, sourceSQS)
	}
	if err == nil && len(inner) == 0 {
		err = errors.New("the body holds no records")
	}
	if err != nil {
		return []item{{MessageID: msg.MessageId, Err: internal.WithEventID(msg.MessageId, fmt.Errorf("SQS message %s: %w", msg.MessageId, err))}}
	}
	sent := sqsSentTime(msg)
	for i := range inner {
		inner[i].MessageID = msg.MessageId
		if inner[i].Err != nil {
			// The id of the event inside the message, else the message's,
			// as for a request (Trigger.EventID below).
			id := internal.EventIDOf(inner[i].Err)
			if id == "" {
				id = msg.MessageId
			}
			inner[i].Err = internal.WithEventID(id, fmt.Errorf("SQS message %s: %w", msg.MessageId, inner[i].Err))
		}
		if inner[i].Request.Action == "" {
			continue
		}
		t := &inner[i].Request.Trigger
		t.Source = sourceSQS
		if t.EventID == "" {
			t.EventID = msg.MessageId
		}
		if t.Time.IsZero() {
			t.Time = sent
		}
	}
	return inner
}

// sqsSentTime is the message's SentTimestamp attribute (epoch
// milliseconds), or zero.
func sqsSentTime(msg events.SQSMessage) time.Time {
	ms, err := strconv.ParseInt(msg.Attributes["SentTimestamp"], 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// bundleURL builds s3://bucket/key and checks that the pipeline splits it
// back into the same bucket and key. The bucket must be a name S3 allows:
// the pipeline opens s3://bucket as a gocloud URL, so a '?' in it would
// carry driver parameters (endpoint=…) that send the fetch elsewhere.
func bundleURL(bucket, key string) (string, error) {
	if bucket == "" || key == "" {
		return "", fmt.Errorf("the event names no object (bucket %q, key %q)", bucket, key)
	}
	if err := deploy.CheckBucketName("s3", bucket); err != nil {
		return "", fmt.Errorf("invalid bucket name %q in the event: %v", bucket, err)
	}
	u := "s3://" + bucket + "/" + key
	gotBucket, gotKey, err := deploy.SplitBundleURL(u)
	if err != nil {
		return "", err
	}
	if gotBucket != "s3://"+bucket || gotKey != key {
		return "", fmt.Errorf("object %q in bucket %q cannot be named by a bundle URL", key, bucket)
	}
	return u, nil
}

func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
