package infratest

import (
	"archive/zip"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// packageInto runs scripts/package.sh with args, writing into dist.
func packageInto(t *testing.T, dist string, args ...string) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed: scripts/package.sh cannot run")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH: %v", err)
	}
	cmd := exec.Command(bash, append([]string{"scripts/package.sh"}, args...)...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "DIST="+dist, "GO="+goBin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/package.sh %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

// zipEntries reads a zip into name → (mode, content).
type entry struct {
	mode fs.FileMode
	data []byte
}

func zipEntries(t *testing.T, path string) map[string]entry {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string]entry{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = entry{mode: f.Mode(), data: data}
	}
	return out
}

func buildSetting(info *buildinfo.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

func names[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkBinary asserts a static Linux executable for machine, built with the
// build tags tags (internal/archtest's table of shipped binaries has them).
func checkBinary(t *testing.T, name string, data []byte, machine elf.Machine, tags string) {
	t.Helper()
	if info, err := buildinfo.Read(bytes.NewReader(data)); err != nil {
		t.Errorf("%s: no Go build info: %v", name, err)
	} else if got := buildSetting(info, "-tags"); got != tags {
		t.Errorf("%s is built with -tags %q, want %q (scripts/package.sh)", name, got, tags)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Errorf("%s is not an ELF binary: %v", name, err)
		return
	}
	if f.Machine != machine {
		t.Errorf("%s is built for %v, want %v", name, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: it is not static (CGO_ENABLED=0)", name)
		}
	}
	if s := f.Section(".note.go.buildid"); s != nil {
		if note, err := s.Data(); err == nil && bytes.Contains(note, []byte("/")) {
			t.Errorf("%s carries a Go build id; want -buildid= for reproducible builds", name)
		}
	}
}

// TestPackageArtifacts builds the AWS, Azure and Google artifacts with
// scripts/package.sh, checks their layout, builds the zips again and
// compares the bytes. All three are linux/amd64 here (the AWS arm64 build
// differs only in GOARCH), so a cold build cache compiles the shared graph
// once with -trimpath; with a warm cache the test takes seconds.
func TestPackageArtifacts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the artifacts are not built")
	}
	dist := t.TempDir()
	packageInto(t, dist, "aws", "amd64")
	packageInto(t, dist, "azure")
	packageInto(t, dist, "gcp")

	t.Run("aws", func(t *testing.T) {
		z := zipEntries(t, filepath.Join(dist, "aws", "pgmi-aws-amd64.zip"))
		if got := names(z); len(got) != 1 || got[0] != "bootstrap" {
			t.Fatalf("pgmi-aws-amd64.zip holds %v, want only bootstrap (handler and runtime of infra/aws)", got)
		}
		if m := z["bootstrap"].mode; m != 0o755 {
			t.Errorf("bootstrap mode %v, want 0755", m)
		}
		checkBinary(t, "bootstrap", z["bootstrap"].data, elf.EM_X86_64, "lambda.norpc,grpcnotrace")
	})

	t.Run("azure", func(t *testing.T) {
		z := zipEntries(t, filepath.Join(dist, "azure", "pgmi-azure.zip"))
		want := []string{"BlobCreated/function.json", "Fleet/function.json", "Reset/function.json", "handler", "host.json"}
		if got := names(z); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("pgmi-azure.zip holds %v, want %v", got, want)
		}
		for name, e := range z {
			wantMode := fs.FileMode(0o644)
			if name == "handler" {
				wantMode = 0o755
			}
			if e.mode != wantMode {
				t.Errorf("%s mode %v, want %v", name, e.mode, wantMode)
			}
		}
		var host struct {
			CustomHandler struct {
				Description struct {
					DefaultExecutablePath string `json:"defaultExecutablePath"`
				} `json:"description"`
			} `json:"customHandler"`
		}
		if err := json.Unmarshal(z["host.json"].data, &host); err != nil {
			t.Fatalf("host.json: %v", err)
		}
		exe := host.CustomHandler.Description.DefaultExecutablePath
		if e, ok := z[exe]; !ok || e.mode&0o111 == 0 {
			t.Errorf("host.json names %q as the handler, which is not an executable entry of the zip", exe)
		}
		checkBinary(t, "handler", z["handler"].data, elf.EM_X86_64, "grpcnotrace")
		for name, trigger := range map[string]string{"BlobCreated/function.json": "eventGridTrigger", "Fleet/function.json": "serviceBusTrigger", "Reset/function.json": "timerTrigger"} {
			var fn struct {
				Bindings []struct {
					Type string `json:"type"`
				} `json:"bindings"`
			}
			if err := json.Unmarshal(z[name].data, &fn); err != nil || len(fn.Bindings) == 0 || fn.Bindings[0].Type != trigger {
				t.Errorf("%s: want a %s binding (%v)", name, trigger, err)
			}
		}
	})

	t.Run("gcp", func(t *testing.T) {
		dir := filepath.Join(dist, "gcp")
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range ents {
			got = append(got, e.Name())
		}
		if strings.Join(got, " ") != "Dockerfile function" {
			t.Fatalf("dist/gcp holds %v, want the build context Dockerfile + function", got)
		}
		fi, err := os.Stat(filepath.Join(dir, "function"))
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("function: %v, mode %v, want 0755", err, fi.Mode())
		}
		data, err := os.ReadFile(filepath.Join(dir, "function"))
		if err != nil {
			t.Fatal(err)
		}
		checkBinary(t, "function", data, elf.EM_X86_64, "grpcnotrace,disable_grpc_modules")
		df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
		if err != nil || !bytes.Contains(df, []byte("COPY function ")) {
			t.Errorf("the Dockerfile does not copy the binary named function (%v)", err)
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		again := t.TempDir()
		packageInto(t, again, "aws", "amd64")
		packageInto(t, again, "azure")
		for _, rel := range []string{"aws/pgmi-aws-amd64.zip", "azure/pgmi-azure.zip"} {
			a, errA := os.ReadFile(filepath.Join(dist, rel))
			b, errB := os.ReadFile(filepath.Join(again, rel))
			if errA != nil || errB != nil {
				t.Fatal(errA, errB)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%s differs between two builds (%d and %d bytes)", rel, len(a), len(b))
			}
		}
	})
}
