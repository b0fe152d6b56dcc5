package bundle

import (
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Format identifiers and fixed names of the bundle format (see doc.go).
const (
	// FormatVersion is the manifest's "format" value written by this package.
	FormatVersion = "pgmi-bundle/1"
	// Namespace is the SSH signature namespace of bundle manifests
	// (ssh-keygen -Y sign -n pgmi-bundle@v1).
	Namespace = "pgmi-bundle@v1"
	// ManifestPath and SignaturePath are the first two archive entries.
	ManifestPath  = ".pgmi/manifest.json"
	SignaturePath = ".pgmi/manifest.sig"
	// DeployPath is the one file every bundle must hold.
	DeployPath = "deploy.sql"
)

// File modes written into archives and reported by the bundle's fs.FS.
const (
	fileMode = 0o644
	dirMode  = 0o755
)

// checkPath applies the path rules of the format to one manifest or archive
// path: relative, slash-separated, clean, valid UTF-8 without control
// characters or backslashes, within the length and depth limits, and not a
// path the engine excludes.
func checkPath(p string, lim Limits) error {
	switch {
	case !utf8.ValidString(p):
		return reject(ErrNotUTF8, p, "")
	case strings.HasPrefix(p, "/") || (len(p) > 1 && p[1] == ':'):
		return reject(ErrAbsolutePath, p, "")
	case len(p) > lim.MaxPathLength:
		return reject(ErrPathTooLong, p, "%d bytes, limit %d", len(p), lim.MaxPathLength)
	}
	segs := strings.Split(p, "/")
	if len(segs) > lim.MaxPathDepth {
		return reject(ErrPathTooDeep, p, "%d segments, limit %d", len(segs), lim.MaxPathDepth)
	}
	for _, s := range segs {
		if s == ".." || s == "." {
			return reject(ErrDotDot, p, "")
		}
		if s == "" || strings.ContainsFunc(s, badRune) {
			return reject(ErrInvalidPath, p, "")
		}
		if excludedSegment(s) {
			return reject(ErrExcludedPath, p, "segment %q", s)
		}
	}
	return nil
}

func badRune(r rune) bool { return r == '\\' || unicode.IsControl(r) }

// excludedSegment mirrors the engine's discovery rules: hidden segments,
// node_modules and __pycache__ are never loaded, so a bundle never holds them.
func excludedSegment(s string) bool {
	return strings.HasPrefix(s, ".") || s == "node_modules" || s == "__pycache__"
}

// foldKey is the key under which two paths collide on a case-insensitive or
// normalizing file system (macOS, Windows).
func foldKey(p string) string {
	return strings.ToLower(strings.ToUpper(norm.NFC.String(p)))
}

// lessPath is bundle order: deploy.sql first, then the order fs.WalkDir visits
// the files (segment by segment, each directory's entries sorted by name).
// The engine reads deploy.sql, then walks; in this order its scan is a single
// forward pass over the archive.
func lessPath(a, b string) bool {
	if a == b {
		return false
	}
	if a == DeployPath || b == DeployPath {
		return a == DeployPath
	}
	for {
		as, arest, amore := strings.Cut(a, "/")
		bs, brest, bmore := strings.Cut(b, "/")
		if as != bs {
			return as < bs
		}
		if !amore || !bmore {
			return !amore && bmore // a file sorts before ... never happens for distinct valid files
		}
		a, b = arest, brest
	}
}

// parentDirs lists the directories above p, innermost last ("a", "a/b").
func parentDirs(p string) []string {
	var out []string
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		out = append(out, d)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// zeroTime is the archive modification time when no creation time is known.
var zeroTime = time.Unix(0, 0).UTC()
