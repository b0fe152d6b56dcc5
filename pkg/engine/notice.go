package engine

import (
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
