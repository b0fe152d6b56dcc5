package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"
	"gocloud.dev/blob"

	"github.com/pgmi-cloud/pgmi/pkg/bundle"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// progressThreshold is the upload size above which a terminal gets a progress bar.
const progressThreshold = 4 << 20

// publishFlags are publish's own flags beside the packing ones.
type publishFlags struct {
	bundleFlags
	wait        bool
	waitTimeout time.Duration
	results     resultFlags
}

func newPublishCommand(s streams) *cobra.Command {
	var f publishFlags
	cmd := &cobra.Command{
		Use:   "publish <project_dir | bundle> <blob URL>",
		Short: "Pack (and sign) a project, or take a bundle, and upload it to S3, GCS, Azure Blob or a folder",
		Long: "Upload a bundle to s3://bucket/key, gs://bucket/key, azblob://container/key or file:///dir/file and\n" +
			"print the URL and the object version to deploy it by. A directory is packed first (signed with\n" +
			"--sign-key); a bundle file is uploaded as it is.\n\n" +
			"--wait then waits for the deployer's result object for exactly this upload (a function subscribed to\n" +
			"the bucket, or pgmi local watching the folder), prints it as pgmi deploy would and exits with the\n" +
			"deploy's exit code: 0 deployed, 13 deploy.sql failed, 10 refused or not routed, 17 no result in time.\n\n" +
			"An upload under a fleet route starts a rollout: --wait then follows the rollout result until the\n" +
			"rollout is done (on a terminal: wave, deployed, failed, pending) and exits 0 when every target\n" +
			"deployed, with the rollout's exit code when it halted (13 for deploy.sql, naming the failed\n" +
			"targets), 13 when it was aborted, 17 when --wait-timeout expires first.",
		Args: exactArgs(2, "<project_dir | bundle> <blob URL>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return reportPlain(s, publish(cmd.Context(), s, args[0], args[1], f))
		},
	}
	cmd.Flags().StringVar(&f.signKey, "sign-key", "", "SSH private key that signs the manifest (directories only)")
	cmd.Flags().StringVar(&f.name, "name", "", "bundle name (default: the directory's name)")
	cmd.Flags().StringVar(&f.version, "version", "", "bundle version, e.g. a release tag")
	cmd.Flags().BoolVar(&f.wait, "wait", false, "wait for the deployer's result for this upload and exit with the deploy's exit code")
	cmd.Flags().DurationVar(&f.waitTimeout, "wait-timeout", defaultWaitTimeout, "how long --wait waits for a result (exit 17 after it)")
	f.results.addPrefixFlag(cmd.Flags())
	cmd.Flags().BoolVar(&f.results.json, "json", false, "with --wait, print the result object on stdout")
	return cmd
}

func publish(ctx context.Context, s streams, src, url string, f publishFlags) error {
	if !isBundleURL(url) {
		return usageError{errorf("%q is not a blob URL (s3://, gs://, azblob://, file://)", url)}
	}
	if !f.wait && f.results.json {
		return usageError{errorf("--json prints the result of --wait: add --wait")}
	}
	if f.wait && f.waitTimeout <= 0 {
		return usageError{errorf("--wait-timeout must be positive")}
	}
	if err := checkS3Region(ctx, url); err != nil {
		return err
	}
	file, err := publishSource(ctx, s, src, f.bundleFlags)
	if err != nil {
		return err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return fault.Wrap(fault.Config, err, "cannot read %s", src)
	}
	bar := newProgressBar(s, info.Size())
	pub, err := bundle.Publish(ctx, url, file, bar.update)
	bar.done()
	if err != nil {
		return err
	}
	if !f.results.json {
		fmt.Fprintf(s.out, "%s\t%s\n", pub.URL, pub.Version)
	}
	switch {
	case pub.Version == "":
		fmt.Fprintf(s.err, "Published %s (%d bytes; this storage keeps no object versions, so a deploy reads the current object)", pub.URL, pub.Size)
	default:
		fmt.Fprintf(s.err, "Published %s version %q (%d bytes)", pub.URL, pub.Version, pub.Size)
	}
	if !f.wait {
		fmt.Fprintf(s.err, "; deploy it with: pgmi deploy %s%s --trusted-signers <file>\n", pub.URL, versionFlag(pub.Version))
		return nil
	}
	fmt.Fprintln(s.err)
	return waitForUpload(ctx, s, url, pub, file, f)
}

func versionFlag(v string) string {
	if v == "" {
		return ""
	}
	return fmt.Sprintf(" --bundle-version %q", v)
}

