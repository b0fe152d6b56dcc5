package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"testing/iotest"

	"gocloud.dev/gcerrors"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

func TestPackDeterministic(t *testing.T) {
	k := newKey(t)
	opts := &PackOptions{Name: "demo", Version: "1.2.3", Created: fixedTime, Signer: k.signer, Source: &Source{Commit: "abc"}}
	a, m := pack(t, testProject(), opts)
	b, _ := pack(t, testProject(), opts)
	if !bytes.Equal(a, b) {
		t.Fatal("packing the same tree twice gave different bytes")
	}
	var got []string
	for _, f := range m.Files {
		got = append(got, f.Path)
	}
	want := []string{"deploy.sql", "README.md", "__tests__/_setup.sql", "__tests__/test_basic.sql", "data/seed.csv",
		"migrations/001_init.sql", "migrations/002_more.sql", "migrations.sql", "pgmi.yaml",
		"schema/__test__/test_t.sql", "schema/tables.sql"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v\nwant %v", got, want)
	}
}

func TestArchiveLayout(t *testing.T) {
	k := newKey(t)
	data, m := pack(t, testProject(), &PackOptions{Created: fixedTime, Signer: k.signer})
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Fatalf("gzip header carries name %q / mtime %v", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Mode != 0o644 || hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" || !hdr.ModTime.Equal(fixedTime) {
			t.Fatalf("entry %s: mode %o uid %d gid %d %q %q mtime %v", hdr.Name, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname, hdr.ModTime)
		}
		if hdr.Format != tar.FormatUSTAR {
			t.Fatalf("entry %s written as %v, want a plain USTAR header", hdr.Name, hdr.Format)
		}
		names = append(names, hdr.Name)
	}
	if names[0] != ManifestPath || names[1] != SignaturePath || names[2] != DeployPath || len(names) != len(m.Files)+2 {
		t.Fatalf("archive order %v", names)
	}
}

func TestPackRefusesWhatTheEngineRefuses(t *testing.T) {
	cases := map[string]fstest.MapFS{
		"binary":    {"deploy.sql": {Data: []byte("SELECT 1;")}, "x.sql": {Data: []byte("a\x00b")}},
		"not utf-8": {"deploy.sql": {Data: []byte("SELECT 1;")}, "x.sql": {Data: []byte("caf\xe9")}},
		"symlink":   {"deploy.sql": {Data: []byte("SELECT 1;")}, "x.sql": {Data: []byte("deploy.sql"), Mode: fs.ModeSymlink}},
		"oversize":  {"deploy.sql": {Data: []byte("SELECT 1;")}, "x.sql": {Data: bytes.Repeat([]byte("a"), 2048)}},
		"no deploy": {"x.sql": {Data: []byte("SELECT 1;")}},
	}
	for name, fsys := range cases {
		t.Run(name, func(t *testing.T) {
			_, want := engine.Scan(fsys, engine.ScanOptions{MaxFileSize: 1024})
			_, err := Pack(context.Background(), fsys, io.Discard, &PackOptions{MaxFileSize: 1024})
			if err == nil || want == nil || err.Error() != want.Error() || exitcode.Of(err) != exitcode.Of(want) {
				t.Fatalf("Pack error %v, engine error %v", err, want)
			}
		})
	}
}

