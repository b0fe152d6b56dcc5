package bundle

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"io"
	"io/fs"
	"strings"
	"testing"
)

// TestHostileArchives generates one malicious or broken archive per rule and
// checks both readers refuse it with that rule.
func TestHostileArchives(t *testing.T) {
	k := newKey(t)
	stranger := newKey(t)
	deploy := regular(DeployPath, []byte("SELECT 1;\n"))
	a := regular("a.sql", []byte("SELECT 'a';\n"))
	good := manifestFor(deploy, a)
	signed := func(extra ...entry) []byte {
		return archive(t, append(head(t, good, &k), extra...)...)
	}
	withManifest := func(m *Manifest, extra ...entry) []byte {
		return archive(t, append(head(t, m, &k), extra...)...)
	}
	link := func(typ byte, target string) entry {
		return entry{hdr: tar.Header{Typeflag: typ, Name: "a.sql", Linkname: target, Mode: 0o777, Format: tar.FormatPAX}}
	}
	device := func(typ byte) entry {
		return entry{hdr: tar.Header{Typeflag: typ, Name: "a.sql", Mode: 0o644, Devmajor: 1, Devminor: 3, Format: tar.FormatPAX}}
	}
	bigHeader := regular("a.sql", a.body)
	bigHeader.hdr.PAXRecords = map[string]string{"comment": strings.Repeat("x", 100<<10)}
	// A signature made over another manifest.
	otherSig := head(t, manifestFor(deploy), &k)[1]
	// A manifest mismatch: the signed manifest lists different content.
	lying := manifestFor(deploy, regular("a.sql", []byte("SELECT 'other';\n")))
	bomb := regular("z.sql", make([]byte, 24<<20))
	full := signed(deploy, a)

	cases := []struct {
		name string
		data []byte
		opts *ReadOptions
		rule error
	}{
		{"zip-slip entry", signed(deploy, regular("../../etc/cron.d/x", a.body)), nil, ErrDotDot},
		{"zip-slip in manifest", withManifest(&Manifest{Format: FormatVersion, Files: []File{deploy0(deploy), {Path: "x/../../y", Size: 1, SHA256: sha([]byte("y"))}}}), nil, ErrDotDot},
		{"absolute path", signed(deploy, regular("/etc/passwd", a.body)), nil, ErrAbsolutePath},
		{"symlink", signed(deploy, link(tar.TypeSymlink, "/etc/passwd")), nil, ErrLink},
		{"hard link", signed(deploy, link(tar.TypeLink, "deploy.sql")), nil, ErrLink},
		{"char device", signed(deploy, device(tar.TypeChar)), nil, ErrDevice},
		{"block device", signed(deploy, device(tar.TypeBlock)), nil, ErrDevice},
		{"fifo", signed(deploy, device(tar.TypeFifo)), nil, ErrDevice},
		{"duplicate entry", signed(deploy, deploy, a), nil, ErrDuplicate},
		{"duplicate last entry", signed(deploy, a, a), nil, ErrDuplicate},
		{"duplicate manifest", signed(deploy, a, head(t, good, nil)[0]), nil, ErrDuplicate},
		{"duplicate in manifest", withManifest(manifestFor(deploy, a, a), deploy, a, a), nil, ErrDuplicate},
		{"case collision", withManifest(manifestFor(deploy, regular("A.sql", a.body), a), deploy, regular("A.sql", a.body), a), nil, ErrCaseCollision},
		{"normalization collision", withManifest(manifestFor(deploy, regular("cafe\u0301.sql", a.body), regular("caf\u00e9.sql", a.body))), nil, ErrCaseCollision},
		{"file and directory", withManifest(manifestFor(deploy, regular("a", a.body), regular("a/b.sql", a.body))), nil, ErrFileDirClash},
		{"gzip bomb", archive(t, append(head(t, manifestFor(deploy, bomb), &k), deploy, bomb)...), &ReadOptions{Limits: Limits{MaxFileSize: 32 << 20}}, ErrRatio},
		{"truncated stream", full[:len(full)*2/3], nil, ErrCorrupt},
		{"not gzip", []byte("PK\x03\x04 not seekable"), nil, ErrNotBundle},
		{"huge header", signed(deploy, bigHeader), nil, ErrHeaderTooLarge},
		{"non-UTF-8 name", signed(deploy, entry{raw: rawHeader("caf\xe9.sql", 2, tar.TypeReg), body: []byte("x\n")}), nil, ErrNotUTF8},
		{"hidden file", signed(deploy, a, regular(".env", a.body)), nil, ErrExcludedPath},
		{"reserved path", signed(deploy, a, regular(".pgmi/hook.sql", a.body)), nil, ErrReservedPath},
		{"extra entry", signed(deploy, a, regular("b.sql", a.body)), nil, ErrExtraEntry},
		{"missing entry", signed(deploy), nil, ErrMissingEntry},
		{"wrong order", signed(a, deploy), nil, ErrOrder},
		{"tampered file", signed(deploy, regular("a.sql", []byte("SELECT 'A';\n"))), nil, ErrDigestMismatch},
		{"resized file", signed(deploy, regular("a.sql", []byte("DROP TABLE t;\n"))), nil, ErrSizeMismatch},
		{"manifest mismatch", withManifest(lying, deploy, a), nil, ErrSizeMismatch},
		{"no manifest", archive(t, deploy, a), nil, ErrNoManifest},
		{"no deploy.sql", withManifest(manifestFor(a), a), nil, ErrMissingDeploy},
		{"unsigned", archive(t, append(head(t, good, nil), deploy, a)...), nil, ErrUnsigned},
		{"untrusted key", archive(t, append(head(t, good, &stranger), deploy, a)...), nil, ErrUntrusted},
		{"signature over another manifest", archive(t, head(t, good, nil)[0], otherSig, deploy, a), nil, ErrSignature},
		{"tampered manifest", archive(t, regular(ManifestPath, bytes.Replace(head(t, good, nil)[0].body, []byte(`"files"`), []byte(`"files" `), 1)), head(t, good, &k)[1], deploy, a), nil, ErrSignature},
		{"no trusted signers", full, &ReadOptions{}, ErrNoTrustedSigners},
		{"too many files", full, &ReadOptions{Limits: Limits{MaxFiles: 1}}, ErrTooManyFiles},
		{"file too large", full, &ReadOptions{Limits: Limits{MaxFileSize: 5}}, ErrFileTooLarge},
		{"total too large", full, &ReadOptions{Limits: Limits{MaxTotalSize: 15}}, ErrTooLarge},
		{"path too long", full, &ReadOptions{Limits: Limits{MaxPathLength: 4}}, ErrPathTooLong},
		{"manifest too large", full, &ReadOptions{Limits: Limits{MaxManifestSize: 10}}, ErrManifestTooBig},
		{"trailing data", append(append([]byte{}, full...), 0x1f, 0x8b, 0, 0), nil, ErrTrailingData},
	}
	trusted := k.allowed(t, "release@example.com")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := c.opts
			if opts == nil {
				opts = &ReadOptions{}
			}
			if opts.Trusted == nil && c.name != "no trusted signers" {
				opts.Trusted = trusted
			}
			_, err := Verify(context.Background(), bytes.NewReader(c.data), opts)
			wantRule(t, err, c.rule)
			v, vb, err := VerifyOpen(context.Background(), bytesOpener(c.data, nil), opts)
			if v != nil || vb != nil {
				t.Fatal("VerifyOpen returned a bundle it refused")
			}
			wantRule(t, err, c.rule)
			if c.rule == ErrTrailingData {
				return // Open serves files and stops at the tar end marker
			}
			b, err := Open(context.Background(), bytesOpener(c.data, nil), opts)
			if err == nil {
				err = readEverything(b)
				b.Close()
			}
			wantRule(t, err, c.rule)
		})
	}
}

