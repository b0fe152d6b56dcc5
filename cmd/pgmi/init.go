package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgmi-cloud/pgmi/internal/templates"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// templateFS holds the project templates, one directory per template
// (internal/templates, which the function suites deploy too).
var templateFS = templates.FS

// projectTemplate is one template pgmi init can write.
type projectTemplate struct {
	name, short, long string
}

// projectTemplates lists the templates in the order they are offered; the
// first is the default.
var projectTemplates = []projectTemplate{
	{
		name:  "basic",
		short: "numbered migrations applied once each, with tests, in one transaction",
		long: `A small project for getting started. deploy.sql reads the files of migrations/ from
the session (pgmi_source_view), applies the new ones in name order and records each in
public.schema_migration, so a redeployment applies only what is new (and refuses an
applied migration that was edited). Then CALL pgmi_test() runs the fixtures and tests
of __test__/, and only then does the deployment commit: a failing migration or test
leaves the database as it was. pgmi.yaml holds a parameter (environment), no secrets.`,
	},
	{
		name:  "advanced",
		short: "a <pgmi-meta> plan over schemas/, changes/, functions/ and data/, gated by tests",
		long: `A layout for larger projects. Every SQL file carries a <pgmi-meta> block with a
stable id, an idempotent flag and sort keys; deploy.sql walks pgmi_plan_view in sort-key
order, runs idempotent files (CREATE ... IF NOT EXISTS, CREATE OR REPLACE FUNCTION,
upserts) on every deployment and one-time changes once per database, tracked by id
in deploy_log.script_run. The tests of __test__/ (nested fixtures included) run inside
the same transaction before its COMMIT, so a failing test rolls the whole deployment
back. After the COMMIT, a psql-style tail builds an index CONCURRENTLY and refreshes
statistics, one autocommitted statement at a time. Parameters from pgmi.yaml
(environment, demo_data) are read with current_setting('pgmi.<name>', true).`,
	},
}

func templateNames() []string {
	names := make([]string, len(projectTemplates))
	for i, t := range projectTemplates {
		names[i] = t.name
	}
	return names
}

func findTemplate(name string) (projectTemplate, bool) {
	for _, t := range projectTemplates {
		if t.name == name {
			return t, true
		}
	}
	return projectTemplate{}, false
}

// unknownTemplate is a usage error: the name is an argument of the command
// line, and the message lists the names that exist.
func unknownTemplate(name string) error {
	return usageError{errorf("unknown template %q; available templates: %s (see 'pgmi templates list')",
		name, strings.Join(templateNames(), ", "))}
}

// files lists the template's files, slash-separated, relative to the project
// root, in lexical order.
func (t projectTemplate) files() []string {
	root := t.name
	var out []string
	_ = fs.WalkDir(templateFS, root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, strings.TrimPrefix(p, root+"/"))
		}
		return err
	})
	return out
}

// completeTemplateNames completes template names for -t and describe.
func completeTemplateNames(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, t := range projectTemplates {
		if strings.HasPrefix(t.name, toComplete) {
			out = append(out, t.name+"\t"+t.short)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// keptOnInit are the entries pgmi init accepts in the target directory: they
// are left as they are, never overwritten.
var keptOnInit = map[string]bool{"pgmi.yaml": true, ".env": true}

func newInitCommand(s streams) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "init [dir]",
		Short: "Create a new pgmi project from a template",
		Long: `Create a new pgmi project in dir (default: the current directory; created when missing).

The directory must be empty, except for a pgmi.yaml or .env already there, which are
kept as they are. Without --template, pgmi asks which template to use when run at a
terminal, and uses basic otherwise. 'pgmi templates list' shows the templates.`,
		Example: "  pgmi init myproject\n  pgmi init myproject -t advanced\n  pgmi deploy myproject -d mydb",
		Args:    cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveFilterDirs
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return runInit(cmd.Context(), s, dir, tmpl, cmd.Flags().Changed("template"))
		},
	}
	cmd.Flags().StringVarP(&tmpl, "template", "t", "", "template to use: "+strings.Join(templateNames(), ", ")+" (default basic)")
	_ = cmd.RegisterFlagCompletionFunc("template", completeTemplateNames)
	return cmd
}

