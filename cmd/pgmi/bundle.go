package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/pgmi-cloud/pgmi/pkg/bundle"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// signingPassphraseEnv holds the passphrase of an encrypted --sign-key (no
// secret ever has a flag).
const signingPassphraseEnv = "PGMI_SIGN_KEY_PASSPHRASE"

type bundleFlags struct {
	output  string
	signKey string
	name    string
	version string
}

func newBundleCommand(s streams) *cobra.Command {
	var f bundleFlags
	cmd := &cobra.Command{
		Use:   "bundle <project_dir> -o <file.tar.gz>",
		Short: "Pack a project into a deterministic, optionally signed bundle",
		Long: "Pack a project into a gzip tar whose manifest lists every file's size and SHA-256.\n" +
			"The same tree gives the same bytes. --sign-key signs the manifest with an SSH key in the\n" +
			"namespace " + bundle.Namespace + " (ssh-keygen -Y sign format); an encrypted key's passphrase\n" +
			"comes from " + signingPassphraseEnv + ". SOURCE_DATE_EPOCH sets the creation time.",
		Args: exactArgs(1, "<project_dir>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return reportPlain(s, packBundle(cmd.Context(), s, args[0], f))
		},
	}
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "bundle file to write (required)")
	cmd.Flags().StringVar(&f.signKey, "sign-key", "", "SSH private key that signs the manifest")
	cmd.Flags().StringVar(&f.name, "name", "", "bundle name (default: the directory's name)")
	cmd.Flags().StringVar(&f.version, "version", "", "bundle version, e.g. a release tag")
	cmd.AddCommand(newBundleVerifyCommand(s))
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
	if err == nil || errors.As(err, &ue) {
		return err
	}
	fmt.Fprintf(s.err, "pgmi: error: %s\n", engine.Redact(err.Error()))
	return exitError{code: engine.ExitCode(err)}
}

func packBundle(ctx context.Context, s streams, dir string, f bundleFlags) error {
	if f.output == "" {
		return usageError{errorf("bundle needs -o <file.tar.gz>")}
	}
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return engine.Errorf(engine.KindConfig, "project path %q is not a directory", dir)
	}
	opts, err := packOptions(ctx, s, dir, f)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(dir)
	tmp, err := os.CreateTemp(filepath.Dir(f.output), ".pgmi-bundle-*")
	if err != nil {
		return engine.Wrap(engine.KindConfig, err, "cannot write %s", f.output)
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
		return engine.Wrap(engine.KindConfig, err, "cannot write %s", f.output)
	}
	signed := "unsigned"
	if opts.Signer != nil {
		signed = "signed with " + ssh.FingerprintSHA256(opts.Signer.PublicKey())
	}
	fmt.Fprintf(s.err, "Wrote %s: %s, %d files, %s, sha256 %s\n", f.output, describeManifest(m), len(m.Files), signed, hex.EncodeToString(h.Sum(nil)))
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
		return nil, engine.Wrap(engine.KindConfig, err, "invalid SOURCE_DATE_EPOCH")
	}
	if ok {
		opts.Created = created
	}
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
		return nil, engine.Wrap(engine.KindConfig, err, "cannot read --sign-key")
	}
	signer, err := bundle.LoadSigner(data, []byte(s.getenv(signingPassphraseEnv)))
	if err != nil {
		return nil, engine.Wrap(engine.KindConfig, err, "cannot use --sign-key %s (an encrypted key needs %s)", name, signingPassphraseEnv)
	}
	return signer, nil
}

func newBundleVerifyCommand(s streams) *cobra.Command {
	var trusted, principal string
	cmd := &cobra.Command{
		Use:   "verify <bundle> --trusted-signers <allowed_signers>",
		Short: "Check a bundle's signature and that its files equal its manifest exactly",
		Args:  exactArgs(1, "<bundle>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return reportPlain(s, verifyBundle(cmd.Context(), s, args[0], trusted, principal))
		},
	}
	cmd.Flags().StringVar(&trusted, "trusted-signers", "", "allowed_signers file (required)")
	cmd.Flags().StringVar(&principal, "principal", "", "require the signer to be listed for this principal")
	return cmd
}

func verifyBundle(ctx context.Context, s streams, name, trustedFile, principal string) error {
	if trustedFile == "" {
		return usageError{errorf("bundle verify needs --trusted-signers <allowed_signers>")}
	}
	trusted, err := loadTrustedSigners(trustedFile)
	if err != nil {
		return err
	}
	f, err := os.Open(name)
	if err != nil {
		return engine.Wrap(engine.KindConfig, err, "cannot read bundle")
	}
	defer f.Close()
	start := time.Now()
	v, err := bundle.Verify(ctx, f, &bundle.ReadOptions{Trusted: trusted, Principal: principal})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "OK %s: %s, %d files, signed by %s (%s), sha256 %s (%.2fs)\n", name, describeManifest(v.Manifest),
		len(v.Manifest.Files), v.Signer.Principals, v.Signer.Fingerprint, v.ArchiveSHA256, time.Since(start).Seconds())
	return nil
}
