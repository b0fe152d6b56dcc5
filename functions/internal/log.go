package internal

import (
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// Logger writes one JSON object per line, the structured logging every
// platform reads from stdout: AWS Lambda's JSON log format and Azure read
// "level", Google Cloud Logging reads "severity". Messages are redacted.
type Logger struct {
	mu       sync.Mutex
	w        io.Writer
	field    string // "level" or "severity"
	debug    bool
	platform string
}

// Severity field names.
const (
	LevelField    = "level"
	SeverityField = "severity"
)

// NewLogger logs to w with the platform's severity field. debug turns on
// the engine's progress lines (PGMI_LOG_LEVEL=debug).
func NewLogger(w io.Writer, platform, field string, debug bool) *Logger {
	return &Logger{w: w, field: field, debug: debug, platform: platform}
}

func (l *Logger) Debug(msg string) {
	if l.debug {
		l.line("DEBUG", msg, nil)
	}
}
func (l *Logger) Info(msg string)  { l.line("INFO", msg, nil) }
func (l *Logger) Warn(msg string)  { l.line("WARNING", msg, nil) }
func (l *Logger) Error(msg string) { l.line("ERROR", msg, nil) }

// ErrorFor logs an error line about one invocation: it names it
// (invocationId), so the line can be found from the platform's record of
// the invocation.
func (l *Logger) ErrorFor(invocationID, msg string) {
	l.line("ERROR", msg, map[string]any{"invocationId": invocationID})
}

// Severity is a log line's level, as LineWriter's classify gives it.
type Severity string

// The severities; Lambda's WARN is written WARNING here (see line).
const (
	SevDebug Severity = "DEBUG"
	SevInfo  Severity = "INFO"
	SevWarn  Severity = "WARNING"
	SevError Severity = "ERROR"
)

// LineWriter is an io.Writer for a library that prints plain text (the
// standard log package, an http.Server's ErrorLog): each line written to
// it becomes one JSON line, at the severity and with the message classify
// gives it, so that nothing plain reaches the platform's log. A write is
// taken as whole lines, as log.Logger writes them.
func (l *Logger) LineWriter(classify func(line string) (Severity, string)) io.Writer {
	return lineWriter{l, classify}
}

type lineWriter struct {
	l        *Logger
	classify func(string) (Severity, string)
}

func (w lineWriter) Write(p []byte) (int, error) {
	for _, text := range strings.Split(string(p), "\n") {
		if text = strings.TrimRight(text, "\r"); strings.TrimSpace(text) == "" {
			continue
		}
		sev, msg := w.classify(text)
		if sev == SevDebug && !w.l.debug {
			continue
		}
		w.l.line(string(sev), msg, nil)
	}
	return len(p), nil
}

// Outcome logs the one line an invocation ends with.
func (l *Logger) Outcome(o *deploy.Outcome) {
	r := o.Report
	fields := map[string]any{
		"outcome":      o.Status,
		"retryable":    o.Retryable,
		"action":       r.Action,
		"invocationId": r.InvocationID,
		"eventId":      r.EventID,
		"bundle":       r.Bundle.URL,
		"version":      r.Bundle.Version,
		"sha256":       r.Bundle.SHA256,
		"database":     r.Target.Database,
		"durationMs":   r.DurationMS,
		"exitCode":     r.ExitCode,
		"resultUrl":    o.ResultURL,
	}
	if o.ResultErr != nil {
		fields["resultError"] = o.ResultErr.Error()
	}
	if o.Err != nil {
		fields["error"] = o.Err.Error()
	}
	l.line(severity(o), r.Summary(), fields)
}

func severity(o *deploy.Outcome) string {
	switch {
	case o.Status == deploy.StatusFailed && o.Retryable:
		return "WARNING"
	case o.Status == deploy.StatusFailed:
		return "ERROR"
	case o.ResultErr != nil:
		return "WARNING"
	}
	return "INFO"
}

func (l *Logger) line(sev, msg string, fields map[string]any) {
	rec := map[string]any{}
	for k, v := range fields {
		if s, ok := v.(string); ok {
			if s == "" {
				continue
			}
			v = fault.Redact(s)
		}
		rec[k] = v
	}
	if sev == "WARNING" && l.field == LevelField {
		sev = "WARN" // Lambda's level names
	}
	rec[l.field] = sev
	rec["message"] = fault.Redact(msg)
	rec["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	rec["platform"] = l.platform
	data, err := json.Marshal(rec)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(append(data, '\n'))
}
