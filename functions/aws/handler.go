package main

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// handler serves the invocations of one execution environment, one at a
// time, as Lambda hands them out.
type handler struct {
	f *internal.Function

	once    sync.Once
	refused error // the configuration error every invocation is answered with
}

// handle runs every item of one invocation, in order, and maps the
// outcomes onto Lambda's answer (see answer).
func (h *handler) handle(ctx context.Context, raw json.RawMessage) (any, error) {
	id := requestID(ctx)
	if err := h.refusal(ctx); err != nil {
		h.f.Log.Error("invalid configuration: "+err.Error(), "invocationId", id)
		return nil, messages.InvokeResponse_Error{Message: fault.Redact(err.Error()), Type: initErrorType}
	}
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

// refusal is the configuration error every invocation fails with, nil for
// none. Lambda tells a function its timeout only with an invocation (its
// deadline), so the first invocation decides whether PGMI_TIMEOUT_MARGIN
// leaves any time within it. If not, no event could ever run: each
// invocation is answered as a failed init would be (errorType
// Runtime.InvalidConfiguration, naming both settings), so the events stay
// with Lambda (retries, the DLQ, the queue) until the configuration is
// fixed.
func (h *handler) refusal(ctx context.Context) error {
	h.once.Do(func() {
		if dl, ok := ctx.Deadline(); ok {
			h.refused = internal.CheckMargin(h.f.Deployer.Config().TimeoutMargin, functionTimeout(time.Until(dl)), "the function's timeout")
		}
	})
	return h.refused
}

// functionTimeout is the timeout a first invocation's remaining time shows:
// Lambda's timeouts are whole seconds, and a moment has passed.
func functionTimeout(remaining time.Duration) time.Duration {
	return (remaining + time.Second - 1).Truncate(time.Second)
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
