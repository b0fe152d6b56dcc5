package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// handler serves the invocations of one execution environment, one at a
// time, as Lambda hands them out.
type handler struct{ f *internal.Function }

// handle runs every item of one invocation, in order, and maps the
// outcomes onto Lambda's answer (see answer).
func (h *handler) handle(ctx context.Context, raw json.RawMessage) (any, error) {
	id := requestID(ctx)
	items, sqs, err := parseEvent(raw, id)
	if err != nil {
		// The same bytes will never parse: acknowledge them.
		o := h.f.Reject(id, err)
		if sqs {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}, nil
		}
		return summarize([]ran{{outcome: o}}), nil
	}
	results := make([]ran, 0, len(items))
	for _, it := range items {
		results = append(results, ran{messageID: it.MessageID, outcome: h.run(ctx, id, it)})
	}
	return answer(results, sqs)
}

// run does what one item asks.
func (h *handler) run(ctx context.Context, id string, it item) *deploy.Outcome {
	it.Request.Trigger.InvocationID = id
	switch {
	case it.Err != nil:
		return h.f.Reject(id, it.Err)
	case it.Ignore != "":
		return h.f.Ignore(it.Request, it.Ignore)
	}
	return h.f.Run(ctx, it.Request)
}

// requestID is the invocation's Lambda request id.
func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// ran is one item's outcome, with the SQS message it came from.
type ran struct {
	messageID string
	outcome   *deploy.Outcome
}

// answer maps an invocation's outcomes onto Lambda. An SQS batch reports
// the messages with a retryable outcome as batch item failures (the event
// source mapping needs ReportBatchItemFailures) and never fails as a
// whole, so the messages that succeeded are deleted. Any other event fails
// when an item is retryable, so Lambda's asynchronous retries deliver it
// again (the items already done are duplicates then), and otherwise
// returns a summary of the outcomes.
func answer(results []ran, sqs bool) (any, error) {
	if sqs {
		failed := []events.SQSBatchItemFailure{}
		seen := map[string]bool{}
		for _, r := range results {
			if r.outcome.Retryable && r.messageID != "" && !seen[r.messageID] {
				seen[r.messageID] = true
				failed = append(failed, events.SQSBatchItemFailure{ItemIdentifier: r.messageID})
			}
		}
		return events.SQSEventResponse{BatchItemFailures: failed}, nil
	}
	for _, r := range results {
		if err := internal.RetryError(r.outcome); err != nil {
			return nil, err
		}
	}
	return summarize(results), nil
}

// summary is the response of an invocation that needs no retry.
type summary struct {
	Outcomes []outcomeSummary `json:"outcomes"`
}

type outcomeSummary struct {
	Bundle    string        `json:"bundle,omitempty"`
	Outcome   deploy.Status `json:"outcome"`
	ResultURL string        `json:"resultUrl,omitempty"`
	Action    deploy.Action `json:"action,omitempty"`
}

func summarize(results []ran) summary {
	s := summary{Outcomes: make([]outcomeSummary, 0, len(results))}
	for _, r := range results {
		o := r.outcome
		s.Outcomes = append(s.Outcomes, outcomeSummary{
			Bundle: o.Report.Bundle.URL, Outcome: o.Status, ResultURL: o.ResultURL, Action: o.Report.Action,
		})
	}
	return s
}
