// Command zipdir writes a deterministic zip of a directory tree: the same
// files give the same bytes on every machine, whatever their timestamps,
// owners or the umask. scripts/package.sh uses it for the function
// artifacts, so no zip CLI is needed.
//
//	zipdir -o dist/aws/pgmi-aws-arm64.zip -x bootstrap build/aws-arm64
//
// Every regular file under the directory becomes one entry, in byte order
// of its slash-separated path, deflated, with the modification time
// SOURCE_DATE_EPOCH (seconds; default 1980-01-01T00:00:00Z, the earliest a
// zip can hold) and Unix mode 0644, or 0755 for the paths named with -x.
// Directories get no entries of their own. Symbolic links, devices and
// other special files are refused: an artifact holds files only.
package main

import (
	"archive/zip"
	"compress/flate"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Getenv("SOURCE_DATE_EPOCH")); err != nil {
		fmt.Fprintln(os.Stderr, "zipdir:", err)
		os.Exit(1)
	}
}

// execList collects the repeated -x flag.
type execList map[string]bool

func (e execList) String() string { return strings.Join(sortedKeys(e), ",") }

func (e execList) Set(v string) error {
	v = filepath.ToSlash(filepath.Clean(v))
	if v == "." || strings.HasPrefix(v, "../") || filepath.IsAbs(v) {
		return fmt.Errorf("-x %q: name a file inside the directory, relative to it", v)
	}
	e[v] = true
	return nil
}

func run(args []string, epoch string) error {
	fl := flag.NewFlagSet("zipdir", flag.ContinueOnError)
	out := fl.String("o", "", "the zip file to write (required)")
	execs := execList{}
	fl.Var(execs, "x", "a path, relative to the directory, stored with mode 0755 (repeatable)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *out == "" || fl.NArg() != 1 {
		return errors.New("usage: zipdir -o out.zip [-x executable]... dir")
	}
	mtime, err := modTime(epoch)
	if err != nil {
		return err
	}
	return Write(*out, fl.Arg(0), execs, mtime)
}

// modTime is SOURCE_DATE_EPOCH as a time, or the zip epoch when unset.
func modTime(epoch string) (time.Time, error) {
	if epoch == "" {
		return time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), nil
	}
	s, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || s < 315532800 { // 1980-01-01, the earliest DOS date
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970, not before 1980", epoch)
	}
	return time.Unix(s, 0).UTC(), nil
}

// Write zips the regular files under dir into out (see the package doc).
// Every path in execs must exist, so a typo cannot ship a handler that is
// not executable.
func Write(out, dir string, execs map[string]bool, mtime time.Time) error {
	files, err := listFiles(dir)
	if err != nil {
		return err
	}
	if err := checkExecs(files, execs); err != nil {
		return err
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := writeZip(f, dir, files, execs, mtime); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// listFiles returns the slash-separated paths of the regular files under
// dir, sorted.
func listFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file (%s): artifacts hold files only", rel, d.Type())
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no files", dir)
	}
	sort.Strings(files)
	return files, nil
}

func checkExecs(files []string, execs map[string]bool) error {
	have := map[string]bool{}
	for _, f := range files {
		have[f] = true
	}
	for _, x := range sortedKeys(execs) {
		if !have[x] {
			return fmt.Errorf("-x %s: no such file in the directory", x)
		}
	}
	return nil
}

func writeZip(w io.Writer, dir string, files []string, execs map[string]bool, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.DefaultCompression)
	})
	for _, name := range files {
		if err := addFile(zw, dir, name, execs[name], mtime); err != nil {
			return err
		}
	}
	return zw.Close()
}

func addFile(zw *zip.Writer, dir, name string, exec bool, mtime time.Time) error {
	hdr := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mtime}
	mode := fs.FileMode(0o644)
	if exec {
		mode = 0o755
	}
	hdr.SetMode(mode)
	dst, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	src, err := os.Open(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = io.Copy(dst, src)
	return err
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
