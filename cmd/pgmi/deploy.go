package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/bundle"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

const defaultTimeout = 3 * time.Minute

// deployFlags are pgmi deploy's flags, named as in pgmi's documentation.
type deployFlags struct {
	conn           connect.Flags // connection and cloud-auth flags
	overwrite      bool
	force          bool
	params         []string
	paramsFiles    []string
	timeout        time.Duration
	compat         string
	json           bool
	verbose        bool // the global -v/--verbose
	trustedSigners string
	allowUnsigned  bool
	bundleVersion  string
}

func newDeployCommand(s streams) *cobra.Command {
	var f deployFlags
	var authValues func() map[string]string
	cmd := &cobra.Command{
		Use:   "deploy <project_path>",
		Short: "Deploy a pgmi project (a directory with deploy.sql) to a database",
		Long: `pgmi deploy runs a project's deploy.sql in one session on the target database,
after loading every project file and parameter into the session's pg_temp
tables and views. <project_path> is a project directory, a bundle file
(.tar.gz, .tgz, .zip) or a bundle URL (s3://, gs://, azblob://, file://).
A bundle must be signed by a key of --trusted-signers, or deployed with
--allow-unsigned; these and --bundle-version apply to bundles only.

Exit codes:
  0    deployed
  1    unexpected internal failure
  2    command-line usage (no JSON)
  10   invalid configuration or project, found before anything touched the server
  11   connection failed
  12   --overwrite not approved
  13   deploy.sql failed on the server (including failing tests)
  14   no deploy.sql in the project root
  15   another deployment holds the database's lock, or won the race to create it
  16   --timeout expired
  17   pgmi publish --wait: no deployer reported a result within --wait-timeout
  130  interrupted`,
		Example: `  # a project directory
  pgmi deploy ./myapp -d myapp_dev

  # with parameters, readable as current_setting('pgmi.env')
  pgmi deploy ./myapp -d myapp_dev --param env=dev --param admin_email=ops@example.com

  # drop and recreate the target database first, without the prompt
  pgmi deploy ./myapp -d myapp_dev --overwrite --force

  # a signed bundle file
  pgmi deploy myapp-1.4.0.tgz -d myapp --trusted-signers allowed_signers

  # a bundle URL, pinned to one object version
  pgmi deploy s3://releases/myapp-1.4.0.tgz --bundle-version 3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY \
      --trusted-signers allowed_signers -d myapp

  # verbose: the resolved connection, server debug messages, timings
  pgmi -v deploy ./myapp -d myapp_dev`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errorf("deploy takes exactly one <project_path> (got %d arguments)", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f.conn.Auth = authValues()
			f.verbose = verboseFlag(cmd)
			if err := bundleFlagsOnDirectory(cmd, args[0]); err != nil {
				return err
			}
			d := &deployRun{s: s, f: f, timeoutSet: cmd.Flags().Changed("timeout"), start: time.Now()}
			return d.run(cmd.Context(), args[0])
		},
	}
	fl := cmd.Flags()
	fl.Bool("help", false, "help for deploy") // frees -h for --host, as in psql
	authValues = connectionFlags(fl, &f.conn, "target database (PGDATABASE)")
	fl.BoolVar(&f.overwrite, "overwrite", false, "drop and recreate the target database first")
	fl.BoolVar(&f.force, "force", false, "approve --overwrite without the prompt")
	fl.StringArrayVar(&f.params, "param", nil, "parameter key=value (repeatable), readable as current_setting('pgmi.key')")
	fl.StringArrayVar(&f.paramsFiles, "params-file", nil, "file of KEY=VALUE lines (repeatable)")
	fl.DurationVar(&f.timeout, "timeout", defaultTimeout, "deadline for the whole deployment, 0 = none")
	fl.StringVar(&f.compat, "compat", "", "session API version (only 1)")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON on stdout")
	fl.StringVar(&f.trustedSigners, "trusted-signers", "", "allowed_signers file: a bundle must be signed by one of these keys")
	fl.BoolVar(&f.allowUnsigned, "allow-unsigned", false, "deploy a bundle without checking its signature (bundles you built yourself)")
	fl.StringVar(&f.bundleVersion, "bundle-version", "", "object version of a bundle URL (S3 versionId, GCS generation, Azure version or ETag)")
	return cmd
}

