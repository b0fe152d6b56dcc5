package engine

import (
	"context"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// FormatNotice renders a server notice the way pgmi prints it: the bare
// message (no severity), then DETAIL and HINT lines when present.
// Connections built for the engine route their OnNotice handler here (the
// engine cannot install a handler on a connection it is given).
func FormatNotice(n *pgconn.Notice) string {
	var b strings.Builder
	b.WriteString(n.Message)
	if n.Detail != "" {
		b.WriteString("\nDETAIL: " + n.Detail)
	}
	if n.Hint != "" {
		b.WriteString("\nHINT: " + n.Hint)
	}
	return b.String()
}

// NoticeKey is the group attribute a notice's record carries (LogNotice):
// the server's severity ("severity") and SQLSTATE ("sqlstate"). A handler
// that prints notices bare, as pgmi does, knows them by it.
const NoticeKey = "notice"

// LogNotice logs a server notice to log (nil discards it) as one record:
// FormatNotice's text, at the level its severity says (NoticeLevel), with
// the NoticeKey group. A connection's OnNotice handler calls it.
func LogNotice(log *slog.Logger, n *pgconn.Notice) {
	if log == nil || n == nil {
		return
	}
	sev := n.SeverityUnlocalized // the English name, as lc_messages does not change it
	if sev == "" {
		sev = n.Severity
	}
	log.LogAttrs(context.Background(), NoticeLevel(sev), FormatNotice(n),
		slog.Group(NoticeKey, slog.String("severity", sev), slog.String("sqlstate", n.Code)))
}

// NoticeLevel is the log level of a notice of the given server severity:
// DEBUG1…5 and LOG (sent only with client_min_messages lowered, as
// --verbose does) at DEBUG, WARNING at WARN, the rest (NOTICE, INFO) at
// INFO.
func NoticeLevel(severity string) slog.Level {
	switch {
	case strings.HasPrefix(severity, "DEBUG"), severity == "LOG":
		return slog.LevelDebug
	case severity == "WARNING":
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
