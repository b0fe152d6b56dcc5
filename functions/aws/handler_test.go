package main

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

func outcome(status deploy.Status, retryable bool, key string) *deploy.Outcome {
	o := &deploy.Outcome{Status: status, Retryable: retryable,
		Report: &deploy.Report{Outcome: status, Action: deploy.ActionDeploy, Bundle: deploy.BundleInfo{URL: "s3://b/" + key, Key: key}}}
	if status == deploy.StatusFailed {
		o.Err = errors.New("it failed")
	}
	if key != "" {
		o.ResultURL = "s3://b/pgmi-results/" + key + ".v.json"
	}
	return o
}

func TestAnswerSQS(t *testing.T) {
	got, err := answer([]ran{
		{messageID: "m1", outcome: outcome(deploy.StatusDeployed, false, "a")},
		{messageID: "m2", outcome: outcome(deploy.StatusFailed, true, "b")},
		{messageID: "m2", outcome: outcome(deploy.StatusFailed, true, "c")},  // two records of one message
		{messageID: "m3", outcome: outcome(deploy.StatusFailed, false, "d")}, // permanent: acknowledged
		{messageID: "m4", outcome: outcome(deploy.StatusDuplicate, false, "a")},
		{messageID: "", outcome: outcome(deploy.StatusFailed, true, "e")}, // no id to report
	}, true)
	if err != nil {
		t.Fatalf("an SQS batch returned an error: %v", err)
	}
	resp, ok := got.(events.SQSEventResponse)
	if !ok || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m2" {
		t.Fatalf("answer = %#v, want one batch item failure for m2", got)
	}

	got, _ = answer([]ran{{messageID: "m1", outcome: outcome(deploy.StatusDeployed, false, "a")}}, true)
	data, _ := json.Marshal(got)
	if string(data) != `{"batchItemFailures":[]}` {
		t.Fatalf("all succeeded: %s, want an empty list", data)
	}
}

func TestAnswerAsync(t *testing.T) {
	retry := outcome(deploy.StatusFailed, true, "b")
	_, err := answer([]ran{{outcome: outcome(deploy.StatusDeployed, false, "a")}, {outcome: retry}}, false)
	var r *internal.Retry
	if !errors.As(err, &r) || r.Outcome != retry {
		t.Fatalf("err = %v, want the retry of the failed item", err)
	}

	got, err := answer([]ran{
		{outcome: outcome(deploy.StatusDeployed, false, "a")},
		{outcome: outcome(deploy.StatusFailed, false, "b")},
		{outcome: outcome(deploy.StatusIgnored, false, "")},
	}, false)
	if err != nil {
		t.Fatalf("no retryable outcome, yet err = %v", err)
	}
	data, _ := json.Marshal(got)
	want := `{"outcomes":[` +
		`{"bundle":"s3://b/a","outcome":"deployed","resultUrl":"s3://b/pgmi-results/a.v.json","action":"deploy"},` +
		`{"bundle":"s3://b/b","outcome":"failed","resultUrl":"s3://b/pgmi-results/b.v.json","action":"deploy"},` +
		`{"bundle":"s3://b/","outcome":"ignored","action":"deploy"}]}`
	if string(data) != want {
		t.Fatalf("summary\n  %s\nwant\n  %s", data, want)
	}
}
