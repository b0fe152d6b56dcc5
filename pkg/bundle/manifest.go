package bundle

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Manifest is the signed index of a bundle: its identity and every file with
// its size and SHA-256, in bundle order (deploy.sql first, then walk order).
// Its JSON encoding, exactly as produced by Marshal, is .pgmi/manifest.json.
type Manifest struct {
	Format  string  `json:"format"`            // FormatVersion
	Name    string  `json:"name,omitempty"`    // bundle name, e.g. the project directory name
	Version string  `json:"version,omitempty"` // release version chosen by the publisher
	Source  *Source `json:"source,omitempty"`  // where the files came from, when known
	// Created is the bundle's creation time, UTC, whole seconds; nil when unknown.
	Created *time.Time `json:"created,omitempty"`
	Files   []File     `json:"files"`
}

// Source describes the checkout a bundle was packed from.
type Source struct {
	Commit string `json:"commit,omitempty"` // git commit id of HEAD
	Dirty  bool   `json:"dirty,omitempty"`  // the work tree had uncommitted changes
}

// File is one manifest entry.
type File struct {
	Path   string `json:"path"`   // slash path from the bundle root
	Size   int64  `json:"size"`   // bytes
	SHA256 string `json:"sha256"` // lower-case hex digest of the contents
}

// TotalSize is the sum of the file sizes.
func (m *Manifest) TotalSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// Marshal encodes the manifest canonically: compact JSON, fields in
// declaration order, a final newline. The bytes are what gets signed.
func (m *Manifest) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ParseManifest decodes and validates .pgmi/manifest.json against lim: the
// format version, the canonical encoding (so one manifest has exactly one
// byte form), every path rule, sorted unique files, no case collisions, no
// file that is also a directory, deploy.sql present, and the count and size
// limits. Errors are *Error.
func ParseManifest(data []byte, lim Limits) (*Manifest, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxManifestSize {
		return nil, reject(ErrManifestTooBig, ManifestPath, "%d bytes, limit %d", len(data), lim.MaxManifestSize)
	}
	var probe struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, rejectErr(ErrManifest, ManifestPath, err)
	}
	if probe.Format != FormatVersion {
		return nil, reject(ErrFormatVersion, ManifestPath, "%q, this build reads %q", probe.Format, FormatVersion)
	}
	m := new(Manifest)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return nil, rejectErr(ErrManifest, ManifestPath, err)
	}
	canon, err := m.Marshal()
	if err != nil || !bytes.Equal(canon, data) {
		return nil, reject(ErrManifest, ManifestPath, "not in canonical form (as written by pgmi bundle)")
	}
	if err := m.Validate(lim); err != nil {
		return nil, err
	}
	return m, nil
}

// Validate checks the manifest's files against the format rules and lim.
func (m *Manifest) Validate(lim Limits) error {
	lim = lim.withDefaults()
	if m.Format != FormatVersion {
		return reject(ErrFormatVersion, ManifestPath, "%q", m.Format)
	}
	if m.Created != nil && (m.Created.Location() != time.UTC || m.Created.Nanosecond() != 0) {
		return reject(ErrManifest, ManifestPath, "created must be UTC whole seconds")
	}
	if len(m.Files) > lim.MaxFiles {
		return reject(ErrTooManyFiles, "", "%d files, limit %d", len(m.Files), lim.MaxFiles)
	}
	var total int64
	for i, f := range m.Files {
		if err := checkFileEntry(f, lim); err != nil {
			return err
		}
		if i > 0 && !lessPath(m.Files[i-1].Path, f.Path) {
			if m.Files[i-1].Path == f.Path {
				return reject(ErrDuplicate, f.Path, "listed twice in the manifest")
			}
			return reject(ErrUnsorted, f.Path, "after %q", m.Files[i-1].Path)
		}
		if total += f.Size; total > lim.MaxTotalSize {
			return reject(ErrTooLarge, "", "over %d bytes", lim.MaxTotalSize)
		}
	}
	if len(m.Files) == 0 || m.Files[0].Path != DeployPath {
		return reject(ErrMissingDeploy, DeployPath, "")
	}
	return checkCollisions(m.Files)
}

func checkFileEntry(f File, lim Limits) error {
	if err := checkPath(f.Path, lim); err != nil {
		return err
	}
	switch {
	case f.Size < 0:
		return reject(ErrManifest, f.Path, "negative size")
	case f.Size > lim.MaxFileSize:
		return reject(ErrFileTooLarge, f.Path, "%d bytes, limit %d", f.Size, lim.MaxFileSize)
	}
	if len(f.SHA256) != 64 || f.SHA256 != hex.EncodeToString(mustHex(f.SHA256)) {
		return reject(ErrManifest, f.Path, "sha256 must be 64 lower-case hex digits")
	}
	return nil
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

// checkCollisions rejects two paths that differ only in case or
// normalization, and a path used both as a file and as a directory.
func checkCollisions(files []File) error {
	type seen struct {
		path string
		dir  bool
	}
	keys := make(map[string]seen, len(files)*2)
	add := func(p string, dir bool) error {
		k := foldKey(p)
		prev, ok := keys[k]
		switch {
		case !ok:
			keys[k] = seen{p, dir}
			return nil
		case prev.path != p:
			return reject(ErrCaseCollision, p, "collides with %q", prev.path)
		case prev.dir != dir:
			return reject(ErrFileDirClash, p, "")
		case !dir:
			return reject(ErrDuplicate, p, "")
		}
		return nil
	}
	for _, f := range files {
		for _, d := range parentDirs(f.Path) {
			if err := add(d, true); err != nil {
				return err
			}
		}
		if err := add(f.Path, false); err != nil {
			return err
		}
	}
	return nil
}

// String summarizes the manifest for logs.
func (m *Manifest) String() string {
	id := m.Name
	if m.Version != "" {
		id += "@" + m.Version
	}
	return fmt.Sprintf("bundle %s (%d files, %d bytes)", id, len(m.Files), m.TotalSize())
}