func runInit(ctx context.Context, s streams, dir, name string, given bool) error {
	var t projectTemplate
	if given {
		var ok bool
		if t, ok = findTemplate(name); !ok {
			return unknownTemplate(name)
		}
	}
	// Check the directory before asking anything: a refusal should not come
	// after the user has answered a question.
	existing, err := checkInitDir(dir)
	if err != nil {
		return err
	}
	if !given {
		if t, err = chooseTemplate(ctx, s); err != nil {
			return err
		}
	}
	written, kept, err := writeTemplate(t, dir, existing)
	if err != nil {
		return err
	}
	printInitSummary(s, t, dir, written, kept)
	return nil
}

// checkInitDir returns the entries of dir that init keeps (creating dir when
// missing), or a configuration error naming what is in the way.
func checkInitDir(dir string) (map[string]bool, error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fault.Wrap(fault.Config, withoutPath(err), "cannot create %s", dir)
		}
		return map[string]bool{}, nil
	case err != nil:
		return nil, fault.Wrap(fault.Config, withoutPath(err), "cannot use %s", dir)
	case !st.IsDir():
		return nil, fault.Errorf(fault.Config, "%s exists and is not a directory; pass a new or empty directory to pgmi init", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fault.Wrap(fault.Config, withoutPath(err), "cannot read %s", dir)
	}
	kept := map[string]bool{}
	var inTheWay []string
	for _, e := range entries {
		if keptOnInit[e.Name()] && e.Type().IsRegular() {
			kept[e.Name()] = true
			continue
		}
		name := e.Name()
		if e.IsDir() {
			name += "/"
		}
		inTheWay = append(inTheWay, name)
	}
	if len(inTheWay) > 0 {
		shown := inTheWay
		more := ""
		if len(shown) > 10 {
			more = fmt.Sprintf(" and %d more", len(shown)-10)
			shown = shown[:10]
		}
		return nil, fault.Errorf(fault.Config, "%s is not empty (%s%s): pgmi init only writes into a new or empty directory "+
			"(a pgmi.yaml or .env there is kept); choose another directory or move those entries away",
			dir, strings.Join(shown, ", "), more)
	}
	return kept, nil
}

// chooseTemplate asks at a terminal and falls back to the default elsewhere.
func chooseTemplate(ctx context.Context, s streams) (projectTemplate, error) {
	def := projectTemplates[0]
	if !s.interactive {
		fmt.Fprintf(s.err, "No --template given; using %q (pass -t %s for the other layout).\n", def.name,
			strings.Join(templateNames()[1:], " or -t "))
		return def, nil
	}
	fmt.Fprintln(s.err, "Which template should the project start from?")
	width := 0
	for _, t := range projectTemplates {
		width = max(width, len(t.name))
	}
	for i, t := range projectTemplates {
		fmt.Fprintf(s.err, "  %d) %-*s  %s\n", i+1, width, t.name, t.short)
	}
	in := bufio.NewReader(s.in)
	for range 3 {
		fmt.Fprintf(s.err, "Template [%s]: ", def.name)
		line, err := readLine(ctx, in)
		if ctx.Err() != nil {
			fmt.Fprintln(s.err)
			return projectTemplate{}, ctx.Err()
		}
		answer := strings.TrimSpace(line)
		if answer == "" && err != nil {
			fmt.Fprintln(s.err)
			return projectTemplate{}, fault.Errorf(fault.Approval, "no template chosen (input ended); pass --template %s", strings.Join(templateNames(), "|"))
		}
		if answer == "" {
			return def, nil
		}
		if n, convErr := strconv.Atoi(answer); convErr == nil && n >= 1 && n <= len(projectTemplates) {
			return projectTemplates[n-1], nil
		}
		if t, ok := findTemplate(strings.ToLower(answer)); ok {
			return t, nil
		}
		fmt.Fprintf(s.err, "%q is not a template: answer %s, or a number from the list.\n", answer, strings.Join(templateNames(), " or "))
		if err == io.EOF {
			break
		}
	}
	return projectTemplate{}, usageError{errorf("no valid template chosen; pass --template %s", strings.Join(templateNames(), "|"))}
}

