package deploy

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// The pipeline's log lowers everything below WARN to DEBUG and keeps the
// rest, attributes and groups included; nil discards.
func TestProgressLogLowersDetail(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	log := progressLog(base).With("k", "v").WithGroup("g")
	log.Info("hidden at INFO")
	log.Warn("kept", "a", 1)
	log.Error("failed")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "level=WARN msg=kept k=v g.a=1") || !strings.Contains(out, "level=ERROR msg=failed") {
		t.Fatalf("log:\n%s", out)
	}
	buf.Reset()
	debug := progressLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	debug.Info("progress")
	if !strings.Contains(buf.String(), "level=DEBUG msg=progress") {
		t.Fatalf("log:\n%s", buf.String())
	}
	if progressLog(nil).Enabled(context.Background(), slog.LevelError) {
		t.Error("a nil log is not discarded")
	}
}
