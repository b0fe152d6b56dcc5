// Package testbundle makes signed bundles for tests: a fresh signing key
// with its allowed_signers line, and projects packed from a map of files.
package testbundle

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/crypto/ssh"

	"github.com/pgmi-cloud/pgmi/pkg/bundle"
)

// Principal is the identity every test key is trusted for.
const Principal = "release@example.com"

// Key is a signing key and the allowed_signers text that trusts it.
type Key struct {
	Signer         ssh.Signer
	AllowedSigners string // one line: principal, namespace option, public key
}

// NewKey makes an ed25519 signing key.
func NewKey(t testing.TB) *Key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	return &Key{Signer: signer, AllowedSigners: Principal + ` namespaces="` + bundle.Namespace + `" ` + pub + "\n"}
}

// Pack packs files (path → contents) as a bundle named name, signed by key
// (unsigned when key is nil).
func Pack(t testing.TB, key *Key, name string, files map[string]string) []byte {
	t.Helper()
	fsys := fstest.MapFS{}
	for p, data := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(data), Mode: 0o644}
	}
	opts := &bundle.PackOptions{Name: name, Version: "1.0.0"}
	if key != nil {
		opts.Signer = key.Signer
	}
	var buf bytes.Buffer
	if _, err := bundle.Pack(context.Background(), fsys, &buf, opts); err != nil {
		t.Fatalf("packing %s: %v", name, err)
	}
	return buf.Bytes()
}

// Project is a small project whose deploy.sql runs sql after loading one
// migration file into the session, so a deploy exercises the whole engine.
func Project(sql string) map[string]string {
	return map[string]string{
		"deploy.sql":              sql,
		"migrations/001_note.sql": "-- a migration the deploy does not need to run\nSELECT 1;\n",
	}
}

// Project1MB is Project(sql) with sixteen 128 KiB data files of random hex:
// a bundle of about 1 MiB that deflate can barely shrink (2 MiB inflated),
// the pipeline benchmarks' project.
func Project1MB(tb testing.TB, sql string) map[string]string {
	files := Project(sql)
	for i := range 16 {
		raw := make([]byte, 64<<10)
		if _, err := rand.Read(raw); err != nil {
			tb.Fatal(err)
		}
		files[fmt.Sprintf("data/blob_%02d.txt", i)] = hex.EncodeToString(raw)
	}
	return files
}
