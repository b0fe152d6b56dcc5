package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/bundle"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// signingPassphraseEnv holds the passphrase of an encrypted --sign-key (no
// secret ever has a flag).
const signingPassphraseEnv = "PGMI_SIGN_KEY_PASSPHRASE"

type bundleFlags struct {
	output  string
	signKey string
	name    string
	version string
	limits  limitFlags
	// temporary: output is a file publish removes after the upload, whose
	// name means nothing to the user.
	temporary bool
}

// limitFlags are the values of the bundle limit flags (--max-ratio …) by
// environment variable; "" when the flag was not given.
type limitFlags map[string]*limitValue

// limitValue holds a limit flag's text; resolve parses it, so a bad value
// is a configuration error (exit 10) like a bad PGMI_MAX_* variable.
type limitValue struct {
	text  string
	bytes bool
}

func (v *limitValue) String() string     { return v.text }
func (v *limitValue) Set(s string) error { v.text = s; return nil }
func (v *limitValue) Type() string {
	if v.bytes {
		return "size"
	}
	return "n"
}

// addLimitFlags registers one flag per bundle limit on cmd and its
// subcommands.
func addLimitFlags(cmd *cobra.Command) limitFlags {
	f := limitFlags{}
	for _, l := range bundle.LimitSettings() {
		f[l.Env] = &limitValue{bytes: l.Bytes}
		cmd.PersistentFlags().Var(f[l.Env], l.Flag, fmt.Sprintf("%s (%s; default %s)", l.Usage, l.Env, l.Default()))
	}
	return f
}

// resolve returns the limits: a flag beats its environment variable,
// which beats the default. pgmi deploy, pgmi local and the functions read
// the same variables, so a bundle that packs is one that deploys.
func (f limitFlags) resolve(s streams) (bundle.Limits, error) {
	lim, err := bundle.LimitsFromEnv(s.env)
	if err != nil {
		return lim, err
	}
	for _, l := range bundle.LimitSettings() {
		if v := f[l.Env]; v != nil && v.text != "" {
			if err := l.Set(&lim, "--"+l.Flag, v.text); err != nil {
				return lim, err
			}
		}
	}
	return lim, nil
}

const limitsHelp = "\n\nThe bundle must pass the limits every reader applies (pgmi deploy, pgmi local, the functions):\n" +
	"total size, files, file size, compression ratio, path length and depth, header and manifest size.\n" +
	"Each is set by its flag or its PGMI_MAX_* variable (the flag wins); a reader accepts a bundle past\n" +
	"a default only when its own environment raises the same limit."

func newBundleCommand(s streams) *cobra.Command {
	var f bundleFlags
	cmd := &cobra.Command{
		Use:   "bundle <project_dir> -o <file.tar.gz>",
		Short: "Pack a project into a deterministic, optionally signed bundle",
		Long: "Pack a project into a gzip tar whose manifest lists every file's size and SHA-256.\n" +
			"The same tree gives the same bytes. --sign-key signs the manifest with an SSH key in the\n" +
			"namespace " + bundle.Namespace + " (ssh-keygen -Y sign format); an encrypted key's passphrase\n" +
			"comes from " + signingPassphraseEnv + ". SOURCE_DATE_EPOCH sets the creation time." + limitsHelp,
		Args: exactArgs(1, "<project_dir>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return reportPlain(s, packBundle(cmd.Context(), s, args[0], f))
		},
	}
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "bundle file to write (required)")
	cmd.Flags().StringVar(&f.signKey, "sign-key", "", "SSH private key that signs the manifest")
	cmd.Flags().StringVar(&f.name, "name", "", "bundle name (default: the directory's name)")
	cmd.Flags().StringVar(&f.version, "version", "", "bundle version, e.g. a release tag")
	f.limits = addLimitFlags(cmd)
	cmd.AddCommand(newBundleVerifyCommand(s, f.limits))
	return cmd
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{errorf("expected %s (got %d arguments)", what, len(args))}
		}
		return nil
	}
}

// reportPlain prints a non-deploy command's error and turns it into its exit code.
func reportPlain(s streams, err error) error {
	var ue usageError
	var done exitError // the command printed its outcome already
	if err == nil || errors.As(err, &ue) || errors.As(err, &done) {
		return err
	}
	fmt.Fprintf(s.err, "pgmi: error: %s\n", fault.Redact(err.Error()))
	return exitError{code: exitcode.Of(err)}
}

