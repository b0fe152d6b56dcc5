package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	pathpkg "path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgmi-cloud/pgmi/pkg/bundle"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// offlineFlags are the source flags of the offline commands (metadata plan
// and validate, info): the same bundle flags as pgmi deploy.
type offlineFlags struct {
	json           bool
	trustedSigners string
	allowUnsigned  bool
	bundleVersion  string
}

func (f *offlineFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print the result as JSON on stdout")
	fl.StringVar(&f.trustedSigners, "trusted-signers", "", "allowed_signers file: a bundle must be signed by one of these keys")
	fl.BoolVar(&f.allowUnsigned, "allow-unsigned", false, "read a bundle without checking its signature (bundles you built yourself)")
	fl.StringVar(&f.bundleVersion, "bundle-version", "", "object version of a bundle URL (S3 versionId, GCS generation, Azure version or ETag)")
}

// openOffline opens a project directory, bundle file or bundle URL exactly
// as pgmi deploy does (source.go), and scans it with the engine.
func openOffline(ctx context.Context, s streams, arg string, f offlineFlags, inspect bool) (*source, *engine.Project, error) {
	d := &deployRun{s: s, f: deployFlags{trustedSigners: f.trustedSigners, allowUnsigned: f.allowUnsigned, bundleVersion: f.bundleVersion},
		out: newOutput(s, f.json, false, time.Now())}
	src, err := d.openSource(ctx, arg)
	if err != nil {
		return nil, nil, err
	}
	limits, err := bundle.LimitsFromEnv(s.env)
	if err != nil {
		src.Close()
		return nil, nil, err
	}
	p, err := engine.Scan(src, engine.ScanOptions{MaxFileSize: limits.MaxFileSize, Inspect: inspect})
	if err != nil {
		src.Close()
		return nil, nil, err
	}
	return src, p, nil
}

func projectArg(args []string) string {
	if len(args) == 0 {
		return "."
	}
	return args[0]
}

func maxArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError{errorf("expected at most %s (got %d arguments)", what, len(args))}
		}
		return nil
	}
}

