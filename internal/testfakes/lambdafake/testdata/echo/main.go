// Command echo is a tiny aws-lambda-go function for lambdafake's tests. It
// answers every event with the event itself and what it saw of the
// invocation; an event {"fail":"msg"} makes it return an error with that
// message, and {"panic":"msg"} makes it panic.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type reply struct {
	Event        json.RawMessage `json:"event"`
	DeadlineMS   int64           `json:"deadline_ms"`  // ctx deadline, Unix epoch ms; 0 when none
	RemainingMS  int64           `json:"remaining_ms"` // time left until it
	RequestID    string          `json:"request_id"`
	FunctionARN  string          `json:"function_arn"`
	FunctionName string          `json:"function_name"`
}

type command struct {
	Fail  string `json:"fail"`
	Panic string `json:"panic"`
}

func handle(ctx context.Context, ev json.RawMessage) (reply, error) {
	var c command
	_ = json.Unmarshal(ev, &c) // events that are not objects are echoed
	if c.Fail != "" {
		return reply{}, errors.New(c.Fail)
	}
	if c.Panic != "" {
		panic(c.Panic)
	}
	r := reply{Event: ev, FunctionName: lambdacontext.FunctionName}
	if dl, ok := ctx.Deadline(); ok {
		r.DeadlineMS, r.RemainingMS = dl.UnixMilli(), time.Until(dl).Milliseconds()
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.RequestID, r.FunctionARN = lc.AwsRequestID, lc.InvokedFunctionArn
	}
	return r, nil
}

func main() { lambda.Start(handle) }