func packBundle(ctx context.Context, s streams, dir string, f bundleFlags) error {
	if f.output == "" {
		return usageError{errorf("bundle needs -o <file.tar.gz>")}
	}
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return fault.Errorf(fault.Config, "project path %q is not a directory", dir)
	}
	opts, err := packOptions(ctx, s, dir, f)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(dir)
	if err := os.MkdirAll(filepath.Dir(f.output), 0o755); err != nil {
		return fault.Wrap(fault.Config, err, "cannot write %s", f.output)
	}
	tmp, err := createBeside(f.output)
	if err != nil {
		return fault.Wrap(fault.Config, withoutPath(err), "cannot write %s", f.output)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	m, err := bundle.Pack(ctx, os.DirFS(abs), io.MultiWriter(tmp, h), opts)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), f.output); err != nil {
		return fault.Wrap(fault.Config, err, "cannot write %s", f.output)
	}
	signed := "unsigned"
	if opts.Signer != nil {
		signed = "signed with " + ssh.FingerprintSHA256(opts.Signer.PublicKey())
	}
	what := "Wrote " + f.output
	if f.temporary {
		what = "Packed " + dir
	}
	fmt.Fprintf(s.err, "%s: %s, %d files, %s, sha256 %s\n", what, describeManifest(m), len(m.Files), signed, hex.EncodeToString(h.Sum(nil)))
	return nil
}

func packOptions(ctx context.Context, s streams, dir string, f bundleFlags) (*bundle.PackOptions, error) {
	abs, _ := filepath.Abs(dir)
	opts := &bundle.PackOptions{Name: firstNonEmpty(f.name, filepath.Base(abs)), Version: f.version}
	src, commitTime, err := bundle.GitSource(ctx, abs)
	if err == nil && src != nil {
		opts.Source = src
		opts.Created = commitTime
	}
	created, ok, err := bundle.CreatedFromEnv(s.getenv)
	if err != nil {
		return nil, fault.Wrap(fault.Config, err, "invalid SOURCE_DATE_EPOCH")
	}
	if ok {
		opts.Created = created
	}
	if opts.Limits, err = f.limits.resolve(s); err != nil {
		return nil, err
	}
	opts.MaxFileSize = opts.Limits.MaxFileSize // the engine's cap is the same limit
	if f.signKey != "" {
		if opts.Signer, err = loadSigningKey(s, f.signKey); err != nil {
			return nil, err
		}
	}
	return opts, nil
}

func loadSigningKey(s streams, name string) (ssh.Signer, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fault.Wrap(fault.Config, err, "cannot read --sign-key")
	}
	signer, err := bundle.LoadSigner(data, []byte(s.getenv(signingPassphraseEnv)))
	if err != nil {
		return nil, fault.Wrap(fault.Config, err, "cannot use --sign-key %s (an encrypted key needs %s)", name, signingPassphraseEnv)
	}
	return signer, nil
}

func newBundleVerifyCommand(s streams, limits limitFlags) *cobra.Command {
	var trusted, principal string
	cmd := &cobra.Command{
		Use:   "verify <bundle> --trusted-signers <allowed_signers>",
		Short: "Check a bundle's signature and that its files equal its manifest exactly",
		Long: "Check a bundle's signature and that its files equal its manifest exactly, under the same\n" +
			"limits as pgmi deploy (the --max-* flags or PGMI_MAX_* variables).",
		Args: exactArgs(1, "<bundle>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			lim, err := limits.resolve(s)
			if err != nil {
				return reportPlain(s, err)
			}
			return reportPlain(s, verifyBundle(cmd.Context(), s, args[0], trusted, principal, lim))
		},
	}
	cmd.Flags().StringVar(&trusted, "trusted-signers", "", "allowed_signers file (required)")
	cmd.Flags().StringVar(&principal, "principal", "", "require the signer to be listed for this principal")
	return cmd
}

func verifyBundle(ctx context.Context, s streams, name, trustedFile, principal string, lim bundle.Limits) error {
	if trustedFile == "" {
		return usageError{errorf("bundle verify needs --trusted-signers <allowed_signers>")}
	}
	trusted, err := loadTrustedSigners(trustedFile)
	if err != nil {
		return err
	}
	f, err := os.Open(name)
	if err != nil {
		return fault.Wrap(fault.Config, err, "cannot read bundle")
	}
	defer f.Close()
	start := time.Now()
	v, err := bundle.Verify(ctx, f, &bundle.ReadOptions{Trusted: trusted, Principal: principal, Limits: lim})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "OK %s: %s, %d files, signed by %s (%s, %s), sha256 %s (%.2fs)\n", name, describeManifest(v.Manifest),
		len(v.Manifest.Files), v.Signer.Principals, v.Signer.Fingerprint, v.Signer.Window(), v.ArchiveSHA256, time.Since(start).Seconds())
	return nil
}

// createBeside creates a new, empty file next to path under a random
// name, to be renamed over path once written. Unlike os.CreateTemp (0600)
// it is created 0666 less the umask, the mode path would get if written
// directly, so the bundle is as readable as any file the user writes.
func createBeside(path string) (*os.File, error) {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		name := filepath.Join(filepath.Dir(path), ".pgmi-bundle-"+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}
