package deploy_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// testLog is a logger that writes every record, DEBUG included, to t.Log.
func testLog(t testing.TB) *slog.Logger {
	w := &tbWriter{t: t}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct {
	mu sync.Mutex
	t  testing.TB
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(strings.TrimRight(string(bytes.TrimSpace(p)), "\n"))
	return len(p), nil
}
