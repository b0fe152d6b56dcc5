package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// infoJSON is pgmi info --json.
// pgmiInfoJSON is pgmi info --json, with pgmi's fields; bundle is ours,
// present only for a bundle.
type pgmiInfoJSON struct {
	Path         string          `json:"path"`
	Template     string          `json:"template"`
	DeploySQL    bool            `json:"deploySql"`
	ConfigFile   string          `json:"configFile"`
	TotalFiles   int             `json:"totalFiles"`
	SQLFiles     int             `json:"sqlFiles"`
	TestFiles    int             `json:"testFiles"`
	MetadataWith int             `json:"metadataWith"`
	Directories  map[string]int  `json:"directories"`
	Bundle       *bundleInfoJSON `json:"bundle,omitempty"`
}

// infoJSON is what the human output of pgmi info shows.
type infoJSON struct {
	ProjectPath              string            `json:"project_path"`
	SourceType               string            `json:"source_type"` // directory or bundle
	DeploySQLExists          bool              `json:"deploy_sql_exists"`
	APIVersion               string            `json:"api_version"`
	TotalFiles               int               `json:"total_files"`
	SourceFiles              int               `json:"source_files"`
	SQLFiles                 int               `json:"sql_files"`
	TestFiles                int               `json:"test_files"`
	TestDirectories          int               `json:"test_directories"`
	FilesWithMetadata        int               `json:"files_with_metadata"`
	FilesWithInvalidMetadata int               `json:"files_with_invalid_metadata"`
	DuplicateIDs             int               `json:"duplicate_ids"`
	PlanEntries              int               `json:"plan_entries"`
	PgmiYAML                 bool              `json:"pgmi_yaml_exists"`
	Parameters               map[string]string `json:"parameters"`
	Timeout                  string            `json:"timeout,omitempty"`
	Connection               map[string]any    `json:"connection"`
	Bundle                   *bundleInfoJSON   `json:"bundle,omitempty"`
}

type bundleInfoJSON struct {
	Name          string `json:"name,omitempty"`
	Version       string `json:"version,omitempty"`
	Commit        string `json:"commit,omitempty"`
	Dirty         bool   `json:"dirty,omitempty"`
	Created       string `json:"created,omitempty"`
	Files         int    `json:"files"`
	Signed        bool   `json:"signed"` // the signature was checked against --trusted-signers
	Signer        string `json:"signer,omitempty"`
	Fingerprint   string `json:"fingerprint,omitempty"`
	SignatureNote string `json:"signature_status"`
}

const infoLong = `Describe a project offline: what pgmi deploy would load, its <pgmi-meta> metadata, the
parameters and connection settings of its pgmi.yaml, and the session API version. The argument is a
project directory (default .), a bundle file (.tar.gz, .tgz, .zip) or a bundle URL, opened as pgmi
deploy opens it (--trusted-signers or --allow-unsigned for bundles).

--json prints pgmi's object:
  path          the directory (absolute), or the bundle argument
  template      "advanced" (a lib/api folder, as pgmi's advanced template has, or <pgmi-meta> blocks
                as ours has), "basic" (a deploy.sql), else "unknown"
  deploySql     whether the root holds deploy.sql
  configFile    pgmi.yaml: "ok", "absent" or "error: <why>"
  totalFiles    files scanned (pgmi deploy's filesLoaded)
  sqlFiles      of those, files with a SQL extension
  testFiles     of those, files under __test__/__tests__
  metadataWith  files with a valid <pgmi-meta> block
  directories   files per directory ("./", "./migrations/", …)
and, for a bundle only (ours), bundle: name, version, commit, dirty, created, files, signed,
signer, fingerprint, signature_status.`

func newInfoCommand(s streams) *cobra.Command {
	var f offlineFlags
	cmd := &cobra.Command{
		Use:   "info [project_path]",
		Short: "Describe a project or bundle offline",
		Long:  infoLong,
		Args:  maxArgs(1, "[project_path]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return reportPlain(s, projectInfo(cmd.Context(), s, projectArg(args), f))
		},
	}
	f.add(cmd)
	return cmd
}

func projectInfo(ctx context.Context, s streams, arg string, f offlineFlags) error {
	src, p, err := openOffline(ctx, s, arg, f, true)
	if err != nil {
		return err
	}
	defer src.Close()
	yml, ymlErr := pgmiyaml.Load(src)
	r := infoJSON{ProjectPath: arg, SourceType: "bundle", DeploySQLExists: !p.DeploySQLMissing,
		APIVersion: engine.SupportedAPIVersions[len(engine.SupportedAPIVersions)-1],
		TotalFiles: p.Scanned, SourceFiles: len(p.Sources), TestFiles: len(p.Tests), TestDirectories: len(p.TestDirs),
		FilesWithInvalidMetadata: len(p.Problems), DuplicateIDs: len(p.DuplicateIDs()), PlanEntries: len(p.Plan()),
		Parameters: map[string]string{}, Timeout: yml.Timeout, Connection: connectionInfo(yml.Connection)}
	if src.dir != "" {
		abs, err := filepath.Abs(src.dir)
		if err != nil {
			abs = src.dir
		}
		r.ProjectPath, r.SourceType = filepath.ToSlash(abs), "directory"
	}
	for _, sf := range p.Sources {
		if engine.IsSQLExtension(sf.Path) {
			r.SQLFiles++
		}
		if sf.Meta != nil {
			r.FilesWithMetadata++
		}
		if sf.Path == "./"+pgmiyaml.FileName {
			r.PgmiYAML = true
		}
	}
	for k, v := range yml.Params {
		r.Parameters[k] = v
	}
	if src.bundle != nil {
		r.Bundle = bundleInfo(src)
	}
	if f.json {
		writePgmiJSON(s.out, pgmiInfo(p, r, ymlErr))
		return nil
	}
	if ymlErr != nil {
		return ymlErr
	}
	printInfo(s, r)
	return nil
}

