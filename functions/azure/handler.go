package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// invocationIDHeader carries the host's id of one invocation.
const invocationIDHeader = "X-Azure-Functions-InvocationId"

// maxBody bounds an invocation body: an Event Grid event is at most 1 MB,
// and the host sends it twice (Data and Metadata.data).
const maxBody = 4 << 20

// handler serves the Functions host: GET / (the host's readiness ping) and
// one POST /<function> per function folder.
type handler struct {
	fn  *internal.Function
	cfg *settings
}

func newHandler(fn *internal.Function, cfg *settings) http.Handler {
	h := &handler{fn: fn, cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /"+blobCreatedFunction, h.blobCreated)
	mux.HandleFunc("POST /"+resetFunction, h.reset)
	mux.HandleFunc("POST /"+fleetFunction, h.fleet)
	mux.HandleFunc("POST /{function}", h.unknown)
	return recoverPanics(mux, fn.Log)
}

// recoverPanics answers an invocation whose handling panicked with a 500
// the host understands, after one ERROR line naming the invocation and the
// panic: net/http would only print a plain-text line on stderr and drop
// the connection. Event Grid then delivers the event again (the ledger
// answers duplicate if the deploy had finished).
func recoverPanics(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil || v == http.ErrAbortHandler {
				if v != nil {
					panic(v)
				}
				return
			}
			msg := fmt.Sprintf("the invocation of %s failed: the handler panicked: %v", r.URL.Path, v)
			log.Error(msg, "invocationId", r.Header.Get(invocationIDHeader))
			writeResponse(w, http.StatusInternalServerError, hostResponse{Logs: []string{fault.Redact(msg)}})
		}()
		next.ServeHTTP(w, r)
	})
}

// blobCreated deploys the blob a BlobCreated event names, pinned to its
// ETag.
func (h *handler) blobCreated(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(invocationIDHeader)
	inv, err := readInvocation(w, r)
	if err != nil {
		h.answer(w, h.fn.Reject(id, err))
		return
	}
	req, account, ignore, err := parseEventGrid(inv, eventGridBinding)
	if err != nil {
		h.answer(w, h.fn.Reject(id, err))
		return
	}
	req.Trigger.InvocationID = id
	if ignore == "" && account != "" && !strings.EqualFold(account, h.cfg.account) {
		ignore = fmt.Sprintf("the event comes from storage account %q, but this function reads bundles from %q (%s)", account, h.cfg.account, envAccount)
	}
	if ignore != "" {
		h.answer(w, h.fn.Ignore(req, ignore))
		return
	}
	ctx, cancel := h.deadline(r.Context())
	defer cancel()
	h.answer(w, h.fn.Run(ctx, req))
}

// reset runs the scheduled reset of PGMI_RESET_DATABASE. The timer carries
// no payload: the database and the bundle come from the settings, and the
// run's identity from the timer's schedule status (scheduleID).
func (h *handler) reset(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(invocationIDHeader)
	inv, err := readInvocation(w, r)
	var timer timerInfo
	var sys sysInfo
	if err == nil {
		timer, err = parseTimer(inv, timerBinding)
	}
	if err == nil {
		sys, err = parseSys(inv)
	}
	if err != nil {
		h.answer(w, h.fn.Reject(id, err))
		return
	}
	if h.cfg.resetDatabase == "" {
		h.answer(w, h.notConfigured(id))
		return
	}
	req := resetRequest(h.cfg, timer, sys, id, time.Now())
	if err := req.Validate(); err != nil {
		h.answer(w, h.fn.Reject(id, err))
		return
	}
	ctx, cancel := h.deadline(r.Context())
	defer cancel()
	h.answer(w, h.fn.Run(ctx, req))
}

// fleet deploys one target of a fleet rollout: the message the deployer
// published to the fleet queue (PGMI_FLEET_TOPIC), which the Fleet
// function's serviceBusTrigger delivers back. The answer settles the
// message: 200 completes it (deployed, failed for good, or unreadable,
// since the same bytes never parse); a retryable outcome is the 500 that
// fails the invocation, so the host abandons the message and Service Bus
// delivers it again (DeliveryCount + 1), until the queue's
// max_delivery_count moves it to the dead-letter subqueue.
func (h *handler) fleet(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(invocationIDHeader)
	inv, err := readInvocation(w, r)
	if err != nil {
		h.answer(w, h.fn.Reject(id, err))
		return
	}
	req, msg, err := parseFleetMessage(inv, fleetBinding)
	if err != nil {
		h.answer(w, h.fn.Reject(id, err))
		return
	}
	req.Trigger.InvocationID = id
	if msg.DeliveryCount > 1 {
		h.fn.Log.Info(fmt.Sprintf("fleet message %s (rollout %d, %s) delivered again: delivery %d", msg.MessageID, req.Rollout, req.Database, msg.DeliveryCount),
			"invocationId", id)
	}
	ctx, cancel := h.deadline(r.Context())
	defer cancel()
	h.answer(w, h.fn.Run(ctx, req))
}

