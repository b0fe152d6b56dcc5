package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestInfoGolden(t *testing.T) {
	for _, fixture := range []string{"ordering", "plain", "invalid"} {
		t.Run(fixture, func(t *testing.T) {
			dir := filepath.Join(metadataFixtures, fixture)
			abs := filepath.ToSlash(mustAbs(t, dir))
			code, stdout, stderr := cli{}.run(t, "info", dir, "--json")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			golden(t, fixture+".info.json", strings.ReplaceAll(stdout, abs, "<project>"))
			code, stdout, stderr = cli{}.run(t, "info", dir)
			if code != 0 {
				t.Fatalf("human: exit %d\n%s", code, stderr)
			}
			golden(t, fixture+".info.txt", strings.ReplaceAll(stdout, abs, "<project>"))
		})
	}
}

func TestInfoFields(t *testing.T) {
	code, stdout, stderr := cli{}.run(t, "info", filepath.Join(metadataFixtures, "ordering"), "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var r pgmiInfoJSON
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if !r.DeploySQL || r.Template != "advanced" || r.ConfigFile != "ok" || r.TotalFiles != 25 || r.SQLFiles != 20 ||
		r.TestFiles != 4 || r.MetadataWith != 10 || r.Directories["./"] == 0 || r.Bundle != nil || !filepath.IsAbs(r.Path) {
		t.Errorf("info = %+v", r)
	}
	sum := 0
	for _, n := range r.Directories {
		sum += n
	}
	if sum != r.TotalFiles {
		t.Errorf("directories %v add up to %d, not totalFiles %d", r.Directories, sum, r.TotalFiles)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal([]byte(stdout), &keys)
	if len(keys) != 9 {
		t.Errorf("pgmi's info has 9 keys, this has %d: %s", len(keys), stdout)
	}
	// A directory without deploy.sql is described, not refused.
	code, stdout, _ = cli{}.run(t, "info", t.TempDir(), "--json")
	if code != 0 || !strings.Contains(stdout, `"deploySql": false`) || !strings.Contains(stdout, `"template": "unknown"`) {
		t.Errorf("empty directory: exit %d\n%s", code, stdout)
	}
	if code, _, _ := (cli{}).run(t, "info", filepath.Join(t.TempDir(), "missing")); code != 10 {
		t.Errorf("missing path: exit %d, want 10", code)
	}
}

func TestInfoOnBundle(t *testing.T) {
	src := filepath.Join(metadataFixtures, "ordering")
	key, allowed := signingKey(t, t.TempDir(), "release")
	out := filepath.Join(t.TempDir(), "app.tgz")
	c := cli{env: map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}}
	if code, _, stderr := c.run(t, "bundle", src, "-o", out, "--sign-key", key, "--name", "shop", "--version", "1.4.0"); code != 0 {
		t.Fatalf("bundle: exit %d\n%s", code, stderr)
	}
	_, dirOut, _ := cli{}.run(t, "info", src, "--json")
	var dir pgmiInfoJSON
	_ = json.Unmarshal([]byte(dirOut), &dir)
	for _, tc := range []struct {
		args   []string
		signed bool
	}{{[]string{"--trusted-signers", allowed}, true}, {[]string{"--allow-unsigned"}, false}} {
		code, stdout, stderr := cli{}.run(t, append([]string{"info", out, "--json"}, tc.args...)...)
		if code != 0 {
			t.Fatalf("info %v: exit %d\n%s", tc.args, code, stderr)
		}
		var r pgmiInfoJSON
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		b := r.Bundle
		if r.Path != out || b == nil || b.Name != "shop" || b.Version != "1.4.0" ||
			b.Signed != tc.signed || (tc.signed && (b.Signer != "release" || !strings.HasPrefix(b.Fingerprint, "SHA256:"))) ||
			b.Created != "2023-11-14T22:13:20Z" {
			t.Errorf("info %v = %+v bundle %+v", tc.args, r, b)
		}
		if r.TotalFiles != dir.TotalFiles || r.SQLFiles != dir.SQLFiles || r.MetadataWith != dir.MetadataWith {
			t.Errorf("bundle counts %+v differ from the directory's %+v", r, dir)
		}
	}
	code, stdout, _ := cli{}.run(t, "info", out, "--trusted-signers", allowed)
	if code != 0 || !strings.Contains(stdout, "shop 1.4.0") || !strings.Contains(stdout, "verified, signed by release") {
		t.Errorf("human info on a bundle: exit %d\n%s", code, stdout)
	}
}
