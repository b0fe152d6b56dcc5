package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pgmi-cloud/pgmi/pkg/bundle"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// source is what pgmi deploy deploys: a project directory, a bundle file or
// a bundle URL, as an fs.FS for the engine.
type source struct {
	fs.FS
	dir    string // the directory, for a directory source
	bundle *bundle.Bundle
	remote *bundle.Remote
}

func (s *source) isBundle() bool { return s.bundle != nil }

func (s *source) Close() {
	if s.bundle != nil {
		_ = s.bundle.Close()
	}
	if s.remote != nil {
		_ = s.remote.Close()
	}
}

// isBundleURL reports whether arg names a blob URL (s3://, gs://, azblob://, file://, mem://).
func isBundleURL(arg string) bool {
	i := strings.Index(arg, "://")
	return i > 0 && !strings.ContainsAny(arg[:i], `/\.`)
}

func isBundleFile(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasSuffix(lower, ".tar.gz") || strings.HasSuffix(lower, ".tgz") || strings.HasSuffix(lower, ".zip")
}

// openSource opens the deploy argument. Bundles are verified against the
// trusted signers (or explicitly accepted unsigned) before anything is read.
func (d *deployRun) openSource(ctx context.Context, arg string) (*source, error) {
	if isBundleURL(arg) {
		return d.openRemoteBundle(ctx, arg)
	}
	info, err := os.Stat(arg)
	if err != nil {
		return nil, fault.Wrap(fault.Config, err, "project path %q", arg)
	}
	if info.IsDir() {
		abs, _ := filepath.Abs(arg)
		return &source{FS: os.DirFS(abs), dir: abs}, nil
	}
	if !isBundleFile(arg) {
		return nil, fault.Errorf(fault.Config, "%q is neither a project directory nor a bundle (.tar.gz, .tgz or .zip)", arg)
	}
	b, err := d.openBundle(ctx, bundle.OpenFile(arg))
	if err != nil {
		return nil, err
	}
	return &source{FS: b, bundle: b}, nil
}

func (d *deployRun) openRemoteBundle(ctx context.Context, url string) (*source, error) {
	remote, err := bundle.Fetch(ctx, url, d.f.bundleVersion, nil)
	if err != nil {
		return nil, err
	}
	b, err := d.openBundle(ctx, remote.Open)
	if err != nil {
		_ = remote.Close()
		return nil, err
	}
	return &source{FS: b, bundle: b, remote: remote}, nil
}

func (d *deployRun) openBundle(ctx context.Context, open bundle.Opener) (*bundle.Bundle, error) {
	limits, err := bundle.LimitsFromEnv(d.s.env) // the limits pgmi bundle packed under
	if err != nil {
		return nil, err
	}
	opts := &bundle.ReadOptions{AllowUnsigned: d.f.allowUnsigned, Limits: limits}
	switch {
	case d.f.trustedSigners != "":
		trusted, err := loadTrustedSigners(d.f.trustedSigners)
		if err != nil {
			return nil, err
		}
		opts.Trusted = trusted
	case !d.f.allowUnsigned:
		return nil, fault.Errorf(fault.Config, "refusing to deploy a bundle without checking its signature: pass --trusted-signers <allowed_signers file>, or --allow-unsigned for a bundle you built yourself")
	}
	b, err := bundle.Open(ctx, open, opts)
	if err != nil {
		return nil, err
	}
	if s := b.Signer(); s != nil {
		d.out.line(fmt.Sprintf("Bundle %s signed by %s (%s)", describeManifest(b.Manifest()), s.Principals, s.Fingerprint))
	} else {
		d.out.line(fmt.Sprintf("WARNING: bundle %s: signature not checked (--allow-unsigned)", describeManifest(b.Manifest())))
	}
	return b, nil
}

func loadTrustedSigners(name string) (*bundle.AllowedSigners, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fault.Wrap(fault.Config, err, "cannot read --trusted-signers")
	}
	trusted, err := bundle.ParseAllowedSigners(data)
	if err != nil {
		return nil, fault.Wrap(fault.Config, err, "invalid --trusted-signers file %s", name)
	}
	return trusted, nil
}

// describeManifest names a bundle for people: name, version, commit.
func describeManifest(m *bundle.Manifest) string {
	parts := []string{firstNonEmpty(m.Name, "(unnamed)")}
	if m.Version != "" {
		parts = append(parts, m.Version)
	}
	if m.Source != nil && m.Source.Commit != "" {
		c := m.Source.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		parts = append(parts, "commit "+c)
	}
	return strings.Join(parts, " ")
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
