package deploy

import (
	"context"
	"log/slog"
)

// progressLog is the logger the pipeline, the engine and the lifecycle log
// through: log's handler with every record below WARN lowered to DEBUG. To
// a deployer, one deployment's progress is detail; its warnings are not.
// A nil log discards everything.
func progressLog(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(detail{log.Handler()})
}

// detail lowers the records below WARN to DEBUG.
type detail struct{ h slog.Handler }

func lowered(l slog.Level) slog.Level {
	if l < slog.LevelWarn {
		return slog.LevelDebug
	}
	return l
}

func (d detail) Enabled(ctx context.Context, l slog.Level) bool {
	return d.h.Enabled(ctx, lowered(l))
}

func (d detail) Handle(ctx context.Context, r slog.Record) error {
	r.Level = lowered(r.Level)
	return d.h.Handle(ctx, r)
}

func (d detail) WithAttrs(as []slog.Attr) slog.Handler { return detail{d.h.WithAttrs(as)} }
func (d detail) WithGroup(name string) slog.Handler    { return detail{d.h.WithGroup(name)} }