// resetRequest is the reset a timer tick asks for: the settings' database
// and bundle (none: the last one the database's ledger deployed), read at
// its current content, once per scheduled run.
func resetRequest(cfg *settings, timer timerInfo, sys sysInfo, invocationID string, now time.Time) deploy.Request {
	return deploy.Request{
		Action:   deploy.ActionReset,
		Bundle:   cfg.resetBundle,
		Database: cfg.resetDatabase,
		Trigger: deploy.Trigger{Platform: "azure", Source: "timer", InvocationID: invocationID, Time: sys.UtcNow,
			Schedule: scheduleID(timer, sys, now)},
	}
}

// unknown answers an invocation of a function this handler does not serve:
// a function folder was added without code for it.
func (h *handler) unknown(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("function")
	h.fn.Log.Error(fmt.Sprintf("the host invoked function %q, which this handler does not serve (it serves %s, %s and %s): remove the folder %s/ from the app",
		name, blobCreatedFunction, resetFunction, fleetFunction, name), "invocationId", r.Header.Get(invocationIDHeader))
	writeResponse(w, http.StatusNotFound, hostResponse{Logs: []string{"no function " + name + " in this handler"}})
}

// notConfigured is the Reset timer's answer when PGMI_RESET_DATABASE is
// unset: logged as an error and acknowledged, since a retry cannot help.
func (h *handler) notConfigured(id string) *deploy.Outcome {
	msg := "the Reset timer fired but " + envResetDatabase + " is not set, so there is no database to reset: set it (and list the database in PGMI_RESET_ALLOW), or remove the Reset function"
	h.fn.Log.Error(msg, "invocationId", id)
	// No Action in the report: its summary would name a reset of no
	// database with no bundle.
	return &deploy.Outcome{Status: deploy.StatusFailed, Err: errors.New(msg),
		Report: &deploy.Report{Outcome: deploy.StatusFailed, Message: msg, Platform: h.fn.Platform,
			Source: "timer", InvocationID: id, ExitCode: exitcode.For(fault.Config)}}
}

// deadline bounds an invocation by host.json's functionTimeout, which the
// host enforces by restarting the worker; pkg/deploy stops
// PGMI_TIMEOUT_MARGIN before it. With PGMI_TIMEOUT set, or no
// functionTimeout known, the context has no deadline and pkg/deploy applies
// PGMI_TIMEOUT (default 15m).
func (h *handler) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if h.cfg.pgmiTimeout || h.cfg.functionTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, h.cfg.functionTimeout)
}

// readInvocation decodes the host's body.
func readInvocation(w http.ResponseWriter, r *http.Request) (invocation, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return invocation{}, fmt.Errorf("reading the invocation body: %v", err)
	}
	var inv invocation
	if err := json.Unmarshal(body, &inv); err != nil {
		return invocation{}, fmt.Errorf("the invocation body is not the host's {\"Data\":…,\"Metadata\":…} JSON: %v", err)
	}
	if inv.Data == nil {
		return invocation{}, errors.New("the invocation body has no Data")
	}
	return inv, nil
}

// returnValue is the invocation's ReturnValue: what became of it, for the
// host's invocation log.
type returnValue struct {
	Outcome   deploy.Status `json:"outcome"`
	Retryable bool          `json:"retryable"`
	Summary   string        `json:"summary"`
	ResultURL string        `json:"resultUrl,omitempty"`
}

// answer replies with the outcome: 200 for everything acknowledged, 500 for
// a retryable failure, so the host marks the invocation failed and Event
// Grid delivers the event again (Service Bus the message: the host abandons
// it). The body is always the host's JSON.
func (h *handler) answer(w http.ResponseWriter, o *deploy.Outcome) {
	status := http.StatusOK
	if internal.RetryError(o) != nil {
		status = http.StatusInternalServerError
	}
	summary := fault.Redact(o.Report.Summary())
	writeResponse(w, status, hostResponse{
		Logs:        []string{summary},
		ReturnValue: returnValue{Outcome: o.Status, Retryable: o.Retryable, Summary: summary, ResultURL: o.ResultURL},
	})
}

func writeResponse(w http.ResponseWriter, status int, resp hostResponse) {
	data, err := json.Marshal(resp)
	if err != nil {
		data = []byte(`{"Outputs":{},"Logs":[],"ReturnValue":null}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// scheduleID names one scheduled run of the Reset timer, the same across
// the host's retries of that run, so a repeated run is a duplicate in the
// ledger. The timer's payload has no field for "this run's time", so:
//
//   - with a schedule status (the host's schedule monitor, on by default for
//     schedules of a minute or longer): "Reset@<Next>". The host builds the
//     timer value from the status it holds before the run and updates the
//     status only after it, so Next is the occurrence being run (for a
//     past-due run after downtime, the occurrence that was missed).
//   - without one (useMonitor false, sub-minute schedules): "Reset@" and the
//     host's UtcNow (else now) truncated to the minute, so at most one reset
//     runs per minute.
//
// Times are RFC 3339 in UTC; the host writes them without an offset in the
// host's time zone, which is UTC on Azure.
func scheduleID(t timerInfo, sys sysInfo, now time.Time) string {
	if next := t.ScheduleStatus.Next; !next.IsZero() {
		return resetFunction + "@" + utc(next)
	}
	at := sys.UtcNow
	if at.IsZero() {
		at = now
	}
	return resetFunction + "@" + utc(at.Truncate(time.Minute))
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
