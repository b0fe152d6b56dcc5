package main

import (
	"context"
	"errors"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// handler is the CloudEvent function. Its answer is the HTTP status
// Eventarc acts on:
//
//   - deployed, duplicate, stale, ignored, a permanent failure (SQL error,
//     untrusted bundle, refused reset) and an event that cannot be parsed:
//     nil, so 200, and the event is acknowledged (a failing deploy is
//     reported once, not re-run);
//   - a retryable failure (database unreachable or busy, deadline,
//     transient storage error): an error, so 500, and Eventarc delivers
//     the event again when the trigger retries.
type handler struct {
	f *internal.Function
}

// Deploy handles one CloudEvent.
func (h *handler) Deploy(ctx context.Context, e cloudevents.Event) error {
	id := invocationID(ctx, e)
	req, ignore, err := parseCloudEvent(e)
	switch {
	case err != nil:
		// The same bytes will never parse: acknowledge them.
		h.f.Reject(id, internal.WithEventID(e.ID(), err))
		return nil
	case ignore != "":
		req.Trigger.EventID, req.Trigger.InvocationID = e.ID(), id
		h.f.Ignore(req, ignore)
		return nil
	}
	req.Trigger.InvocationID = id
	if err := internal.RetryError(h.f.Run(ctx, req)); err != nil {
		// The framework prints the error on stderr; the outcome line on
		// stdout is the structured record.
		return errors.New(fault.Redact(err.Error()))
	}
	return nil
}

// invocationID is the framework's execution id when it has one, else the
// event id. (functions-framework-go v1.9 records execution ids for HTTP
// and background functions only, so for CloudEvents it is the event id,
// which a redelivery keeps.)
func invocationID(ctx context.Context, e cloudevents.Event) string {
	if id := funcframework.ExecutionIDFromContext(ctx); id != "" {
		return id
	}
	return e.ID()
}
