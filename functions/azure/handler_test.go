package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/functions/internal"
)

// TestScheduleID: one scheduled run has one identity across the host's
// retries, and the next run another.
func TestScheduleID(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	status := scheduleStatus{Last: at("2026-11-24T02:00:00Z"), Next: at("2026-11-25T02:00:00Z"), LastUpdated: at("2026-11-24T02:00:00.01Z")}
	sys := sysInfo{UtcNow: at("2026-11-25T02:00:00.0234567Z")}
	now := at("2026-11-25T02:03:04Z")
	tests := []struct {
		name  string
		timer timerInfo
		sys   sysInfo
		want  string
	}{
		{"status", timerInfo{ScheduleStatus: status}, sys, "Reset@2026-11-25T02:00:00Z"},
		{"past due", timerInfo{ScheduleStatus: status, IsPastDue: true}, sysInfo{UtcNow: at("2026-11-25T07:12:00Z")}, "Reset@2026-11-25T02:00:00Z"},
		{"first run", timerInfo{ScheduleStatus: scheduleStatus{Next: status.Next}}, sys, "Reset@2026-11-25T02:00:00Z"},
		{"offset", timerInfo{ScheduleStatus: scheduleStatus{Next: at("2026-11-25T03:00:00+01:00")}}, sys, "Reset@2026-11-25T02:00:00Z"},
		{"no status", timerInfo{}, sys, "Reset@2026-11-25T02:00:00Z"},
		{"no status, later in the minute", timerInfo{}, sysInfo{UtcNow: at("2026-11-25T02:00:59.9Z")}, "Reset@2026-11-25T02:00:00Z"},
		{"no status, next minute", timerInfo{}, sysInfo{UtcNow: at("2026-11-25T02:01:00Z")}, "Reset@2026-11-25T02:01:00Z"},
		{"nothing", timerInfo{}, sysInfo{}, "Reset@2026-11-25T02:03:00Z"},
	}
	for _, tc := range tests {
		if got := scheduleID(tc.timer, tc.sys, now); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestScheduleIDFixtures: the captured timer payloads give the identity of
// the run they describe.
func TestScheduleIDFixtures(t *testing.T) {
	for fixture, want := range map[string]string{
		"timer":           "Reset@2026-11-26T02:00:00Z",
		"timer-no-status": "Reset@2026-11-25T02:00:00Z",
	} {
		inv := loadInvocation(t, fixture)
		timer, err := parseTimer(inv, timerBinding)
		if err != nil {
			t.Fatal(err)
		}
		sys, err := parseSys(inv)
		if err != nil {
			t.Fatal(err)
		}
		if got := scheduleID(timer, sys, time.Time{}); got != want {
			t.Errorf("%s: %q, want %q", fixture, got, want)
		}
	}
}

// TestPanicIsAnsweredAndLogged: an invocation whose handling panics gets a
// 500 in the host's JSON and one ERROR line on stdout naming the
// invocation and the panic, instead of a dropped connection and a plain
// line on stderr.
func TestPanicIsAnsweredAndLogged(t *testing.T) {
	var out bytes.Buffer
	log := internal.NewLogger(&out, "azure", internal.AzureFormat, false)
	h := recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("nil pointer in the blob writer")
	}), log)
	req := httptest.NewRequest(http.MethodPost, "/"+blobCreatedFunction, strings.NewReader("{}"))
	req.Header.Set(invocationIDHeader, "inv-7")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body hostResponse
	if rec.Code != http.StatusInternalServerError || json.Unmarshal(rec.Body.Bytes(), &body) != nil || len(body.Logs) != 1 {
		t.Fatalf("answer %d %s, want 500 with the host's JSON", rec.Code, rec.Body)
	}
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", out.String(), err)
	}
	if line["level"] != "ERROR" || line["invocationId"] != "inv-7" || !strings.Contains(line["message"].(string), "nil pointer in the blob writer") {
		t.Fatalf("log line %v, want an ERROR naming the invocation and the panic", line)
	}
}