// writePgmiJSON writes a document pgmi also writes, byte for byte as pgmi
// does (encoding/json's MarshalIndent, which escapes <, > and &).
func writePgmiJSON(w io.Writer, v any) {
	data, _ := json.MarshalIndent(v, "", "  ")
	fmt.Fprintln(w, string(data))
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // paths and messages hold < > & verbatim
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func newMetadataCommand(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "metadata",
		Short: "Inspect, check and add <pgmi-meta> blocks offline",
		Long: "Work with the <pgmi-meta> blocks of a project's SQL files without a database, using the\n" +
			"same discovery and metadata parser as pgmi deploy.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newMetadataPlanCommand(s), newMetadataValidateCommand(s), newMetadataScaffoldCommand(s))
	return cmd
}

// pgmiPlanJSON is pgmi metadata plan --json, as pgmi writes it: every
// scanned file in scan order, a file without metadata under its fallback
// identity (engine.FallbackID), its base name as sort key.
type pgmiPlanJSON struct {
	Plan       []pgmiPlanEntry `json:"plan"`
	TotalFiles int             `json:"total_files"`
}

type pgmiPlanEntry struct {
	Path        string   `json:"path"`
	ID          string   `json:"id"`
	Idempotent  bool     `json:"idempotent"`
	SortKeys    []string `json:"sort_keys"`
	Description string   `json:"description"`
}

// fallbackDescription is what pgmi's plan says of a file without metadata.
const fallbackDescription = "No metadata (fallback)"

// executionJSON is metadata plan --execution-order --json (ours): the rows
// of pgmi_plan_view.
type executionJSON struct {
	TotalFiles int                  `json:"total_files"`
	Plan       []executionJSONEntry `json:"plan"`
}

type executionJSONEntry struct {
	ExecutionOrder int      `json:"execution_order"`
	Path           string   `json:"path"`
	ID             *string  `json:"id"`
	Idempotent     bool     `json:"idempotent"`
	SortKey        string   `json:"sort_key"`
	SortKeys       []string `json:"sort_keys"`
	Description    string   `json:"description"`
}

func newMetadataPlanCommand(s streams) *cobra.Command {
	var f offlineFlags
	var execution bool
	cmd := &cobra.Command{
		Use:   "plan [project_path]",
		Short: "Show the files of a project with their <pgmi-meta> metadata, or the execution plan, offline",
		Long: "Without a database, list every file the session will load, in scan order, with its\n" +
			"<pgmi-meta> id, idempotent flag, sort keys and description, as pgmi's metadata plan does (a file\n" +
			"without a block shows pgmi's fallback: a stable id derived from its path, idempotent, its name as\n" +
			"sort key). --json prints pgmi's document: {\"plan\": [{\"path\", \"id\", \"idempotent\",\n" +
			"\"sort_keys\", \"description\"}], \"total_files\": N}.\n\n" +
			"--execution-order (ours) shows instead the rows pg_temp.pgmi_plan_view will hold, in its\n" +
			"execution_order: every non-test file once per sort key (a file without sort keys under its own\n" +
			"path), by sort key then path, byte by byte (COLLATE \"C\"); with --json {\"total_files\", \"plan\":\n" +
			"[{\"execution_order\", \"path\", \"id\" (null without metadata), \"idempotent\", \"sort_key\",\n" +
			"\"sort_keys\", \"description\"}]}.\n\n" +
			"The argument is a project directory (default .), a bundle file (.tar.gz, .tgz, .zip) or a\n" +
			"bundle URL (s3://, gs://, azblob://, file://), opened as pgmi deploy opens it. Invalid metadata\n" +
			"or duplicate ids fail with exit 10, as pgmi deploy does.",
		Args: maxArgs(1, "[project_path]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if execution {
				return reportPlain(s, metadataExecutionPlan(cmd.Context(), s, projectArg(args), f))
			}
			return reportPlain(s, metadataPlan(cmd.Context(), s, projectArg(args), f))
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&execution, "execution-order", false, "show the execution plan (pgmi_plan_view's rows and order) instead")
	return cmd
}

// metadataPlan is pgmi's metadata plan: the scanned files with their
// metadata, in scan order.
func metadataPlan(ctx context.Context, s streams, arg string, f offlineFlags) error {
	src, p, err := openOffline(ctx, s, arg, f, false)
	if err != nil {
		return err
	}
	defer src.Close()
	meta := map[string]*engine.Metadata{}
	for _, sf := range p.Sources {
		meta[sf.Path] = sf.Meta
	}
	out := pgmiPlanJSON{Plan: make([]pgmiPlanEntry, 0, len(p.Paths)), TotalFiles: len(p.Paths)}
	for _, path := range p.Paths {
		e := pgmiPlanEntry{Path: path, ID: engine.FallbackID(path), Idempotent: true,
			SortKeys: []string{pathpkg.Base(path)}, Description: fallbackDescription}
		if m := meta[path]; m != nil {
			e = pgmiPlanEntry{Path: path, ID: m.ID, Idempotent: m.Idempotent, SortKeys: m.SortKeys, Description: m.Description}
		}
		out.Plan = append(out.Plan, e)
	}
	if f.json {
		writePgmiJSON(s.out, out)
		return nil
	}
	fmt.Fprintf(s.out, "Metadata of %d files (scan order; the execution order: --execution-order)\n", out.TotalFiles)
	width := len(fmt.Sprint(len(out.Plan)))
	for i, e := range out.Plan {
		fmt.Fprintf(s.out, "%*d. %s\n", width, i+1, quoteName(e.Path))
		fmt.Fprintf(s.out, "%*s   id %s, idempotent %t, sort keys %s\n", width, "", e.ID, e.Idempotent, quoteKeys(e.SortKeys))
		if e.Description != "" {
			fmt.Fprintf(s.out, "%*s   %s\n", width, "", escapeLine(e.Description))
		}
	}
	return nil
}

func quoteKeys(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = strconv.Quote(k)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// metadataExecutionPlan is --execution-order: pgmi_plan_view's rows.
func metadataExecutionPlan(ctx context.Context, s streams, arg string, f offlineFlags) error {
	src, p, err := openOffline(ctx, s, arg, f, false)
	if err != nil {
		return err
	}
	defer src.Close()
	plan := p.Plan()
	if f.json {
		out := executionJSON{TotalFiles: len(p.Sources), Plan: make([]executionJSONEntry, 0, len(plan))}
		for _, e := range plan {
			j := executionJSONEntry{ExecutionOrder: e.ExecutionOrder, Path: e.Path, Idempotent: e.Idempotent,
				SortKey: e.SortKey, SortKeys: e.SortKeys, Description: e.Description}
			if e.HasMetadata {
				id := e.ID
				j.ID = &id
			}
			out.Plan = append(out.Plan, j)
		}
		writeJSON(s.out, out)
		return nil
	}
	fmt.Fprintf(s.out, "Execution plan: %d entries from %d files\n", len(plan), len(p.Sources))
	width := len(fmt.Sprint(len(plan)))
	for _, e := range plan {
		line := fmt.Sprintf("%*d. %s", width, e.ExecutionOrder, quoteName(e.Path))
		if e.SortKey != e.Path {
			line += fmt.Sprintf("  [key %q]", e.SortKey)
		}
		switch {
		case !e.HasMetadata:
			line += "  (no metadata)"
		case e.Idempotent:
			line += "  (idempotent)"
		}
		if e.Description != "" {
			line += "  - " + escapeLine(e.Description)
		}
		fmt.Fprintln(s.out, line)
	}
	return nil
}

// validateJSON is pgmi metadata validate --json, as pgmi writes it (keys in
// its order): every scanned file counts, and each file repeating an id is
// reported with the first file that used it.
type validateJSON struct {
	DuplicateIDs         []string `json:"duplicate_ids"`
	FilesWithMetadata    int      `json:"files_with_metadata"`
	FilesWithoutMetadata int      `json:"files_without_metadata"`
	TotalFiles           int      `json:"total_files"`
	ValidationPassed     bool     `json:"validation_passed"`
}

func newMetadataValidateCommand(s streams) *cobra.Command {
	var f offlineFlags
	cmd := &cobra.Command{
		Use:   "validate [project_path]",
		Short: "Check every <pgmi-meta> block of a project, offline",
		Long: "Check the <pgmi-meta> blocks of every non-test SQL file and the uniqueness of their ids. The\n" +
			"human output reports every problem (pgmi deploy stops at the first). Exit 0 when all is valid,\n" +
			"10 when not. The argument is a project directory (default .), a bundle file or a bundle URL.\n\n" +
			"--json prints pgmi's document: {\"duplicate_ids\": [\"  Duplicate ID <id>:\\n    - <first path>\\n\n" +
			"    - <path>\"] or null, \"files_with_metadata\", \"files_without_metadata\", \"total_files\" (every\n" +
			"scanned file), \"validation_passed\"}; a block that cannot be parsed fails before it, with exit 10\n" +
			"and the parser's message, as in pgmi.",
		Args: maxArgs(1, "[project_path]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return reportPlain(s, metadataValidate(cmd.Context(), s, projectArg(args), f))
		},
	}
	f.add(cmd)
	return cmd
}

func metadataValidate(ctx context.Context, s streams, arg string, f offlineFlags) error {
	src, p, err := openOffline(ctx, s, arg, f, true)
	if err != nil {
		return err
	}
	defer src.Close()
	if p.DeploySQLMissing {
		return fault.Errorf(fault.DeploySQLMissing, "deploy.sql not found in the project root: every pgmi project needs one (pgmi init creates a project)")
	}
	if f.json && len(p.Problems) > 0 {
		return p.Problems[0].Err // pgmi's scan stops at the first invalid block
	}
	r := validateJSON{TotalFiles: len(p.Paths)}
	first := map[string]string{}
	for _, sf := range p.Sources {
		if sf.Meta == nil {
			continue
		}
		r.FilesWithMetadata++
		if prev, dup := first[sf.Meta.ID]; dup {
			r.DuplicateIDs = append(r.DuplicateIDs, fmt.Sprintf("  Duplicate ID %s:\n    - %s\n    - %s", sf.Meta.ID, prev, sf.Path))
		} else {
			first[sf.Meta.ID] = sf.Path
		}
	}
	r.FilesWithoutMetadata = r.TotalFiles - r.FilesWithMetadata
	r.ValidationPassed = len(r.DuplicateIDs) == 0 && len(p.Problems) == 0
	if f.json {
		writePgmiJSON(s.out, r)
	} else {
		fmt.Fprintf(s.out, "%d files: %d with metadata, %d without, %d with invalid metadata\n",
			r.TotalFiles, r.FilesWithMetadata, r.FilesWithoutMetadata-len(p.Problems), len(p.Problems))
		for _, pr := range p.Problems {
			fmt.Fprintf(s.out, "ERROR %s: %s\n", quoteName(pr.Path), pr.Err.Error())
		}
		for _, d := range p.DuplicateIDs() {
			for _, path := range d.Paths {
				fmt.Fprintf(s.out, "ERROR %s: id %s is also used by %s\n", quoteName(path), d.ID, strings.Join(others(d.Paths, path), ", "))
			}
		}
		if r.ValidationPassed {
			fmt.Fprintln(s.out, "Metadata is valid")
		}
	}
	if r.ValidationPassed {
		return nil
	}
	return fault.Errorf(fault.Config, "metadata validation failed: %d invalid block(s), %d duplicate id(s)", len(p.Problems), len(r.DuplicateIDs))
}

func others(paths []string, self string) []string {
	var out []string
	for _, p := range paths {
		if p != self {
			out = append(out, p)
		}
	}
	return out
}

func newMetadataScaffoldCommand(s streams) *cobra.Command {
	var write, idempotent bool
	cmd := &cobra.Command{
		Use:   "scaffold [project_dir]",
		Short: "Print (or --write) a <pgmi-meta> block for each SQL file that has none",
		Long: "For every non-test SQL file of the project directory (default .) that carries no <pgmi-meta>\n" +
			"block, print a block with the id pgmi gives such a file (stable, derived from its path; the one\n" +
			"metadata plan shows) and the file's path as its sort key (so the plan order does not change).\n" +
			"--write inserts the block at the top of each such file instead; files that already have a\n" +
			"block (valid or not), test files and non-SQL files are never touched, so running it again\n" +
			"changes nothing. Blocks say idempotent=\"true\" unless --idempotent=false, as in pgmi.",
		Args: maxArgs(1, "[project_dir]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return reportPlain(s, metadataScaffold(s, projectArg(args), write, idempotent))
		},
	}
	cmd.Flags().BoolVar(&write, "write", false, "insert the blocks into the files")
	cmd.Flags().BoolVar(&idempotent, "idempotent", true, "mark the scaffolded files idempotent (--idempotent=false for one-time scripts)")
	return cmd
}

func metadataScaffold(s streams, dir string, write, idempotent bool) error {
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return fault.Errorf(fault.Config, "project path %q is not a directory (scaffold edits files in place)", dir)
	}
	abs, _ := filepath.Abs(dir)
	limits, err := bundle.LimitsFromEnv(s.env)
	if err != nil {
		return err
	}
	p, err := engine.Scan(os.DirFS(abs), engine.ScanOptions{MaxFileSize: limits.MaxFileSize, Inspect: true})
	if err != nil {
		return err
	}
	invalid := map[string]bool{}
	for _, pr := range p.Problems {
		invalid[pr.Path] = true
	}
	n := 0
	for _, sf := range p.Sources {
		if !engine.IsSQLExtension(sf.Path) || sf.Meta != nil || invalid[sf.Path] {
			continue
		}
		if strings.Contains(sf.Path, "*/") {
			fmt.Fprintf(s.err, "warning: skipping %s: its path cannot be written inside a block comment\n", quoteName(sf.Path))
			continue
		}
		block, err := scaffoldBlock(sf.Path, idempotent)
		if err != nil {
			return err
		}
		n++
		if !write {
			fmt.Fprintf(s.out, "-- %s\n%s\n", quoteName(sf.Path), block)
			continue
		}
		if err := insertBlock(filepath.Join(abs, filepath.FromSlash(strings.TrimPrefix(sf.Path, "./"))), block); err != nil {
			return err
		}
		fmt.Fprintf(s.out, "added metadata to %s\n", quoteName(sf.Path))
	}
	if n == 0 {
		fmt.Fprintln(s.out, "every SQL file already has a <pgmi-meta> block")
	}
	return nil
}

func scaffoldBlock(path string, idempotent bool) (string, error) {
	var key bytes.Buffer
	_ = xml.EscapeText(&key, []byte(path))
	return fmt.Sprintf("/*\n<pgmi-meta id=%q idempotent=\"%t\">\n  <sortKeys>\n    <key>%s</key>\n  </sortKeys>\n</pgmi-meta>\n*/\n",
		engine.FallbackID(path), idempotent, key.String()), nil
}

// insertBlock puts the block at the top of the file, after a BOM.
func insertBlock(name, block string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return fault.Wrap(fault.Config, err, "cannot read %s", name)
	}
	bom := []byte{0xEF, 0xBB, 0xBF}
	var out []byte
	if bytes.HasPrefix(data, bom) {
		out = append(out, bom...)
		data = data[len(bom):]
	}
	out = append(append(out, block...), data...)
	info, err := os.Stat(name)
	if err != nil {
		return fault.Wrap(fault.Config, err, "cannot stat %s", name)
	}
	if err := os.WriteFile(name, out, info.Mode().Perm()); err != nil {
		return fault.Wrap(fault.Config, err, "cannot write %s", name)
	}
	return nil
}
