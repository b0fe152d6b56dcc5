package connect

import (
	"context"
	"log/slog"
	"sync"
)

// warnLog is a logger that appends the message of every WARN record to
// *warnings and drops the other records.
func warnLog(warnings *[]string) *slog.Logger {
	return slog.New(&warnHandler{warnings: warnings, mu: &sync.Mutex{}})
}

type warnHandler struct {
	mu       *sync.Mutex
	warnings *[]string
}

func (h *warnHandler) Enabled(_ context.Context, l slog.Level) bool { return l == slog.LevelWarn }
func (h *warnHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.warnings = append(*h.warnings, r.Message)
	return nil
}
func (h *warnHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *warnHandler) WithGroup(string) slog.Handler      { return h }