// pgmiInfo is pgmi's info document for the scanned project p.
func pgmiInfo(p *engine.Project, r infoJSON, ymlErr error) pgmiInfoJSON {
	out := pgmiInfoJSON{Path: r.ProjectPath, Template: "unknown", DeploySQL: r.DeploySQLExists, ConfigFile: "absent",
		TotalFiles: len(p.Paths), MetadataWith: r.FilesWithMetadata, Directories: map[string]int{}, Bundle: r.Bundle}
	switch {
	case ymlErr != nil:
		out.ConfigFile = "error: " + ymlErr.Error()
	case r.PgmiYAML:
		out.ConfigFile = "ok"
	}
	lib := false
	for _, path := range p.Paths {
		out.Directories[path[:strings.LastIndexByte(path, '/')+1]]++
		if engine.IsSQLExtension(path) {
			out.SQLFiles++
		}
		if engine.IsTestPath(path) {
			out.TestFiles++
		}
		lib = lib || strings.HasPrefix(path, "./lib/api/")
	}
	switch {
	case lib || out.DeploySQL && r.FilesWithMetadata > 0:
		out.Template = "advanced"
	case out.DeploySQL:
		out.Template = "basic"
	}
	return out
}

// connectionInfo is pgmi.yaml's connection block with the keys it was
// written with; the file holds no secrets (pgmiyaml refuses unknown keys).
func connectionInfo(c pgmiyaml.Connection) map[string]any {
	m := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("host", c.Host)
	if c.Port != 0 {
		m["port"] = c.Port
	}
	set("username", c.Username)
	set("database", c.Database)
	set("maintenance_database", c.MaintenanceDatabase)
	set("sslmode", c.SSLMode)
	set("sslcert", c.SSLCert)
	set("sslkey", c.SSLKey)
	set("sslrootcert", c.SSLRootCert)
	set("auth_method", c.AuthMethod)
	for k, v := range c.Auth {
		set(k, v)
	}
	return m
}

func bundleInfo(src *source) *bundleInfoJSON {
	m := src.bundle.Manifest()
	b := &bundleInfoJSON{Name: m.Name, Version: m.Version, Files: len(m.Files), SignatureNote: "not checked (--allow-unsigned)"}
	if m.Source != nil {
		b.Commit, b.Dirty = m.Source.Commit, m.Source.Dirty
	}
	if m.Created != nil {
		b.Created = m.Created.UTC().Format(time.RFC3339)
	}
	if sg := src.bundle.Signer(); sg != nil {
		b.Signed, b.Signer, b.Fingerprint = true, sg.Principals, sg.Fingerprint
		b.SignatureNote = "verified"
	}
	return b
}

func printInfo(s streams, r infoJSON) {
	w := s.out
	yes := map[bool]string{true: "yes", false: "NO"}
	fmt.Fprintf(w, "Project:          %s (%s)\n", quoteName(r.ProjectPath), r.SourceType)
	fmt.Fprintf(w, "deploy.sql:       %s\n", yes[r.DeploySQLExists])
	fmt.Fprintf(w, "Session API:      v%s\n", r.APIVersion)
	fmt.Fprintf(w, "Files:            %d scanned: %d source (%d SQL), %d test files in %d test directories\n",
		r.TotalFiles, r.SourceFiles, r.SQLFiles, r.TestFiles, r.TestDirectories)
	fmt.Fprintf(w, "Metadata:         %d files with <pgmi-meta>", r.FilesWithMetadata)
	if r.FilesWithInvalidMetadata > 0 || r.DuplicateIDs > 0 {
		fmt.Fprintf(w, ", %d invalid, %d duplicate ids (see pgmi metadata validate)", r.FilesWithInvalidMetadata, r.DuplicateIDs)
	}
	fmt.Fprintf(w, "\nPlan:             %d entries\n", r.PlanEntries)
	if !r.PgmiYAML {
		fmt.Fprintln(w, "pgmi.yaml:        none")
	} else {
		fmt.Fprintln(w, "pgmi.yaml:        yes")
		if r.Timeout != "" {
			fmt.Fprintf(w, "  timeout:        %s\n", r.Timeout)
		}
		printSorted(w, "  parameter", r.Parameters)
		conn := map[string]string{}
		for k, v := range r.Connection {
			conn[k] = fmt.Sprint(v)
		}
		printSorted(w, "  connection", conn)
	}
	if b := r.Bundle; b != nil {
		fmt.Fprintf(w, "Bundle:           %s", firstNonEmpty(b.Name, "(unnamed)"))
		if b.Version != "" {
			fmt.Fprintf(w, " %s", b.Version)
		}
		if b.Commit != "" {
			fmt.Fprintf(w, " commit %s", b.Commit)
		}
		fmt.Fprintf(w, ", %d files\n", b.Files)
		if b.Signed {
			fmt.Fprintf(w, "Signature:        verified, signed by %s (%s)\n", b.Signer, b.Fingerprint)
		} else {
			fmt.Fprintf(w, "Signature:        %s\n", b.SignatureNote)
		}
	}
}

func printSorted(w interface{ Write([]byte) (int, error) }, label string, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s %s = %s\n", label, escapeLine(k), escapeLine(m[k]))
	}

}
