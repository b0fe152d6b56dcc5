package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

func newRolloutCommand(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Follow and steer fleet rollouts: status, resume, abort",
		Long: "A bundle uploaded under a route that names a fleet starts a rollout: the deployers deploy it to\n" +
			"every database of the fleet, wave by wave, and rewrite the rollout result\n" +
			"<results prefix><key>.<version>.rollout.json beside the bundle when a wave closes (and at most every 2 s between).",
	}
	cmd.AddCommand(newRolloutStatusCommand(s), newRolloutResumeCommand(s), newRolloutAbortCommand(s))
	return cmd
}

func noFileCompletion(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveNoFileComp
}

func newRolloutStatusCommand(s streams) *cobra.Command {
	var f resultFlags
	var version string
	cmd := &cobra.Command{
		Use:   "status <bundle URL>",
		Short: "Show a fleet rollout: its waves, counts and failed targets",
		Long: "Read the rollout result a deployer wrote next to the bundle at the s3://, gs://, azblob:// or\n" +
			"file:// URL and print its status, each wave's counts and the failed targets with their errors.\n" +
			"Without --bundle-version the newest rollout of the key is shown. Exit code: 0 running or complete,\n" +
			"the rollout's exit code when it halted (13 for a failed deploy.sql), 13 when it was aborted,\n" +
			"17 when there is no rollout result.",
		Args:              exactArgs(1, "<bundle URL>"),
		ValidArgsFunction: noFileCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			return reportPlain(s, rolloutStatus(cmd.Context(), s, args[0], version, f))
		},
	}
	cmd.Flags().StringVar(&version, "bundle-version", "", "the object version whose rollout to show (S3 versionId, GCS generation, Azure ETag)")
	f.addPrefixFlag(cmd.Flags())
	cmd.Flags().BoolVar(&f.json, "json", false, "print the rollout result object on stdout")
	return cmd
}

func rolloutStatus(ctx context.Context, s streams, objectURL, version string, f resultFlags) error {
	places, prefix, err := readPlaces(s, objectURL, version, f)
	if err != nil {
		return err
	}
	got, err := findRolloutResult(ctx, places, prefix, version)
	if err != nil {
		return err
	}
	if got == nil {
		return fault.Errorf(fault.Unreported, "no rollout result for %s under %q: no deployer started a rollout of it "+
			"(is its key under a fleet route? pgmi status shows the upload's own result)", redactedURL(objectURL)+versionFlag(version), prefix)
	}
	w := s.out
	if f.json {
		fmt.Fprintln(s.out, strings.TrimRight(string(got.raw), "\n"))
		w = s.err
	}
	printRollout(w, got.rep)
	fmt.Fprintf(w, "rollout result: %s\n", quoteName(got.where))
	if code := rolloutExitCode(got.rep); code != 0 {
		return exitError{code: code}
	}
	return nil
}

// rolloutResult is a rollout result object read from a bucket.
type rolloutResult struct {
	rep   *deploy.RolloutReport
	raw   []byte
	where string
}

// findRolloutResult reads the rollout result of version at the places,
// nearest first; without a version the newest rollout of the key.
func findRolloutResult(ctx context.Context, places []resultPlace, prefix, version string) (*rolloutResult, error) {
	var newest *rolloutResult
	for _, p := range places {
		b, err := blob.OpenBucket(ctx, p.bucketURL)
		if err != nil {
			return nil, fault.Wrap(fault.Config, err, "cannot open %s to read results", redactedURL(p.bucketURL))
		}
		var got *rolloutResult
		if version != "" {
			got, err = readRolloutResult(ctx, b, p.bucketURL, deploy.RolloutResultName(prefix, p.bundleKey, version))
		} else {
			got, err = newestRolloutResult(ctx, b, p, prefix)
		}
		b.Close()
		if err != nil {
			return nil, err
		}
		if got != nil && (newest == nil || got.rep.StartedAt.After(newest.rep.StartedAt)) {
			newest = got
		}
		if newest != nil && version != "" {
			return newest, nil
		}
	}
	return newest, nil
}

