package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/crypto/ssh"
)

func testProject() fstest.MapFS {
	f := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }
	return fstest.MapFS{
		"deploy.sql":                 f("SELECT 1;\n"),
		"migrations/001_init.sql":    f("CREATE TABLE t (id int);\n"),
		"migrations/002_more.sql":    f("ALTER TABLE t ADD COLUMN name text;\n"),
		"migrations.sql":             f("-- sorts after the migrations directory in walk order\n"),
		"data/seed.csv":              f("id,name\n1,a\n"),
		"__tests__/_setup.sql":       f("SELECT 'setup';\n"),
		"__tests__/test_basic.sql":   f("SELECT 'test';\n"),
		"schema/__test__/test_t.sql": f("SELECT 't';\n"),
		"schema/tables.sql":          f("-- tables\n"),
		"pgmi.yaml":                  f("params: {}\n"),
		"README.md":                  f("# readme ünïcödé\n"),
		".env":                       f("PGPASSWORD=secret\n"),
		".hidden/ignored.sql":        f("SELECT 'hidden';\n"),
		"node_modules/x/index.js":    f("x\n"),
		"schema/__pycache__/x.pyc":   f("x\n"),
		"DEPLOY.SQL":                 f("-- ignored by the engine\n"),
	}
}

type testKey struct {
	signer ssh.Signer
	pemKey []byte // OpenSSH private key
	pub    string // authorized_keys line
}

func newKey(t testing.TB) testKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test key")
	if err != nil {
		t.Fatal(err)
	}
	return testKey{signer: signer, pemKey: pem.EncodeToMemory(block), pub: string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(signer.PublicKey())))}
}

func (k testKey) allowed(t testing.TB, line string) *AllowedSigners {
	t.Helper()
	a, err := ParseAllowedSigners([]byte(line + " " + k.pub + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var fixedTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func pack(t testing.TB, fsys fs.FS, opts *PackOptions) ([]byte, *Manifest) {
	t.Helper()
	var buf bytes.Buffer
	m, err := Pack(context.Background(), fsys, &buf, opts)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return buf.Bytes(), m
}

func bytesOpener(data []byte, opens *int) Opener {
	return func(context.Context) (io.ReadCloser, error) {
		if opens != nil {
			*opens++
		}
		return io.NopCloser(bytes.NewReader(data)), nil
	}
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// entry is one raw archive entry for hostile archives.
type entry struct {
	hdr  tar.Header
	body []byte
	raw  []byte // a hand-made header block used instead of hdr
}

func regular(name string, body []byte) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(body)), Mode: 0o644, Format: tar.FormatPAX}, body: body}
}

// archive writes a gzip tar with the given entries, no checks at all.
func archive(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		if e.raw != nil {
			tw.Flush()
			gz.Write(e.raw)
			gz.Write(e.body)
			if pad := (512 - len(e.body)%512) % 512; pad > 0 {
				gz.Write(make([]byte, pad))
			}
			continue
		}
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("header %q: %v", hdr.Name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// rawHeader makes a USTAR header block by hand, for names the tar package
// refuses to write.
func rawHeader(name string, size int64, typ byte) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], []byte(octal(size, 11)+"\x00"))
	copy(b[136:148], "00000000000\x00")
	b[156] = typ
	copy(b[257:263], "ustar\x00")
	copy(b[263:265], "00")
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	copy(b[148:156], []byte(octal(sum, 6)+"\x00 "))
	return b
}

func octal(v int64, width int) string {
	s := ""
	for i := 0; i < width; i++ {
		s = string(rune('0'+v%8)) + s
		v /= 8
	}
	return s
}

// files makes manifest entries for name/body pairs, in bundle order.
func manifestFor(pairs ...entry) *Manifest {
	m := &Manifest{Format: FormatVersion}
	for _, e := range pairs {
		m.Files = append(m.Files, File{Path: e.hdr.Name, Size: int64(len(e.body)), SHA256: sha(e.body)})
	}
	return m
}

func sha(b []byte) string {
	h := sha256Hex(b)
	return h
}

// head makes the manifest and signature entries for m.
func head(t testing.TB, m *Manifest, k *testKey) []entry {
	t.Helper()
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out := []entry{regular(ManifestPath, data)}
	if k != nil {
		sig, err := Sign(k.signer, Namespace, data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, regular(SignaturePath, sig))
	}
	return out
}

// readEverything loads a bundle the way the engine does: deploy.sql, a walk
// reading every file, then every file again.
func readEverything(b fs.FS) error {
	if _, err := fs.ReadFile(b, DeployPath); err != nil {
		return err
	}
	return fs.WalkDir(b, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		_, err = fs.ReadFile(b, name)
		return err
	})
}

func wantRule(t *testing.T, err, rule error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", rule)
	}
	if !errors.Is(err, rule) {
		t.Fatalf("error %v, want rule %v", err, rule)
	}
	var be *Error
	if !errors.As(err, &be) {
		t.Fatalf("error %T %v is not a *bundle.Error", err, err)
	}
}
