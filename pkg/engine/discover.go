package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// DefaultMaxFileSize is the per-file size cap (pgmi's PGMI_MAX_FILE_SIZE default).
const DefaultMaxFileSize = 10 << 20

// Project is the result of the offline scan: what will be loaded into the
// session, without the file contents (the loader streams them again from the
// same fs.FS, checking they did not change).
type Project struct {
	fsys      fs.FS
	Sources   []SourceFile // non-test files, in walk order
	Tests     []TestFile   // SQL files under __test__/__tests__ directories
	TestDirs  []TestDir    // every directory holding a test file, ascending depth
	DeploySQL string       // deploy.sql, BOM stripped, valid UTF-8
	Scanned   int          // files scanned (pgmi's filesLoaded)
	Paths     []string     // every scanned file's "./" path, in walk order (pgmi's scan order)
	// Set only by an Inspect scan (see ScanOptions.Inspect).
	DeploySQLMissing bool      // the root has no deploy.sql
	Problems         []Problem // invalid <pgmi-meta> blocks, in walk order
}

// SourceFile is one non-test file of the project.
type SourceFile struct {
	Path         string // "./" + slash path, as stored in _pgmi_source.path
	name         string // path inside the fs.FS
	Size         int64  // bytes after BOM removal
	Checksum     string // raw SHA-256
	PGMIChecksum string // normalized SHA-256
	Meta         *Metadata
	bom          bool
}

// TestFile is one SQL file under a test directory.
type TestFile struct {
	Path      string
	Directory string
	Filename  string
	Fixture   bool
	name      string
	Size      int64
	Checksum  string
	bom       bool
}

// TestDir is one test directory.
type TestDir struct {
	Path   string
	Parent string // "" for a root
	Depth  int
}

// ScanOptions tune the offline scan.
type ScanOptions struct {
	MaxFileSize int64 // 0 means DefaultMaxFileSize
	// Inspect scans the way the offline tools (pgmi metadata, pgmi info)
	// need: a missing deploy.sql, invalid <pgmi-meta> blocks and duplicate
	// ids are recorded (Project.DeploySQLMissing, Project.Problems,
	// Project.DuplicateIDs) instead of failing the scan. Deploy never sets it.
	Inspect bool
}

var bomBytes = []byte{0xEF, 0xBB, 0xBF}

// Scan walks a project offline and applies every check that needs no
// server: deploy.sql presence, excluded paths, symlinks, size cap, binary and
// non-UTF-8 content, dunder directories, <pgmi-meta> and duplicate ids. The
// errors are *fault.Error of fault.DeploySQLMissing or fault.Config.
func Scan(fsys fs.FS, opts ScanOptions) (*Project, error) {
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	p := &Project{fsys: fsys}
	if err := p.readDeploySQL(opts.MaxFileSize); err != nil {
		if !opts.Inspect || fault.KindOf(err) != fault.DeploySQLMissing {
			return nil, err
		}
		p.DeploySQLMissing = true
	}
	dirs := map[string]bool{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return fault.Wrap(fault.Config, err, "cannot read project entry %q", name)
		}
		if name == "." {
			return nil
		}
		if excluded(name, d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		return p.scanFile(name, d, opts, dirs)
	})
	if err != nil {
		return nil, err
	}
	p.TestDirs = buildTestDirs(dirs)
	if opts.Inspect {
		return p, nil
	}
	if err := checkDuplicateIDs(p.Sources); err != nil {
		return nil, err
	}
	return p, nil
}

// FS is the file system the project was scanned from.
func (p *Project) FS() fs.FS { return p.fsys }

func (p *Project) readDeploySQL(limit int64) error {
	info, err := fs.Stat(p.fsys, "deploy.sql")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fault.Errorf(fault.DeploySQLMissing, "deploy.sql not found in the project root: every pgmi project needs one")
	case err != nil:
		return fault.Wrap(fault.Config, err, "cannot read deploy.sql")
	case info.IsDir():
		return fault.Errorf(fault.Config, "deploy.sql in the project root is a directory, not a file")
	case !info.Mode().IsRegular():
		return fault.Errorf(fault.Config, "refusing to read deploy.sql: it is not a regular file (symlink or device)")
	}
	data, err := readCapped(p.fsys, "deploy.sql", info.Size(), limit)
	if err != nil {
		return err
	}
	data = StripBOM(data)
	if err := checkText("./deploy.sql", data); err != nil {
		return err
	}
	p.DeploySQL = string(data)
	return nil
}