func deploy0(e entry) File {
	return File{Path: e.hdr.Name, Size: int64(len(e.body)), SHA256: sha(e.body)}
}

func TestHostileZip(t *testing.T) {
	k := newKey(t)
	data, _ := pack(t, testProject(), &PackOptions{Signer: k.signer})
	trusted := k.allowed(t, "*")
	cases := map[string]struct {
		edit func(*zip.FileHeader, []byte) []byte
		rule error
	}{
		"symlink": {func(fh *zip.FileHeader, b []byte) []byte {
			if fh.Name == "README.md" {
				fh.SetMode(fs.ModeSymlink | 0o777)
			}
			return b
		}, ErrLink},
		"zip-slip": {func(fh *zip.FileHeader, b []byte) []byte {
			if fh.Name == "README.md" {
				fh.Name = "../README.md"
			}
			return b
		}, ErrDotDot},
		"tampered": {func(fh *zip.FileHeader, b []byte) []byte {
			if fh.Name == "README.md" {
				return bytes.ToUpper(b)
			}
			return b
		}, ErrDigestMismatch},
		"stored method other": {func(fh *zip.FileHeader, b []byte) []byte {
			if fh.Name == "README.md" {
				fh.Name = "README.md"
				fh.Method = zip.Store
			}
			return b
		}, nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := writeTemp(t, "b.zip", tarToZip(t, data, c.edit))
			b, err := Open(context.Background(), OpenFile(p), &ReadOptions{Trusted: trusted})
			if err == nil {
				err = readEverything(b)
				b.Close()
			}
			if c.rule == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantRule(t, err, c.rule)
		})
	}
}

// Two files read interleaved from one Bundle (a Bundle is safe for
// concurrent use): opening b.sql reads the rest of a.sql off the stream, and
// the a.sql reader then gets the rest from the cache, or an error when the
// cache is off. It used to get a clean io.EOF after the one byte it had
// read: a short file without an error.
func TestInterleavedReadsNeverTruncate(t *testing.T) {
	deploy := regular(DeployPath, []byte("SELECT 1;\n"))
	a := regular("a.sql", []byte("SELECT 'a very important statement';\n"))
	b := regular("b.sql", []byte("SELECT 'b';\n"))
	data := archive(t, append(head(t, manifestFor(deploy, a, b), nil), deploy, a, b)...)
	for _, cache := range []int64{0, -1} {
		bun, err := Open(context.Background(), bytesOpener(data, nil), &ReadOptions{AllowUnsigned: true, Limits: Limits{CacheSize: cache}})
		if err != nil {
			t.Fatal(err)
		}
		fa, err := bun.Open("a.sql")
		if err != nil {
			t.Fatal(err)
		}
		first := make([]byte, 1)
		if _, err := io.ReadFull(fa, first); err != nil {
			t.Fatal(err)
		}
		if got, err := bun.ReadFile("b.sql"); err != nil || !bytes.Equal(got, b.body) {
			t.Fatalf("b.sql: %q, %v", got, err)
		}
		rest, err := io.ReadAll(fa)
		got := append(first, rest...)
		if err == nil && !bytes.Equal(got, a.body) {
			t.Errorf("cache %d: a.sql read as %q with no error, want %q or an error", cache, got, a.body)
		}
		bun.Close()
	}
}