// writeTemplate copies the template into dir, never overwriting a file: the
// entries in kept are left alone, anything else that appeared meanwhile is
// an error.
func writeTemplate(t projectTemplate, dir string, kept map[string]bool) (written, skipped []string, err error) {
	for _, rel := range t.files() {
		if kept[rel] {
			skipped = append(skipped, rel)
			continue
		}
		data, err := templateFS.ReadFile(t.name + "/" + rel)
		if err != nil {
			return written, skipped, err
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return written, skipped, fault.Wrap(fault.Config, withoutPath(err), "cannot create %s", filepath.Dir(dst))
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return written, skipped, fault.Wrap(fault.Config, withoutPath(err), "cannot write %s", dst)
		}
		_, werr := f.Write(data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return written, skipped, fault.Wrap(fault.Config, withoutPath(werr), "cannot write %s", dst)
		}
		written = append(written, rel)
	}
	return written, skipped, nil
}

func printInitSummary(s streams, t projectTemplate, dir string, written, kept []string) {
	fmt.Fprintf(s.out, "Created a %s pgmi project in %s:\n", t.name, dir)
	for _, f := range written {
		fmt.Fprintf(s.out, "  %s\n", f)
	}
	for _, f := range kept {
		fmt.Fprintf(s.out, "Kept the existing %s.\n", f)
	}
	target := dir
	if strings.ContainsAny(target, " \t'\"$`\\") {
		target = "'" + strings.ReplaceAll(target, "'", `'\''`) + "'"
	}
	fmt.Fprintln(s.out, "\nNext steps:")
	fmt.Fprintln(s.out, "  1. Tell pgmi where the server is: PGMI_CONNECTION_STRING (or PGHOST, PGUSER, ...) in the")
	fmt.Fprintln(s.out, "     environment or in "+path.Join(filepath.ToSlash(dir), ".env")+" (keep secrets out of pgmi.yaml).")
	fmt.Fprintf(s.out, "  2. pgmi deploy %s -d <database>\n", target)
	switch t.name {
	case "basic":
		fmt.Fprintln(s.out, "  3. Add changes as new numbered files in migrations/ and tests in __test__/.")
	case "advanced":
		fmt.Fprintln(s.out, "  3. Give every new SQL file a <pgmi-meta> block with a fresh id (pgmi metadata scaffold),")
		fmt.Fprintln(s.out, "     and add tests in __test__/: a failing test rolls the deployment back.")
	}
}

func newTemplatesCommand(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "templates",
		Short: "List and describe the templates of pgmi init",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the templates",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			width := 0
			for _, t := range projectTemplates {
				width = max(width, len(t.name))
			}
			for _, t := range projectTemplates {
				fmt.Fprintf(s.out, "%-*s  %s\n", width, t.name, t.short)
			}
			return nil
		},
	}
	describe := &cobra.Command{
		Use:               "describe <name>",
		Short:             "Describe a template and the files it creates",
		ValidArgsFunction: completeTemplateNames,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errorf("templates describe takes one template name (%s)", strings.Join(templateNames(), ", "))}
			}
			t, ok := findTemplate(args[0])
			if !ok {
				return unknownTemplate(args[0])
			}
			fmt.Fprintf(s.out, "%s: %s\n\n%s\n\nFiles:\n", t.name, t.short, t.long)
			files := t.files()
			sort.Strings(files)
			for _, f := range files {
				fmt.Fprintf(s.out, "  %s\n", f)
			}
			fmt.Fprintf(s.out, "\nCreate a project with it: pgmi init <dir> -t %s\n", t.name)
			return nil
		},
	}
	cmd.AddCommand(list, describe)
	return cmd
}