func TestPackFromDirectory(t *testing.T) {
	dir := t.TempDir()
	for name, f := range testProject() {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, f.Data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := pack(t, os.DirFS(dir), &PackOptions{Created: fixedTime})
	b, _ := pack(t, testProject(), &PackOptions{Created: fixedTime})
	if !bytes.Equal(a, b) {
		t.Fatal("a directory and the same tree in memory packed differently (modes or times leak)")
	}
}

// TestEngineAccessPattern runs the engine's offline scan over the opened
// bundle, then the load pattern (non-test files, then test files, each in
// walk order), and counts the passes over the source.
func TestEngineAccessPattern(t *testing.T) {
	k := newKey(t)
	data, _ := pack(t, testProject(), &PackOptions{Signer: k.signer})
	for _, tc := range []struct {
		name  string
		cache int64
		want  int
	}{{"cache", 0, 1}, {"no cache", -1, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			var opens int
			b, err := Open(context.Background(), bytesOpener(data, &opens), &ReadOptions{Trusted: k.allowed(t, "ci@example.com"), Limits: Limits{CacheSize: tc.cache}})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			p, err := engine.Scan(b, engine.ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Scanned != 10 || len(p.Tests) != 3 {
				t.Fatalf("engine scanned %d files, %d tests", p.Scanned, len(p.Tests))
			}
			src := testProject()
			check := func(name string) {
				got, err := fs.ReadFile(b, name)
				if err != nil || !bytes.Equal(got, src[name].Data) {
					t.Fatalf("%s: %q, %v", name, got, err)
				}
			}
			for _, f := range p.Sources {
				check(strings.TrimPrefix(f.Path, "./"))
			}
			for _, f := range p.Tests {
				check(strings.TrimPrefix(f.Path, "./"))
			}
			if b.Passes() != tc.want || opens != tc.want {
				t.Fatalf("%d passes (%d opens), want %d", b.Passes(), opens, tc.want)
			}
		})
	}
}

func TestFSConformance(t *testing.T) {
	data, m := pack(t, testProject(), &PackOptions{})
	b, err := Open(context.Background(), bytesOpener(data, nil), &ReadOptions{AllowUnsigned: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Path)
	}
	if err := fstest.TestFS(b, names...); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyAndOpenFile(t *testing.T) {
	k := newKey(t)
	data, m := pack(t, testProject(), &PackOptions{Signer: k.signer, Name: "demo"})
	p := writeTemp(t, "b.tgz", data)
	trusted := k.allowed(t, `ci@example.com namespaces="pgmi-bundle@v1"`)
	f, _ := os.Open(p)
	defer f.Close()
	v, err := Verify(context.Background(), f, &ReadOptions{Trusted: trusted})
	if err != nil {
		t.Fatal(err)
	}
	if v.Signer == nil || v.Signer.Principals != "ci@example.com" || v.Manifest.Name != "demo" || v.ArchiveSize != int64(len(data)) || v.ArchiveSHA256 != sha(data) {
		t.Fatalf("verified %+v signer %+v", v, v.Signer)
	}
	b, err := Open(context.Background(), OpenFile(p), &ReadOptions{Trusted: trusted})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := readEverything(b); err != nil {
		t.Fatal(err)
	}
	if len(b.Manifest().Files) != len(m.Files) {
		t.Fatal("manifest differs")
	}
}

func TestTamperedFileFailsTheRead(t *testing.T) {
	body := []byte("SELECT 1;\n")
	other := []byte("SELECT 2;\n")
	m := manifestFor(regular(DeployPath, body))
	data := archive(t, append(head(t, m, nil), regular(DeployPath, other))...)
	b, err := Open(context.Background(), bytesOpener(data, nil), &ReadOptions{AllowUnsigned: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = fs.ReadFile(b, DeployPath)
	wantRule(t, err, ErrDigestMismatch)
	if !strings.Contains(err.Error(), `"deploy.sql"`) {
		t.Fatalf("error does not name the entry: %v", err)
	}
	var coded fault.Kinder
	if !errors.As(err, &coded) || coded.FaultKind() != fault.Config || exitcode.Of(err) != 10 {
		t.Fatalf("exit code of %v", err)
	}
}

func TestZipBundle(t *testing.T) {
	k := newKey(t)
	data, m := pack(t, testProject(), &PackOptions{Signer: k.signer})
	zipped := tarToZip(t, data, nil)
	p := writeTemp(t, "b.zip", zipped)
	trusted := k.allowed(t, "*")
	b, err := Open(context.Background(), OpenFile(p), &ReadOptions{Trusted: trusted})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := readEverything(b); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Scan(b, engine.ScanOptions{}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	v, err := Verify(context.Background(), f, &ReadOptions{Trusted: trusted})
	if err != nil || len(v.Manifest.Files) != len(m.Files) {
		t.Fatalf("Verify zip: %v", err)
	}
}

// VerifyOpen's verification pass is the bundle's only read when its files
// fit the cache: the engine's reads (twice over, as scan and load do) are
// served from memory, with the same bytes. A bundle larger than the cache
// is read again for the files not kept, still correctly.
func TestVerifyOpenReadsTheSourceOnce(t *testing.T) {
	k := newKey(t)
	proj := testProject()
	proj["data/big.txt"] = &fstest.MapFile{Data: bytes.Repeat([]byte("0123456789abcdef\n"), 4096), Mode: 0o644}
	data, m := pack(t, proj, &PackOptions{Signer: k.signer})
	trusted := k.allowed(t, "*")
	for _, c := range []struct {
		name      string
		cache     int64
		wantOpens int
	}{
		{"within the cache", 0, 1},
		{"cache too small", 1 << 10, 3}, // the big file, read twice, takes a pass each time
		{"no cache", -1, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			opens := 0
			v, b, err := VerifyOpen(context.Background(), bytesOpener(data, &opens), &ReadOptions{Trusted: trusted, Limits: Limits{CacheSize: c.cache}})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if v.ArchiveSHA256 != sha(data) || v.ArchiveSize != int64(len(data)) || v.Signer == nil || len(v.Manifest.Files) != len(m.Files) {
				t.Fatalf("verified %+v", v)
			}
			held := 0
			for _, f := range m.Files {
				// What verification kept is served from memory, with the
				// digest it was verified against (engine.ContentFS).
				data, digest, ok := b.Content(f.Path)
				if ok {
					held++
					if sha(data) != f.SHA256 || digest != f.SHA256 {
						t.Fatalf("%s: Content gives %d bytes hashing to %s, digest %s; want %s", f.Path, len(data), sha(data), digest, f.SHA256)
					}
				}
				if big := f.Path == "data/big.txt"; ok != (c.cache == 0 || (c.cache > 0 && !big)) {
					t.Fatalf("%s: held %v with cache %d", f.Path, ok, c.cache)
				}
			}
			if _, _, ok := b.Content("data"); ok || held == 0 && c.cache >= 0 {
				t.Fatalf("a directory is held, or nothing is (%d files held)", held)
			}
			for range 2 {
				for _, f := range m.Files {
					got, err := b.ReadFile(f.Path)
					if err != nil {
						t.Fatal(err)
					}
					if sha(got) != f.SHA256 {
						t.Fatalf("%s: wrong contents", f.Path)
					}
				}
			}
			if opens != c.wantOpens || b.Passes() != c.wantOpens {
				t.Fatalf("source opened %d times (passes %d), want %d", opens, b.Passes(), c.wantOpens)
			}
		})
	}
}

// A download that breaks off while the bundle is verified is the fetch's
// failure, retryable as such, not a corrupt archive: at any point of the
// stream (the gzip header, a tar header, a file, the end of the archive).
func TestBrokenDownloadIsNotCorrupt(t *testing.T) {
	k := newKey(t)
	proj := testProject()
	proj["data/big.txt"] = &fstest.MapFile{Data: bytes.Repeat([]byte("0123456789abcdef\n"), 40000), Mode: 0o644}
	data, _ := pack(t, proj, &PackOptions{Signer: k.signer})
	opts := &ReadOptions{Trusted: k.allowed(t, "*")}
	for _, at := range []int{0, 1, 20, 600, len(data) / 2, len(data) - 1} {
		broken := &FetchError{URL: "s3://b/k.tgz", Code: gcerrors.Internal, Err: errors.New("connection reset by peer")}
		open := func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(bytes.NewReader(data[:at]), iotest.ErrReader(broken))), nil
		}
		_, b, err := VerifyOpen(context.Background(), open, opts)
		if b != nil {
			b.Close()
		}
		var fe *FetchError
		if !errors.As(err, &fe) || !fe.Retryable() || errors.Is(err, ErrCorrupt) {
			t.Fatalf("broken after %d of %d bytes: %v (want the fetch error, retryable)", at, len(data), err)
		}
		r, _ := open(context.Background())
		if _, err := Verify(context.Background(), r, opts); !errors.As(err, &fe) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("Verify, broken after %d bytes: %v", at, err)
		}
	}
}