// excluded reports whether pgmi leaves the entry out of the session: hidden
// segments, node_modules, __pycache__, and the root deploy.sql in any case.
func excluded(name string, isDir bool) bool {
	base := path.Base(name)
	if strings.HasPrefix(base, ".") || base == "node_modules" || base == "__pycache__" {
		return true
	}
	return !isDir && name == base && strings.EqualFold(base, "deploy.sql")
}

var dunderDir = regexp.MustCompile(`/__([^/]*)__/`)
var testDirSegment = regexp.MustCompile(`/__tests?__/`)

// IsTestPath reports whether a "./" path lies under a test directory
// (__test__ or __tests__ at any depth): pgmi's test files.
func IsTestPath(path string) bool { return testDirSegment.MatchString(path) }

func (p *Project) scanFile(name string, d fs.DirEntry, opts ScanOptions, dirs map[string]bool) error {
	limit := opts.MaxFileSize
	rel := "./" + name
	if d.Type()&fs.ModeSymlink != 0 {
		return fault.Errorf(fault.Config, "refusing to read symlink %s: pgmi loads regular files only", rel)
	}
	info, err := d.Info()
	if err != nil {
		return fault.Wrap(fault.Config, err, "cannot stat %s", rel)
	}
	if !info.Mode().IsRegular() {
		return fault.Errorf(fault.Config, "refusing to read %s: not a regular file", rel)
	}
	data, known, err := p.read(name, info.Size(), limit)
	if err != nil {
		return err
	}
	bom := bytes.HasPrefix(data, bomBytes)
	data = StripBOM(data)
	if bom {
		known = "" // the known digest covers the mark; the checksum does not
	}
	raw, norm := checksums(data, known)
	for _, m := range dunderDir.FindAllStringSubmatch(rel, -1) {
		if m[1] != "test" && m[1] != "tests" {
			return fault.Errorf(fault.Config, "unsupported directory %q in path %s: only __test__ and __tests__ are special", "__"+m[1]+"__", rel)
		}
	}
	if err := checkText(rel, data); err != nil {
		return err
	}
	p.Scanned++
	p.Paths = append(p.Paths, rel)
	if testDirSegment.MatchString(rel) {
		p.addTest(rel, name, data, raw, bom, dirs)
		return nil
	}
	f := SourceFile{Path: rel, name: name, Size: int64(len(data)), Checksum: raw, PGMIChecksum: norm, bom: bom}
	if IsSQLExtension(rel) {
		if f.Meta, err = ExtractMetadata(rel, data); err != nil {
			if !opts.Inspect {
				return err
			}
			p.Problems = append(p.Problems, Problem{Path: rel, Err: err})
		}
	}
	p.Sources = append(p.Sources, f)
	return nil
}

func (p *Project) addTest(rel, name string, data []byte, raw string, bom bool, dirs map[string]bool) {
	dir, file := path.Split(rel)
	dirs[dir] = true
	if !IsSQLExtension(file) {
		return
	}
	p.Tests = append(p.Tests, TestFile{
		Path: rel, Directory: dir, Filename: file, name: name, Size: int64(len(data)), Checksum: raw, bom: bom,
		Fixture: strings.EqualFold(file, "_setup.sql") || strings.EqualFold(file, "_setup.psql"),
	})
}

// ContentFS is a file system that already holds some of its files in
// memory, immutable, with the SHA-256 of each: a verified bundle
// (pkg/bundle). The engine reads such files without copying them, takes
// their digest instead of hashing them again, and does not check them for
// changes while loading them, since they cannot change. ok is false for a
// file not held, which is read through Open as on any file system. data is
// shared: the engine never modifies it.
type ContentFS interface {
	fs.FS
	Content(name string) (data []byte, sha256Hex string, ok bool)
}

