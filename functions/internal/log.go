package internal

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// Severity field names.
const (
	LevelField    = "level"
	SeverityField = "severity"
)

// Format is how a platform reads a JSON log line's level: the field it is
// in, and how WARN is spelled there. The other levels are DEBUG, INFO and
// ERROR everywhere.
type Format struct {
	Field string // LevelField or SeverityField
	Warn  string // the name of slog.LevelWarn
}

// The platforms' formats. AWS Lambda's JSON log format reads "level" and
// its own level names (WARN); Google Cloud Logging reads "severity" and
// its LogSeverity names (WARNING); the Azure Functions host is given
// "level", as Lambda.
var (
	LambdaFormat       = Format{Field: LevelField, Warn: "WARN"}
	CloudLoggingFormat = Format{Field: SeverityField, Warn: "WARNING"}
	AzureFormat        = Format{Field: LevelField, Warn: "WARN"}
)

// NewHandler is the slog.Handler of a function: one JSON object per record
// and line on w, the structured logging every platform reads from stdout.
// Each line has the level in f's field, "message", "time" (UTC, RFC 3339)
// and "platform", then the record's attributes. The message and every
// string attribute (an error's text included) are redacted (fault.Redact);
// an empty string attribute is left out. DEBUG records are written only
// when debug is set (PGMI_LOG_LEVEL=debug).
func NewHandler(w io.Writer, platform string, f Format, debug bool) slog.Handler {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: f.replace})
	return h.WithAttrs([]slog.Attr{slog.String("platform", platform)})
}

// NewLogger is a logger with NewHandler's handler.
func NewLogger(w io.Writer, platform string, f Format, debug bool) *slog.Logger {
	return slog.New(NewHandler(w, platform, f, debug))
}

func (f Format) replace(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 {
		switch a.Key {
		case slog.TimeKey:
			if t, ok := a.Value.Any().(time.Time); ok {
				return slog.String(slog.TimeKey, t.UTC().Format(time.RFC3339Nano))
			}
		case slog.LevelKey:
			if l, ok := a.Value.Any().(slog.Level); ok {
				return slog.String(f.Field, f.levelName(l))
			}
		case slog.MessageKey:
			return slog.String("message", fault.Redact(a.Value.String()))
		}
	}
	return redactAttr(a)
}

// levelName names l in the platform's terms; a level between two is
// named by the one below it.
func (f Format) levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return f.Warn
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}

// redactAttr redacts a string attribute, and an error or a fmt.Stringer,
// which become their redacted text; it drops an empty string.
func redactAttr(a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		if a.Value.String() == "" {
			return slog.Attr{}
		}
		return slog.String(a.Key, fault.Redact(a.Value.String()))
	case slog.KindAny:
		switch v := a.Value.Any().(type) {
		case error:
			return slog.String(a.Key, fault.Redact(v.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, fault.Redact(v.String()))
		}
	}
	return a
}

// LineWriter is an io.Writer for a library that prints plain text (the
// standard log package, an http.Server's ErrorLog): each line written to
// it becomes one record of log, at the level and with the message
// classify gives it, so that nothing plain reaches the platform's log. A
// write is taken as whole lines, as log.Logger writes them.
func LineWriter(log *slog.Logger, classify func(line string) (slog.Level, string)) io.Writer {
	return lineWriter{log, classify}
}

type lineWriter struct {
	log      *slog.Logger
	classify func(string) (slog.Level, string)
}

func (w lineWriter) Write(p []byte) (int, error) {
	for _, text := range strings.Split(string(p), "\n") {
		if text = strings.TrimRight(text, "\r"); strings.TrimSpace(text) == "" {
			continue
		}
		level, msg := w.classify(text)
		w.log.Log(context.Background(), level, msg)
	}
	return len(p), nil
}

// LogOutcome logs the one line an invocation ends with.
func LogOutcome(log *slog.Logger, o *deploy.Outcome) {
	r := o.Report
	attrs := []slog.Attr{
		slog.String("outcome", string(o.Status)),
		slog.Bool("retryable", o.Retryable),
		slog.String("action", string(r.Action)),
		slog.String("invocationId", r.InvocationID),
		slog.String("eventId", r.EventID),
		slog.String("bundle", r.Bundle.URL),
		slog.String("version", r.Bundle.Version),
		slog.String("sha256", r.Bundle.SHA256),
		slog.String("database", r.Target.Database),
		slog.Int64("durationMs", r.DurationMS),
		slog.Int("exitCode", r.ExitCode),
		slog.String("resultUrl", o.ResultURL),
	}
	if o.ResultErr != nil {
		attrs = append(attrs, slog.String("resultError", o.ResultErr.Error()))
	}
	if o.Err != nil {
		attrs = append(attrs, slog.String("error", o.Err.Error()))
	}
	log.LogAttrs(context.Background(), level(o), r.Summary(), attrs...)
}

func level(o *deploy.Outcome) slog.Level {
	switch {
	case o.Status == deploy.StatusFailed && o.Retryable:
		return slog.LevelWarn
	case o.Status == deploy.StatusFailed:
		return slog.LevelError
	case o.ResultErr != nil:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
