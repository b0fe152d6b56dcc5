package bundle

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// PackOptions describe the bundle Pack writes. The zero value packs an
// unsigned, anonymous bundle with default limits.
type PackOptions struct {
	Name    string  // manifest name, e.g. the project directory's base name
	Version string  // manifest version, e.g. a release tag
	Source  *Source // source checkout, e.g. from GitSource
	// Created is the creation time recorded in the manifest and used as every
	// entry's modification time, truncated to whole seconds, UTC. Zero means
	// unknown: no "created" field, and entries dated 1970-01-01T00:00:00Z.
	// See CreatedFromEnv and GitSource for deterministic values.
	Created time.Time
	Signer  ssh.Signer // signs the manifest in Namespace; nil writes an unsigned bundle
	// MaxFileSize is the engine's per-file cap (PGMI_MAX_FILE_SIZE); 0 means
	// engine.DefaultMaxFileSize. It also raises Limits.MaxFileSize when larger.
	MaxFileSize int64
	// Limits the bundle must satisfy, so Pack never writes a bundle a reader
	// with the same limits refuses: the archive is read back through
	// Verify as it is written, so the compression ratio, which only the
	// compressed bytes tell, is checked the way every reader checks it.
	// Zero fields take DefaultLimits.
	Limits Limits
	// Level is the gzip level; 0 means gzip.DefaultCompression.
	Level int
}

// Pack writes the project in dir as a bundle to w: the engine's discovery
// rules decide the files (hidden segments, node_modules and __pycache__ left
// out; engine.Scan's refusals of binary, non-UTF-8, symlinked or oversize
// files returned unchanged as *fault.Error), the manifest lists them with
// sizes and SHA-256 digests, and the archive is deterministic (see doc.go).
// It returns the manifest written. On error w holds a partial archive.
func Pack(ctx context.Context, dir fs.FS, w io.Writer, opts *PackOptions) (*Manifest, error) {
	if opts == nil {
		opts = &PackOptions{}
	}
	if _, err := engine.Scan(dir, engine.ScanOptions{MaxFileSize: opts.MaxFileSize}); err != nil {
		return nil, err
	}
	lim := opts.Limits
	if opts.MaxFileSize > lim.withDefaults().MaxFileSize {
		lim.MaxFileSize = opts.MaxFileSize
	}
	m, err := buildManifest(ctx, dir, opts, lim)
	if err != nil {
		return nil, err
	}
	data, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	if max := lim.withDefaults().MaxManifestSize; int64(len(data)) > max {
		return nil, reject(ErrManifestTooBig, ManifestPath, "%d bytes, limit %d", len(data), max)
	}
	var sig []byte
	if opts.Signer != nil {
		if sig, err = Sign(opts.Signer, Namespace, data); err != nil {
			return nil, err
		}
	}
	check := newReadBack(ctx, lim)
	err = writeArchive(ctx, dir, io.MultiWriter(w, check), m, data, sig, opts.Level)
	if cerr := check.wait(err); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

func buildManifest(ctx context.Context, dir fs.FS, opts *PackOptions, lim Limits) (*Manifest, error) {
	names, err := bundleFiles(dir)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Format: FormatVersion, Name: opts.Name, Version: opts.Version, Source: opts.Source}
	if !opts.Created.IsZero() {
		c := opts.Created.UTC().Truncate(time.Second)
		m.Created = &c
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		size, sum, err := hashFile(dir, name)
		if err != nil {
			return nil, err
		}
		m.Files = append(m.Files, File{Path: name, Size: size, SHA256: sum})
	}
	if err := m.Validate(lim); err != nil {
		return nil, err
	}
	return m, nil
}

// bundleFiles lists the files the engine would see, in bundle order.
func bundleFiles(dir fs.FS) ([]string, error) {
	var names []string
	err := fs.WalkDir(dir, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		if excludedSegment(path.Base(name)) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		// The engine reads the root deploy.sql by exact name and ignores
		// every other root file whose name folds to it.
		if !strings.Contains(name, "/") && strings.EqualFold(name, DeployPath) && name != DeployPath {
			return nil
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot list project files: %w", err)
	}
	sort.Slice(names, func(i, j int) bool { return lessPath(names[i], names[j]) })
	return names, nil
}

func hashFile(dir fs.FS, name string) (int64, string, error) {
	f, err := dir.Open(name)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("cannot read %s: %w", name, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

func writeArchive(ctx context.Context, dir fs.FS, w io.Writer, m *Manifest, manifest, sig []byte, level int) error {
	if level == 0 {
		level = gzip.DefaultCompression
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	gz, err := gzip.NewWriterLevel(bw, level) // header: no name, no mtime
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	mtime := zeroTime
	if m.Created != nil {
		mtime = *m.Created
	}
	if err := writeEntry(tw, ManifestPath, int64(len(manifest)), mtime, bytesReader(manifest)); err != nil {
		return err
	}
	if sig != nil {
		if err := writeEntry(tw, SignaturePath, int64(len(sig)), mtime, bytesReader(sig)); err != nil {
			return err
		}
	}
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := copyFile(tw, dir, f, mtime); err != nil {
			return err
		}
	}
	return errors.Join(tw.Close(), gz.Close(), bw.Flush())
}

// copyFile streams one file into the archive, checking it still has the
// size and digest recorded in the manifest.
func copyFile(tw *tar.Writer, dir fs.FS, f File, mtime time.Time) error {
	src, err := dir.Open(f.Path)
	if err != nil {
		return err
	}
	defer src.Close()
	h := sha256.New()
	err = writeEntry(tw, f.Path, f.Size, mtime, func(w io.Writer) error {
		n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(src, f.Size+1))
		if err == nil && n != f.Size {
			err = fmt.Errorf("%s changed size while it was packed", f.Path)
		}
		return err
	})
	if err == nil && hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		err = fmt.Errorf("%s changed while it was packed", f.Path)
	}
	return err
}

func writeEntry(tw *tar.Writer, name string, size int64, mtime time.Time, body func(io.Writer) error) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     size,
		Mode:     fileMode,
		ModTime:  mtime,
		Format:   tar.FormatPAX, // USTAR block; PAX "path" record only for long or non-ASCII names
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("cannot write %s: %w", name, err)
	}
	return body(tw)
}

func bytesReader(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}