func newestRolloutResult(ctx context.Context, b *blob.Bucket, p resultPlace, prefix string) (*rolloutResult, error) {
	var newest *rolloutResult
	it := b.List(&blob.ListOptions{Prefix: prefix + p.bundleKey + ".", Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return newest, nil
		}
		if err != nil {
			return nil, fault.Wrap(fault.Connection, err, "cannot list results in %s", redactedURL(p.bucketURL))
		}
		if obj.IsDir || !strings.HasSuffix(obj.Key, ".rollout.json") {
			continue
		}
		got, err := readRolloutResult(ctx, b, p.bucketURL, obj.Key)
		if err != nil || got == nil || got.rep.Bundle.Key != p.bundleKey {
			continue // somebody else's file, or a longer key's rollout
		}
		if newest == nil || got.rep.StartedAt.After(newest.rep.StartedAt) {
			newest = got
		}
	}
}

// readRolloutResult reads one rollout result; nil when there is none.
func readRolloutResult(ctx context.Context, b *blob.Bucket, bucketURL, key string) (*rolloutResult, error) {
	data, err := b.ReadAll(ctx, key)
	where := strings.TrimSuffix(redactedURL(bucketURL), "/") + "/" + key
	switch {
	case gcerrors.Code(err) == gcerrors.NotFound:
		return nil, nil
	case err != nil:
		return nil, fault.Wrap(fault.Connection, err, "cannot read the rollout result %s", where)
	}
	var rep deploy.RolloutReport
	if err := json.Unmarshal(data, &rep); err != nil || rep.Rollout == 0 || rep.Status == "" {
		return nil, fault.Wrap(fault.Config, errNotResult, "%s", where)
	}
	return &rolloutResult{rep: &rep, raw: data, where: where}, nil
}

// printRollout prints a rollout: a summary line, its waves as a table, and
// its failed targets with their errors.
func printRollout(w io.Writer, r *deploy.RolloutReport) {
	fmt.Fprintln(w, rolloutLine(r))
	what := r.Bundle.URL
	if r.Bundle.Version != "" {
		what += versionFlag(r.Bundle.Version)
	}
	fmt.Fprintf(w, "  bundle:   %s\n", escapeLine(what))
	fmt.Fprintf(w, "  started:  %s, updated %s\n", r.StartedAt.UTC().Format("2006-01-02 15:04:05"), r.UpdatedAt.UTC().Format("15:04:05 MST"))
	fmt.Fprintf(w, "  fleet:    %d target(s), %d wave(s), now wave %d; failure budget %d, concurrency %d\n",
		r.Total, len(r.Waves), r.Wave, r.MaxFailures, r.Concurrency)
	rows := [][]string{{"WAVE", "SIZE", "DEPLOYED", "FAILED", "PENDING", "STATUS"}}
	for _, wv := range r.Waves {
		rows = append(rows, []string{fmt.Sprint(wv.Wave), fmt.Sprint(wv.Size), fmt.Sprint(wv.Deployed), fmt.Sprint(wv.Failed), fmt.Sprint(wv.Pending), wv.Status})
	}
	printTable(w, rows)
	failed := r.FailedTargets()
	if len(failed) == 0 {
		return
	}
	rows = [][]string{{"FAILED TARGET", "WAVE", "EXIT", "ERROR"}}
	for _, t := range failed {
		rows = append(rows, []string{quoteName(t.Database), fmt.Sprint(t.Wave), fmt.Sprint(t.ExitCode), escapeLine(fault.Redact(t.Error))})
	}
	printTable(w, rows)
}