// waitForUpload is publish --wait: the result of the upload pub, whose
// bytes file holds, is awaited, printed, and its exit code returned.
func waitForUpload(ctx context.Context, s streams, objectURL string, pub *bundle.Published, file *os.File, f publishFlags) error {
	sha := ""
	if pub.Version == "" { // results of unversioned objects are named by digest
		h := sha256.New()
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			return fault.Wrap(fault.Internal, err, "cannot read the uploaded bundle again")
		}
		if _, err := io.Copy(h, file); err != nil {
			return fault.Wrap(fault.Internal, err, "cannot read the uploaded bundle again")
		}
		sha = hex.EncodeToString(h.Sum(nil))
	}
	places, err := resultPlaces(objectURL, f.results.resultsPrefix(s), pub.Version, sha)
	if err != nil {
		return usageError{err}
	}
	start := time.Now()
	got, err := awaitResult(ctx, s, places, pub.URL+versionFlag(pub.Version), f.waitTimeout)
	if err != nil {
		return err
	}
	if isRollout(got.report) {
		return followRollout(ctx, s, got, f.results, start.Add(f.waitTimeout))
	}
	printResult(s, got, f.results.json)
	if code := resultExitCode(got.report); code != 0 {
		return exitError{code: code}
	}
	return nil
}

// checkS3Region fails before packing, saying what to do, when an s3:// URL
// resolves to no AWS region (the SDK's own error only says "Invalid
// region"). It opens the bucket as Publish will, which reads the AWS
// configuration without a request.
func checkS3Region(ctx context.Context, objectURL string) error {
	u, err := url.Parse(objectURL)
	if err != nil || u.Scheme != "s3" {
		return nil
	}
	bucket := url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: u.RawQuery}
	b, err := blob.OpenBucket(ctx, bucket.String())
	if err != nil {
		return nil // Publish reports it
	}
	defer b.Close()
	var client *s3.Client
	if !b.As(&client) || client.Options().Region != "" {
		return nil
	}
	safe := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return fault.Errorf(fault.Config, "publishing to %s needs an AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, "+
		"or region in your AWS profile), or add ?region=<region> to the URL", safe.String())
}

// publishSource returns the bundle to upload: the file itself, or a packed
// copy of the directory in a temporary file that is removed on close.
func publishSource(ctx context.Context, s streams, src string, f bundleFlags) (*os.File, error) {
	info, err := os.Stat(src)
	if err != nil {
		return nil, fault.Wrap(fault.Config, err, "cannot read %s", src)
	}
	if !info.IsDir() {
		if !isBundleFile(src) {
			return nil, fault.Errorf(fault.Config, "%s: publish takes a project directory (packed and signed here) or a bundle file as it is", src)
		}
		var set []string
		for flag, v := range map[string]string{"--sign-key": f.signKey, "--name": f.name, "--version": f.version} {
			if v != "" {
				set = append(set, flag)
			}
		}
		if len(set) > 0 {
			slices.Sort(set)
			return nil, usageError{errorf("%s: these flags apply to a project directory, packed here; the bundle file %s is uploaded as it is (re-signing, renaming or re-versioning a bundle is not supported: pack the project again)",
				strings.Join(set, ", "), quoteName(src))}
		}
		return os.Open(src)
	}
	tmpDir, err := os.MkdirTemp("", "pgmi-publish-*")
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "cannot create a temporary file")
	}
	f.output, f.temporary = filepath.Join(tmpDir, "bundle.tgz"), true
	if err := packBundle(ctx, s, src, f); err != nil {
		os.RemoveAll(tmpDir)
		return nil, err
	}
	file, err := os.Open(f.output)
	os.RemoveAll(tmpDir) // the open file stays readable
	return file, err
}

// progressBar draws upload progress on a terminal for large uploads.
type progressBar struct {
	w     io.Writer
	total int64
	on    bool
	last  time.Time
}

func newProgressBar(s streams, total int64) *progressBar {
	return &progressBar{w: s.err, total: total, on: s.interactive && total > progressThreshold}
}

func (p *progressBar) update(sent int64) {
	if !p.on || (time.Since(p.last) < 100*time.Millisecond && sent < p.total) {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := int(width * sent / max(p.total, 1))
	fmt.Fprintf(p.w, "\rUploading [%-*s] %5.1f%% of %.1f MiB", width, repeat('=', filled), 100*float64(sent)/float64(max(p.total, 1)), float64(p.total)/(1<<20))
}

func (p *progressBar) done() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}

func repeat(c byte, n int) string {
	b := make([]byte, max(n, 0))
	for i := range b {
		b[i] = c
	}
	return string(b)
}
