// Package internal is what the three function adapters share: the action
// payload of scheduled and direct invocations, configuration read once at
// cold start, the mapping of pipeline outcomes onto platform answers, the
// structured log line, and the adapter contract test's fixtures.
package internal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// Payload is the JSON a scheduler or a person sends to ask for a deploy or
// a reset directly, the same on every platform:
//
//	{"action":"reset","bundle":"s3://bundles/app/1.4.tgz","version":"…","database":"app_dev"}
//
// schedule (optional) identifies one scheduled run across retries, e.g.
// "<aws.scheduler.schedule-arn>@<aws.scheduler.scheduled-time>".
type Payload struct {
	Action   string `json:"action"`
	Bundle   string `json:"bundle"`
	Version  string `json:"version"`
	Database string `json:"database"`
	Schedule string `json:"schedule"`
	// Rollout makes the payload a fleet message (deploy.FleetMessage):
	// one target of a rollout, honoured only as the rollout recorded it.
	Rollout int64 `json:"rollout,omitempty"`
}

// IsPayload reports whether raw looks like an action payload: a JSON object
// with an "action" member.
func IsPayload(raw []byte) bool {
	var probe struct {
		Action *json.RawMessage `json:"action"`
	}
	return json.Unmarshal(raw, &probe) == nil && probe.Action != nil
}

// ParsePayload decodes an action payload strictly (unknown members are an
// error, so a typo is not silently ignored) into a Request. source names the
// route it came by (scheduler, pubsub, direct …).
func ParsePayload(raw []byte, platform, source string) (deploy.Request, error) {
	var p Payload
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return deploy.Request{}, fmt.Errorf("invalid action payload: %v (want {\"action\":\"deploy\"|\"reset\",\"bundle\":\"<url>\",\"version\":\"…\",\"database\":\"…\"})", err)
	}
	// Only white space may follow the value. dec.More is not enough: it is
	// false before a stray ']' or '}', which would then go unnoticed.
	if _, err := dec.Token(); err != io.EOF {
		return deploy.Request{}, fmt.Errorf("invalid action payload: more than one JSON value")
	}
	req := deploy.Request{
		Action:   deploy.Action(strings.ToLower(strings.TrimSpace(p.Action))),
		Bundle:   p.Bundle,
		Version:  p.Version,
		Database: p.Database,
		Rollout:  p.Rollout,
		Trigger:  deploy.Trigger{Platform: platform, Source: source, Schedule: p.Schedule},
	}
	if err := req.Validate(); err != nil {
		return deploy.Request{}, fmt.Errorf("invalid action payload: %w", err)
	}
	return req, nil
}
