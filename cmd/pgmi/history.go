package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

type historyFlags struct {
	conn   connect.Flags
	limit  int
	json   bool
	ledger string
}

func newHistoryCommand(s streams) *cobra.Command {
	var f historyFlags
	var authValues func() map[string]string
	cmd := &cobra.Command{
		Use:   "history -d <database> [connection flags]",
		Short: "Show what was deployed to a database: its pgmi ledger, newest first",
		Long: "Read the ledger the deployers (the cloud functions, pgmi local) keep in each target database: when,\n" +
			"the bundle URL and version, the release, the SHA-256, the signer, the outcome, the attempts and the\n" +
			"duration of every deploy and reset, newest first. It only reads, and connects as pgmi deploy does.",
		Args: exactArgs(0, "no arguments (name the database with -d)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.conn.Auth = authValues()
			return reportPlain(s, history(cmd.Context(), s, f))
		},
	}
	fl := cmd.Flags()
	fl.Bool("help", false, "help for history")
	authValues = connectionFlags(fl, &f.conn, "the database whose ledger to show (PGDATABASE)")
	fl.IntVar(&f.limit, "limit", 20, "show at most this many rows, 0 = all")
	fl.BoolVar(&f.json, "json", false, "print the rows as JSON on stdout")
	fl.StringVar(&f.ledger, "ledger", "", "the ledger table, schema.table (PGMI_LEDGER_TABLE; default "+deploy.DefaultLedgerTable+")")
	return cmd
}

func history(ctx context.Context, s streams, f historyFlags) error {
	if f.limit < 0 {
		return usageError{errorf("--limit must be 0 (all) or more")}
	}
	name := f.ledger
	if name == "" {
		name = s.getenv("PGMI_LEDGER_TABLE")
	}
	table, err := deploy.ParseLedgerTable(name)
	if err != nil {
		return err
	}
	target, err := connect.ResolveWith(f.conn, s.env, pgmiyaml.Connection{}, nil)
	if err != nil {
		return err
	}
	defer target.Close()
	conn, err := target.Dial(ctx, target.Database())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := deploy.History(ctx, conn, table, f.limit)
	if err != nil {
		return err
	}
	if f.json {
		if rows == nil {
			rows = []deploy.HistoryEntry{}
		}
		data, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return fault.Wrap(fault.Internal, err, "encoding the history")
		}
		fmt.Fprintln(s.out, string(data))
		return nil
	}
	if len(rows) == 0 {
		fmt.Fprintf(s.err, "no deploys recorded in database %q (ledger %s): nothing was deployed there by a pgmi deployer yet\n", target.Database(), table)
		return nil
	}
	printHistory(s, rows)
	return nil
}

// printHistory writes the rows as a table on stdout, a failed row's error
// on the line under it.
func printHistory(s streams, rows []deploy.HistoryEntry) {
	table := [][]string{{"ID", "WHEN (UTC)", "ACTION", "OUTCOME", "ATTEMPTS", "DURATION", "RELEASE", "BUNDLE", "VERSION", "SHA256", "SIGNER"}}
	errs := []string{""}
	for _, h := range rows {
		outcome := h.Status
		if h.Status == "failed" && h.ExitCode != 0 {
			outcome = fmt.Sprintf("failed (%d)", h.ExitCode)
		}
		if h.Retryable {
			outcome += ", retryable"
		}
		duration := "-"
		if h.FinishedAt != nil {
			duration = fmt.Sprintf("%.2fs", float64(h.DurationMS)/1000)
		}
		sha := h.SHA256
		if len(sha) > 12 {
			sha = sha[:12]
		}
		signer := h.Signer // "principals fingerprint"
		if p, fp, ok := strings.Cut(signer, " SHA256:"); ok {
			signer = p + " (SHA256:" + fp + ")"
		}
		table = append(table, []string{fmt.Sprint(h.ID), h.When().Format("2006-01-02 15:04:05"), h.Action, outcome,
			fmt.Sprint(h.Attempts), duration, strings.TrimSpace(h.ReleaseName + " " + h.ReleaseVer), quoteName(h.Bundle),
			quoteName(h.Version), sha, escapeLine(signer)})
		msg := ""
		if h.Error != "" {
			msg = "error: " + escapeLine(fault.Redact(h.Error))
		}
		errs = append(errs, msg)
	}
	printTable(s.out, table, errs...)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