// printTable writes rows in aligned columns ("-" for an empty cell); a
// non-empty notes[r] goes on its own line under row r, indented past the
// first column.
func printTable(w io.Writer, rows [][]string, notes ...string) {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(dash(cell)))
		}
	}
	for r, row := range rows {
		var b strings.Builder
		for i, cell := range row {
			cell = dash(cell)
			b.WriteString(cell)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)+2))
			}
		}
		fmt.Fprintln(w, b.String())
		if r < len(notes) && notes[r] != "" {
			fmt.Fprintf(w, "%s%s\n", strings.Repeat(" ", widths[0]+2), notes[r])
		}
	}
}

// rolloutAdminFlags are the flags of rollout resume and abort.
type rolloutAdminFlags struct {
	conn           connect.Flags
	version        string
	fleetTopic     string
	trustedSigners string
	allowUnsigned  bool
	json           bool
}

func newRolloutResumeCommand(s streams) *cobra.Command {
	var f rolloutAdminFlags
	var authValues func() map[string]string
	cmd := &cobra.Command{
		Use:   "resume <bundle URL> [connection flags]",
		Short: "Continue a halted, aborted or stalled rollout",
		Long: "Resume a rollout recorded in the fleet control tables (pgmi_fleet.rollouts in the maintenance database\n" +
			"of the server the connection flags name): the fleet is resolved again (a database that appeared since\n" +
			"joins the last wave), failed targets become pending again, and the first wave with targets left is\n" +
			"published to the fleet queue (--fleet-topic, PGMI_FLEET_TOPIC) for the deployers to run; a target\n" +
			"already deployed answers duplicate. Use it after fixing what failed, or when a wave stalls because\n" +
			"its messages went to the dead-letter queue.\n\n" +
			"pgmi local's queue (mem://) lives inside pgmi local, so with a mem:// queue resume deploys the\n" +
			"targets itself, as pgmi local would (PGMI_ROUTES and trust: --trusted-signers or --allow-unsigned),\n" +
			"and returns when the rollout is done, with its exit code. Exit codes: 0 resumed (or complete),\n" +
			"10 no rollout recorded or a configuration problem, 11 no connection, 13 the rollout halted again.",
		Args:              exactArgs(1, "<bundle URL>"),
		ValidArgsFunction: noFileCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.conn.Auth = authValues()
			if f.fleetTopic == "" {
				f.fleetTopic = s.getenv("PGMI_FLEET_TOPIC")
			}
			return reportPlain(s, rolloutResume(cmd.Context(), s, args[0], f))
		},
	}
	fl := cmd.Flags()
	fl.Bool("help", false, "help for resume")
	authValues = rolloutAdminCommonFlags(cmd, &f)
	fl.StringVar(&f.fleetTopic, "fleet-topic", "", "the fleet queue the deployers serve (PGMI_FLEET_TOPIC): awssqs://…, gcppubsubv2://<project>/<topic>, azuresb://…, or mem://… to deploy here")
	fl.StringVar(&f.trustedSigners, "trusted-signers", "", "with a mem:// queue: allowed_signers file (or PGMI_TRUSTED_SIGNERS) the bundle must be signed by")
	fl.BoolVar(&f.allowUnsigned, "allow-unsigned", false, "with a mem:// queue: deploy without checking the bundle's signature (PGMI_ALLOW_UNSIGNED)")
	return cmd
}

func newRolloutAbortCommand(s streams) *cobra.Command {
	var f rolloutAdminFlags
	var authValues func() map[string]string
	cmd := &cobra.Command{
		Use:   "abort <bundle URL> [connection flags]",
		Short: "Stop a rollout: no further target or wave starts",
		Long: "Abort a rollout recorded in the fleet control tables (pgmi_fleet.rollouts in the maintenance database\n" +
			"of the server the connection flags name): messages still on the fleet queue are acknowledged without\n" +
			"deploying and no further wave starts; targets already deploying finish. pgmi rollout resume continues\n" +
			"it later. Exit codes: 0 aborted (a complete rollout stays complete), 10 no rollout recorded,\n" +
			"11 no connection.",
		Args:              exactArgs(1, "<bundle URL>"),
		ValidArgsFunction: noFileCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.conn.Auth = authValues()
			return reportPlain(s, rolloutAbort(cmd.Context(), s, args[0], f))
		},
	}
	cmd.Flags().Bool("help", false, "help for abort")
	authValues = rolloutAdminCommonFlags(cmd, &f)
	return cmd
}

