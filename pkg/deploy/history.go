package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// HistoryEntry is one ledger row as pgmi history shows it: Entry and the
// release and signer the row recorded.
type HistoryEntry struct {
	Entry
	Schedule     string `json:"schedule,omitempty"`
	ReleaseName  string `json:"releaseName,omitempty"`
	ReleaseVer   string `json:"releaseVersion,omitempty"`
	Signer       string `json:"signer,omitempty"`
	Platform     string `json:"platform,omitempty"`
	InvocationID string `json:"invocationId,omitempty"`
	DurationMS   int64  `json:"durationMs,omitempty"` // finished minus started, when finished
}

// ParseLedgerTable reads a ledger name as PGMI_LEDGER_TABLE does; "" is
// DefaultLedgerTable.
func ParseLedgerTable(s string) (Table, error) { return parseTable(s) }

// History reads a database's ledger, newest row first, at most limit rows
// (0: all). It only reads: a database without the ledger has no history
// (nil, nil), whatever the role may create, and a ledger an older deployer
// created reads as it is (what ledgerDDL would add reads as its default).
// A row's Error comes without secrets (fault.Redact), ready to print.
func History(ctx context.Context, conn *pgx.Conn, table Table, limit int) ([]HistoryEntry, error) {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table.String()).Scan(&exists); err != nil {
		return nil, fault.Wrap(fault.Connection, err, "reading the ledger %s", table)
	}
	if !exists {
		return nil, nil
	}
	q := `SELECT ` + entryColumnsAnyVersion + `, schedule, coalesce(manifest_name, ''), coalesce(manifest_ver, ''), coalesce(signer, ''),
		coalesce(platform, ''), coalesce(invocation_id, '') FROM ` + table.String() + ` AS ledger ORDER BY id DESC`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "reading the ledger %s", table)
	}
	defer rows.Close()
	var out []HistoryEntry
	for rows.Next() {
		var h HistoryEntry
		e := &h.Entry
		s := &entryScan{e: e}
		if err := rows.Scan(append(s.dest(), &h.Schedule, &h.ReleaseName, &h.ReleaseVer, &h.Signer, &h.Platform, &h.InvocationID)...); err != nil {
			return nil, fault.Wrap(fault.Internal, err, "reading the ledger %s", table)
		}
		s.done()
		e.Error = fault.Redact(e.Error)
		if e.FinishedAt != nil {
			h.DurationMS = e.FinishedAt.Sub(e.StartedAt).Milliseconds()
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fault.Wrap(fault.Internal, err, "reading the ledger %s", table)
	}
	return out, nil
}

// When is the time a row stands for: when it finished, else when it started.
func (h HistoryEntry) When() time.Time {
	if h.FinishedAt != nil {
		return *h.FinishedAt
	}
	return h.StartedAt
}