// read returns a file's contents for the scan, and its SHA-256 when the
// file system already knows it (ContentFS).
func (p *Project) read(name string, size, limit int64) (data []byte, sha256Hex string, err error) {
	if c, ok := p.fsys.(ContentFS); ok {
		if data, sum, ok := c.Content(name); ok {
			if n := int64(len(data)); n > limit {
				return nil, "", fault.Errorf(fault.Config, "file ./%s is %d bytes, over the %d-byte limit (raise PGMI_MAX_FILE_SIZE if it belongs in the session)", name, n, limit)
			}
			return data, sum, nil
		}
	}
	data, err = readCapped(p.fsys, name, size, limit)
	return data, "", err
}

// readSized reads r to its end into a buffer of the expected size (one
// allocation when the size is right, instead of io.ReadAll's growth from
// 512 bytes), growing it only when more comes.
func readSized(r io.Reader, expected int64) ([]byte, error) {
	data := make([]byte, 0, expected)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return data, err
		}
	}
}

// readCapped reads a whole file, refusing it when it is (or grows) larger than limit.
func readCapped(fsys fs.FS, name string, size, limit int64) ([]byte, error) {
	rel := "./" + name
	if size > limit {
		return nil, fault.Errorf(fault.Config, "file %s is %d bytes, over the %d-byte limit (raise PGMI_MAX_FILE_SIZE if it belongs in the session)", rel, size, limit)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fault.Wrap(fault.Config, err, "cannot read %s", rel)
	}
	defer f.Close()
	data, err := readSized(io.LimitReader(f, limit+1), min(size, limit)+1)
	if err != nil {
		return nil, fault.Wrap(fault.Config, err, "cannot read %s", rel)
	}
	if int64(len(data)) > limit {
		return nil, fault.Errorf(fault.Config, "file %s grew past the %d-byte limit while it was read", rel, limit)
	}
	return data, nil
}

// checkText applies pgmi's binary-file rules: no NUL byte, valid UTF-8.
func checkText(rel string, data []byte) error {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return fault.Errorf(fault.Config, "file %s contains a NUL byte at offset %d; binary files cannot be loaded into the session (move it out of the project or into a hidden directory)", rel, i)
	}
	if !utf8.Valid(data) {
		return fault.Errorf(fault.Config, "file %s is not valid UTF-8 (offset %d); convert it to UTF-8 or move it out of the project", rel, invalidUTF8Offset(data))
	}
	return nil
}

func invalidUTF8Offset(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// buildTestDirs orders the test directories by depth and links each to its
// nearest ancestor in the set.
func buildTestDirs(set map[string]bool) []TestDir {
	out := make([]TestDir, 0, len(set))
	for dir := range set {
		out = append(out, TestDir{Path: dir, Parent: nearestAncestor(dir, set), Depth: testDirDepth(dir)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Depth != out[j].Depth {
			return out[i].Depth < out[j].Depth
		}
		return out[i].Path < out[j].Path
	})
	return out
}

func nearestAncestor(dir string, set map[string]bool) string {
	d := strings.TrimSuffix(dir, "/")
	for {
		i := strings.LastIndexByte(d, '/')
		if i <= 0 {
			return ""
		}
		d = d[:i]
		if set[d+"/"] {
			return d + "/"
		}
	}
}

// testDirDepth counts the segments after the first __test__/__tests__ segment.
func testDirDepth(dir string) int {
	loc := testDirSegment.FindStringIndex(dir)
	if loc == nil {
		return 0
	}
	return strings.Count(dir[loc[1]:], "/")
}

func checkDuplicateIDs(files []SourceFile) error {
	var lines []string
	for _, d := range duplicateIDs(files) {
		lines = append(lines, fmt.Sprintf("%s: %s", d.ID, strings.Join(d.Paths, ", ")))
	}
	if len(lines) == 0 {
		return nil
	}
	sort.Strings(lines)
	return fault.Errorf(fault.Config, "duplicate <pgmi-meta> id in several files (each id must be unique):\n  %s", strings.Join(lines, "\n  "))
}