func rolloutAdminCommonFlags(cmd *cobra.Command, f *rolloutAdminFlags) func() map[string]string {
	fl := cmd.Flags()
	auth := connectionFlags(fl, &f.conn, "a database on the server (PGDATABASE); the control tables are in its maintenance database")
	fl.StringVar(&f.version, "bundle-version", "", "the object version whose rollout to change (default: the newest rollout of the URL)")
	fl.BoolVar(&f.json, "json", false, "print the rollout's state as JSON on stdout")
	return auth
}

// rolloutBundle is the bundle URL as the control tables record it: without
// the query a URL may carry (region, endpoint).
func rolloutBundle(objectURL string) (string, error) {
	if !isBundleURL(objectURL) {
		return "", usageError{errorf("%q is not a blob URL (s3://, gs://, azblob://, file://)", objectURL)}
	}
	u, err := url.Parse(objectURL)
	if err != nil {
		return "", usageError{err}
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// adminDeployer builds a Deployer for the rollout commands: the connection
// from the flags and environment, and over on top. It verifies no bundle,
// so unless over says otherwise it needs no trusted signers, and no routes.
func adminDeployer(ctx context.Context, s streams, f rolloutAdminFlags, bundleURL string, over map[string]string) (*deploy.Deployer, *pubsub.URLMux, error) {
	base := map[string]string{"PGMI_ALLOW_UNSIGNED": "true", "PGMI_ROUTES": "", "PGMI_TRUSTED_SIGNERS": "", "PGMI_TRUSTED_SIGNERS_URL": ""}
	if _, ok := s.env("PGMI_BUCKET_URL_PARAMS"); !ok && strings.HasPrefix(bundleURL, "file://") {
		base["PGMI_BUCKET_URL_PARAMS"] = "metadata=skip" // as pgmi local writes its results
	}
	for k, v := range over {
		base[k] = v
	}
	env := func(k string) (string, bool) {
		if v, ok := base[k]; ok {
			return v, v != ""
		}
		return s.env(k)
	}
	warnings := newLineLogger(slog.LevelWarn, "", func(text string) { fmt.Fprintln(s.err, escapeLine(text)) })
	cfg, err := deploy.LoadConfig(ctx, env, &deploy.LoadOptions{Flags: f.conn, Log: warnings})
	if err != nil {
		return nil, nil, err
	}
	topics := fleetTopics(cfg.FleetTopic)
	return deploy.New(cfg, &deploy.Options{Log: warnings, Topics: topics}), topics, nil
}

func rolloutAbort(ctx context.Context, s streams, objectURL string, f rolloutAdminFlags) error {
	bundleURL, err := rolloutBundle(objectURL)
	if err != nil {
		return err
	}
	d, _, err := adminDeployer(ctx, s, f, bundleURL, nil)
	if err != nil {
		return err
	}
	defer d.Close()
	rep, err := d.AbortRollout(ctx, bundleURL, f.version)
	if err != nil {
		return err
	}
	printRolloutState(s, rep, f.json)
	return nil
}

func rolloutResume(ctx context.Context, s streams, objectURL string, f rolloutAdminFlags) error {
	bundleURL, err := rolloutBundle(objectURL)
	if err != nil {
		return err
	}
	if f.fleetTopic == "" {
		return fault.Errorf(fault.Config, "resume publishes the rollout's next wave to the fleet queue: give --fleet-topic or set PGMI_FLEET_TOPIC (the deployers' queue)")
	}
	if isMemTopic(f.fleetTopic) {
		return resumeHere(ctx, s, bundleURL, f)
	}
	d, _, err := adminDeployer(ctx, s, f, bundleURL, map[string]string{"PGMI_FLEET_TOPIC": f.fleetTopic})
	if err != nil {
		return err
	}
	defer d.Close()
	rep, err := d.ResumeRollout(ctx, bundleURL, f.version)
	if err != nil {
		return err
	}
	printRolloutState(s, rep, f.json)
	if !rep.Done() {
		fmt.Fprintf(s.err, "the deployers serving %s take it from here; pgmi rollout status %s follows it\n", redactedURL(f.fleetTopic), quoteName(redactedURL(objectURL)))
	}
	return nil
}

// printRolloutState prints a rollout's state as the control tables hold it.
func printRolloutState(s streams, rep *deploy.RolloutReport, asJSON bool) {
	if !asJSON {
		printRollout(s.out, rep)
		return
	}
	data, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Fprintln(s.out, string(data))
	fmt.Fprintln(s.err, rolloutLine(rep))
}

// resumeHere resumes a rollout of pgmi local's in-process queue: the
// queue died with the pgmi local that started it, so this process serves
// one of its own and deploys the targets, as pgmi local would, until the
// rollout is done.
func resumeHere(ctx context.Context, s streams, bundleURL string, f rolloutAdminFlags) error {
	over := map[string]string{"PGMI_FLEET_TOPIC": f.fleetTopic, "PGMI_ALLOW_UNSIGNED": s.getenv("PGMI_ALLOW_UNSIGNED"),
		"PGMI_ROUTES": s.getenv("PGMI_ROUTES"), "PGMI_TRUSTED_SIGNERS": s.getenv("PGMI_TRUSTED_SIGNERS"),
		"PGMI_TRUSTED_SIGNERS_URL": s.getenv("PGMI_TRUSTED_SIGNERS_URL")}
	if f.allowUnsigned {
		over["PGMI_ALLOW_UNSIGNED"] = "true"
	}
	if f.trustedSigners != "" {
		data, err := os.ReadFile(f.trustedSigners)
		if err != nil {
			return fault.Wrap(fault.Config, err, "cannot read --trusted-signers")
		}
		over["PGMI_TRUSTED_SIGNERS"] = string(data)
	}
	d, topics, err := adminDeployer(ctx, s, f, bundleURL, over)
	if err != nil {
		return err
	}
	defer d.Close()
	if d.FleetConcurrency() == 0 {
		return fault.Errorf(fault.Config, "with the in-process queue %s resume deploys the targets here: set PGMI_ROUTES as pgmi local has it (a route with the fleet)", f.fleetTopic)
	}
	cfg := d.Config()
	q, err := openFleetQueue(ctx, topics, cfg.FleetTopic, cfg.Timeout+time.Minute)
	if err != nil {
		return err
	}
	defer q.close()
	printf := func(format string, args ...any) { fmt.Fprintln(s.err, escapeLine(fmt.Sprintf(format, args...))) }
	fs := newFleetServer(d, true, printf)
	wctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- fs.serve(wctx, q) }()
	defer func() { cancel(); <-served }()
	rep, err := d.ResumeRollout(ctx, bundleURL, f.version)
	if err != nil {
		return err
	}
	printf("resumed rollout %d: deploying its targets here (the queue %s lives in this process)", rep.Rollout, f.fleetTopic)
	fs.follow(rep, "")
	code, err := awaitSettled(ctx, fs)
	if err != nil {
		return err
	}
	if final, err := d.RolloutState(ctx, bundleURL, rep.Bundle.Version); err == nil {
		rep = final
	}
	printRolloutState(s, rep, f.json)
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}

// awaitSettled waits until the followed rollouts are done.
func awaitSettled(ctx context.Context, fs *fleetServer) (int, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if done, code := fs.settled(); done {
			return code, nil
		}
		select {
		case <-ctx.Done():
			return 0, fault.Wrap(fault.Canceled, ctx.Err(), "interrupted while deploying the resumed rollout's targets (pgmi rollout resume continues it)")
		case <-tick.C:
		}
	}
}