// deployRun is one invocation of pgmi deploy.
type deployRun struct {
	s          streams
	f          deployFlags
	timeoutSet bool
	start      time.Time
	out        *output
}

func (d *deployRun) run(ctx context.Context, projectPath string) error {
	d.out = newOutput(d.s, d.f.json, d.f.verbose, d.start)
	res, err := d.deploy(ctx, projectPath)
	if err != nil && ctx.Err() == context.Canceled && fault.KindOf(err) != fault.Canceled {
		// Interrupted before the engine ran (connecting, creating the
		// database): the engine's own message says what happened on the
		// server when it was running.
		err = &fault.Error{Kind: fault.Canceled, Msg: "interrupted", Err: err}
	}
	if res != nil {
		res.Duration = time.Since(d.start)
	}
	d.out.report(res, err)
	return exitError{code: exitcode.Of(err)}
}

// deploy runs every offline check, then the database lifecycle, then the
// engine. res stays nil until the project was scanned.
func (d *deployRun) deploy(ctx context.Context, projectPath string) (*engine.Result, error) {
	fsys, err := d.openSource(ctx, projectPath)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	if !fsys.isBundle() {
		loadDotEnv(fsys, d.s, d.out)
	}
	yml, err := pgmiyaml.Load(fsys)
	if err != nil {
		return nil, err
	}
	if fsys.isBundle() && !yml.Connection.IsZero() {
		d.out.line("WARNING: ignoring the connection block of the bundle's pgmi.yaml: connection settings come from this machine")
		yml.Connection = pgmiyaml.Connection{}
	}
	opts, timeout, err := d.engineOptions(yml)
	if err != nil {
		return nil, err
	}
	project, err := engine.Scan(fsys, opts.Scan)
	res := &engine.Result{}
	if err != nil {
		return res, noDeploySQL(fsys, err)
	}
	res.FilesLoaded = project.Scanned
	target, err := d.resolve(yml.Connection)
	if err != nil {
		return res, err
	}
	if d.f.verbose {
		d.out.line(connectionBlock(target.Settings))
	}
	res.Database = target.Database()
	if d.f.overwrite {
		if err := connect.CheckOverwrite(target.Database(), target.Maintenance); err != nil {
			return res, err
		}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	defer target.Close()
	conn, err := d.open(ctx, target)
	if err != nil {
		return res, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return engine.DeployProject(ctx, conn, project, opts)
}

func (d *deployRun) engineOptions(yml pgmiyaml.File) (engine.Options, time.Duration, error) {
	opts := engine.Options{Compat: d.f.compat, Verbose: d.f.verbose, Log: d.out.log}
	if err := engine.CheckCompat(d.f.compat); err != nil {
		return opts, 0, err
	}
	// The same per-file cap (PGMI_MAX_FILE_SIZE, bytes or KiB/MiB/GiB) as
	// pgmi bundle and the functions.
	limits, err := bundle.LimitsFromEnv(d.s.env)
	if err != nil {
		return opts, 0, err
	}
	opts.Scan.MaxFileSize = limits.MaxFileSize
	params, err := d.params(yml)
	if err != nil {
		return opts, 0, err
	}
	opts.Params = params
	timeout, err := d.timeout(yml)
	return opts, timeout, err
}

func (d *deployRun) params(yml pgmiyaml.File) (engine.Params, error) {
	params := deploy.EngineParams(yml)
	for _, name := range d.f.paramsFiles {
		data, err := os.ReadFile(name)
		if err != nil {
			return params, fault.Wrap(fault.Config, err, "cannot read params file")
		}
		p, err := engine.ParseParamsFile(name, data)
		if err != nil {
			return params, err
		}
		params.Merge(p)
	}
	for _, kv := range d.f.params {
		k, v, err := engine.ParseParamFlag(kv)
		if err != nil {
			return params, err
		}
		params.Set(k, v)
	}
	return params, params.Validate()
}

func (d *deployRun) timeout(yml pgmiyaml.File) (time.Duration, error) {
	if d.timeoutSet {
		if d.f.timeout < 0 {
			return 0, fault.Errorf(fault.Config, "invalid --timeout %s: use 0 for no deadline or a positive duration", d.f.timeout)
		}
		return d.f.timeout, nil
	}
	if yml.Timeout != "" {
		return yml.TimeoutDuration()
	}
	return defaultTimeout, nil
}

func (d *deployRun) resolve(yml pgmiyaml.Connection) (*connect.Target, error) {
	target, err := connect.ResolveWith(d.f.conn, d.s.env, yml, &connect.Options{Log: d.out.log})
	if err != nil {
		return nil, err
	}
	target.Config.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { d.out.notice(n) }
	return target, nil
}

func (d *deployRun) open(ctx context.Context, target *connect.Target) (*pgx.Conn, error) {
	lc := &connect.Lifecycle{Target: target, Log: d.out.log}
	if d.f.overwrite {
		return lc.Recreate(ctx, d.approver())
	}
	return lc.Open(ctx)
}

// bundleFlagsOnDirectory refuses the bundle-only flags with a project
// directory instead of ignoring them.
func bundleFlagsOnDirectory(cmd *cobra.Command, arg string) error {
	if isBundleURL(arg) {
		return nil
	}
	if info, err := os.Stat(arg); err != nil || !info.IsDir() {
		return nil
	}
	var set []string
	for _, name := range []string{"trusted-signers", "bundle-version", "allow-unsigned"} {
		if cmd.Flags().Changed(name) {
			set = append(set, "--"+name)
		}
	}
	if len(set) == 0 {
		return nil
	}
	return usageError{errorf("%s: these flags apply to bundles only (a bundle file or URL), not to the project directory %s",
		strings.Join(set, ", "), quoteName(arg))}
}

// noDeploySQL names the file a project directory lacks and how to start one.
func noDeploySQL(fsys *source, err error) error {
	if fault.KindOf(err) != fault.DeploySQLMissing || fsys.dir == "" {
		return err
	}
	return fault.Errorf(fault.DeploySQLMissing, "deploy.sql not found in the project root (looked for %s): every pgmi project needs one; create a project with 'pgmi init <dir>'",
		quoteName(filepath.Join(fsys.dir, "deploy.sql")))
}

// connectionBlock shows where the deploy connects, as pgmi does with
// --verbose: never a password or a token.
func connectionBlock(c *connect.Config) string {
	var hosts, ports []string
	for _, e := range c.Endpoints() {
		hosts = append(hosts, e.Host)
		ports = append(ports, strconv.Itoa(int(e.Port)))
	}
	sslMode, auth := firstNonEmpty(c.SSL.Mode, "prefer"), firstNonEmpty(string(c.Auth), string(connect.AuthPassword))
	rows := [][2]string{
		{"Host", strings.Join(hosts, ",")},
		{"Port", strings.Join(ports, ",")},
		{"User", c.User},
		{"Database", c.Database},
		{"Maintenance database", c.MaintenanceDatabase},
		{"SSL mode", sslMode},
		{"Auth method", auth},
	}
	var b strings.Builder
	b.WriteString("[VERBOSE] Connection:")
	for _, r := range rows {
		fmt.Fprintf(&b, "\n  %-21s %s", r[0]+":", escapeLine(r[1]))
	}
	return b.String()
}
