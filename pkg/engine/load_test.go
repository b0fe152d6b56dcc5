package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// loadCorpus is text with every byte COPY escapes, multi-byte runes and long
// lines, so escaped output crosses the loader's buffer boundaries anywhere.
func loadCorpus(seed uint64, n int) string {
	pieces := []string{"\\", "\t", "\r", "\n", "\r\n", "\\N", "é", "€", "𝄞", "SELECT 1;", "'a\\tb'", " ", "x"}
	rng := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

// shortReads serves every file a few bytes per Read, as a network file
// system may.
type shortReads struct{ fstest.MapFS }

func (s shortReads) Open(name string) (fs.File, error) {
	f, err := s.MapFS.Open(name)
	if err != nil {
		return nil, err
	}
	if _, dir := f.(fs.ReadDirFile); dir {
		return f, nil
	}
	return shortFile{f}, nil
}

type shortFile struct{ fs.File }

func (f shortFile) Read(p []byte) (int, error) { return f.File.Read(p[:min(len(p), 2)]) }

// heldFS is an engine.ContentFS holding every file but deploy.sql, as a
// verified bundle does: opening a held file fails, so a test passes only
// when the engine takes held files from Content.
type heldFS struct{ fstest.MapFS }

func (h heldFS) Content(name string) ([]byte, string, bool) {
	f, ok := h.MapFS[name]
	if !ok || name == "deploy.sql" {
		return nil, "", false
	}
	sum := sha256.Sum256(f.Data)
	return f.Data, hex.EncodeToString(sum[:]), true
}

func (h heldFS) Open(name string) (fs.File, error) {
	if _, _, ok := h.Content(name); ok {
		return nil, fmt.Errorf("%s is held in memory: the engine must not open it", name)
	}
	return h.MapFS.Open(name)
}

// The engine takes a held file's digest as the file system reports it
// (verification computed it) instead of hashing the file again, except
// when a byte order mark is stripped: the checksum covers the text after
// it.
func TestContentFSDigestIsTaken(t *testing.T) {
	const bom = "\xEF\xBB\xBF"
	fsys := lyingFS{heldFS{fstest.MapFS{
		"deploy.sql": {Data: []byte("SELECT 1;")},
		"a.sql":      {Data: []byte("SELECT 2;")},
		"b.sql":      {Data: []byte(bom + "SELECT 3;")},
	}}}
	p, err := engine.Scan(fsys, engine.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	three := sha256.Sum256([]byte("SELECT 3;"))
	want := map[string]string{"./a.sql": strings.Repeat("ab", 32), "./b.sql": hex.EncodeToString(three[:])}
	for _, f := range p.Sources {
		if f.Checksum != want[f.Path] {
			t.Errorf("%s: checksum %s, want %s", f.Path, f.Checksum, want[f.Path])
		}
	}
	if len(p.Sources) != 2 {
		t.Fatalf("%d sources, want 2", len(p.Sources))
	}
}

// lyingFS reports a made-up digest for every held file.
type lyingFS struct{ heldFS }

func (l lyingFS) Content(name string) ([]byte, string, bool) {
	data, _, ok := l.heldFS.Content(name)
	return data, strings.Repeat("ab", 32), ok
}

// The rows hold exactly the files' bytes (BOM stripped), in walk order, with
// sizes and checksums of those bytes, whatever the file sizes and reads.
func TestLoadedContentIsByteExact(t *testing.T) {
	const bom = "\xEF\xBB\xBF"
	want := map[string]string{
		"a/big.sql":             loadCorpus(1, 300_000),
		"a/bom.sql":             loadCorpus(2, 70_000),
		"a/empty.sql":           "",
		"a/only_bom.sql":        "",
		"b/tiny.txt":            "\\",
		"b/c/chunk.sql":         strings.Repeat("\\", 64<<10) + "\t",
		"t/__test__/big.sql":    loadCorpus(3, 150_000),
		"t/__test__/_setup.sql": "SELECT 'fixture\\t';\r\n",
	}
	project := fstest.MapFS{"deploy.sql": {Data: []byte("SELECT 1;")}}
	for name, content := range want {
		data := content
		if strings.Contains(name, "bom") {
			data = bom + content
		}
		project[name] = &fstest.MapFile{Data: []byte(data)}
	}
	for _, tc := range []struct {
		name string
		fsys fs.FS
	}{{"whole reads", project}, {"short reads", shortReads{project}}, {"held in memory", heldFS{project}}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSession(t)
			ctx := context.Background()
			p, err := engine.Scan(tc.fsys, engine.ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := engine.DeployProject(ctx, s.conn, p, engine.Options{}); err != nil {
				t.Fatal(err)
			}
			type row struct {
				Path, Content, Checksum string
				Size                    int64
			}
			rows, err := s.conn.Query(ctx, `SELECT path, content, checksum, size_bytes FROM pg_temp._pgmi_source ORDER BY ctid`)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
			if err != nil {
				t.Fatal(err)
			}
			var order []string
			for _, r := range got {
				order = append(order, r.Path)
				c, ok := want[strings.TrimPrefix(r.Path, "./")]
				sum := sha256.Sum256([]byte(c))
				if !ok || r.Content != c || r.Size != int64(len(c)) || r.Checksum != hex.EncodeToString(sum[:]) {
					t.Errorf("%s: loaded %d bytes (size %d, checksum %s), want %d bytes", r.Path, len(r.Content), r.Size, r.Checksum, len(c))
				}
			}
			var walk []string
			for _, f := range p.Sources {
				walk = append(walk, f.Path)
			}
			if strings.Join(order, ",") != strings.Join(walk, ",") {
				t.Errorf("rows in order %v, want walk order %v", order, walk)
			}
			tests, err := s.conn.Query(ctx, `SELECT path, content FROM pg_temp._pgmi_test_source ORDER BY ctid`)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for tests.Next() {
				var path, content string
				if err := tests.Scan(&path, &content); err != nil {
					t.Fatal(err)
				}
				n++
				if content != want[strings.TrimPrefix(path, "./")] {
					t.Errorf("%s: test content differs (%d bytes)", path, len(content))
				}
			}
			if tests.Err() != nil || n != 2 {
				t.Errorf("test files: %d rows, err %v; want 2", n, tests.Err())
			}
		})
	}
}

// A file that grew after the scan is refused, even when its first bytes are
// unchanged.
func TestFileGrownDuringDeployFails(t *testing.T) {
	s := newSession(t)
	base := loadCorpus(4, 100_000)
	fsys := &growingFS{MapFS: files("deploy.sql", "CREATE TABLE nope (id int);", "a.sql", base), name: "a.sql", more: base + "x"}
	_, err := engine.Deploy(context.Background(), s.conn, fsys, engine.Options{})
	if err == nil || !strings.Contains(err.Error(), "changed while it was being deployed") {
		t.Fatalf("err = %v", err)
	}
}

type growingFS struct {
	fstest.MapFS
	name, more string
	opened     int
}

func (g *growingFS) Open(name string) (fs.File, error) {
	if name == g.name {
		g.opened++
		if g.opened > 1 {
			return fstest.MapFS{name: {Data: []byte(g.more)}}.Open(name)
		}
	}
	return g.MapFS.Open(name)
}

// File contents are stored with lz4 where the server has it: pglz costs the
// backend more than the rest of the load.
func TestContentsCompressWithLZ4(t *testing.T) {
	s := newSession(t)
	if _, err := s.deploy(t, files("deploy.sql", "SELECT 1;", "a.sql", "SELECT 1;"), engine.Options{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var version int
	if err := s.conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version < 140000 {
		t.Skip("no per-column compression before PostgreSQL 14")
	}
	if _, err := s.conn.Exec(ctx, "CREATE TEMP TABLE lz4_probe (c text COMPRESSION lz4)"); err != nil {
		t.Skipf("server without lz4: %v", err)
	}
	for _, rel := range []string{"_pgmi_source", "_pgmi_test_source"} {
		var method string
		if err := s.conn.QueryRow(ctx, "SELECT attcompression::text FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'content'",
			"pg_temp."+rel).Scan(&method); err != nil {
			t.Fatal(err)
		}
		if method != "l" {
			t.Errorf("%s.content compression %q, want l (lz4)", rel, method)
		}
	}
}
