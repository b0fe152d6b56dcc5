// Package exitcode is pgmi's exit-code table: the one mapping from failure
// kinds (pkg/fault) to the codes the CLI exits with. The same codes appear,
// for compatibility with pgmi, wherever a JSON document carries an
// "exitCode" (the CLI's --json envelope, the functions' result objects and
// the ledger), so those are computed here too; no other package holds an
// exit code.
package exitcode

import "github.com/pgmi-cloud/pgmi/pkg/fault"

var codes = map[fault.Kind]int{
	fault.Internal:         1,
	fault.Usage:            2,
	fault.Config:           10,
	fault.Connection:       11,
	fault.Approval:         12,
	fault.Execution:        13,
	fault.DeploySQLMissing: 14,
	fault.Concurrent:       15,
	fault.Timeout:          16,
	fault.Canceled:         130,
	fault.Unreported:       17,
}

// For is the exit code of a kind; a kind the table does not know is
// Internal's.
func For(k fault.Kind) int {
	if c, ok := codes[k]; ok {
		return c
	}
	return codes[fault.Internal]
}

// Of is the exit code for err: 0 for nil, else For(fault.KindOf(err)).
func Of(err error) int {
	if err == nil {
		return 0
	}
	return For(fault.KindOf(err))
}
