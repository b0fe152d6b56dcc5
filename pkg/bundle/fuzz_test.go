package bundle

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func FuzzReadArchive(f *testing.F) {
	data, _ := pack(f, testProject(), &PackOptions{Created: fixedTime})
	f.Add(data)
	f.Add(data[:len(data)/2])
	deploy := regular(DeployPath, []byte("SELECT 1;\n"))
	f.Add(archive(f, append(head(f, manifestFor(deploy), nil), deploy, regular("../x", []byte("x")))...))
	f.Add(archive(f, append(head(f, manifestFor(deploy), nil), deploy, entry{raw: rawHeader("a\xff", 1, '0'), body: []byte("x")})...))
	opts := &ReadOptions{AllowUnsigned: true, Limits: Limits{MaxTotalSize: 8 << 20, MaxFileSize: 1 << 20}}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := Verify(context.Background(), bytes.NewReader(in), opts)
		checkFuzzErr(t, err)
		b, oerr := Open(context.Background(), bytesOpener(in, nil), opts)
		checkFuzzErr(t, oerr)
		if (err == nil) != (oerr == nil) && oerr != nil {
			t.Fatalf("Verify accepted what Open refused: %v", oerr)
		}
		vo, vb, verr := VerifyOpen(context.Background(), bytesOpener(in, nil), opts)
		checkFuzzErr(t, verr)
		if (err == nil) != (verr == nil) {
			t.Fatalf("Verify and VerifyOpen disagree: %v / %v", err, verr)
		}
		if verr == nil {
			if vo.ArchiveSHA256 != v.ArchiveSHA256 || vo.ArchiveSize != v.ArchiveSize {
				t.Fatalf("VerifyOpen hashed %s/%d, Verify %s/%d", vo.ArchiveSHA256, vo.ArchiveSize, v.ArchiveSHA256, v.ArchiveSize)
			}
			if rerr := readEverything(vb); rerr != nil {
				t.Fatalf("VerifyOpen accepted, reading failed: %v", rerr)
			}
			vb.Close()
		}
		if oerr != nil {
			return
		}
		defer b.Close()
		rerr := readEverything(b)
		checkFuzzErr(t, rerr)
		if v != nil && rerr != nil {
			t.Fatalf("Verify accepted, reading failed: %v", rerr)
		}
	})
}

func checkFuzzErr(t *testing.T, err error) {
	var be *Error
	if err != nil && !errors.As(err, &be) {
		t.Fatalf("error is not a *bundle.Error: %T %v", err, err)
	}
}

func FuzzParseManifest(f *testing.F) {
	_, m := pack(f, testProject(), &PackOptions{Created: fixedTime, Name: "n", Version: "v", Source: &Source{Commit: "c", Dirty: true}})
	good, _ := m.Marshal()
	f.Add(good)
	f.Add([]byte(`{"format":"pgmi-bundle/1","files":[{"path":"deploy.sql","size":1,"sha256":"` + sha([]byte("x")) + `"}]}` + "\n"))
	f.Add([]byte(`{"format":"pgmi-bundle/2"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ParseManifest(in, Limits{})
		if err != nil {
			checkFuzzErr(t, err)
			return
		}
		out, err := m.Marshal()
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("accepted a non-canonical manifest")
		}
		if err := m.Validate(Limits{}); err != nil {
			t.Fatalf("accepted an invalid manifest: %v", err)
		}
	})
}
