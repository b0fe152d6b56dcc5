package main

import (
	"encoding/json"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

// dockerInstruction is one instruction of the Dockerfile.
type dockerInstruction struct{ op, args string }

func readDockerfile(t *testing.T) []dockerInstruction {
	t.Helper()
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstruction
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			t.Fatalf("Dockerfile: keep instructions on one line (%q)", line)
		}
		op, args, _ := strings.Cut(line, " ")
		out = append(out, dockerInstruction{strings.ToUpper(op), strings.TrimSpace(args)})
	}
	return out
}

// dockerfileEnv is the value the Dockerfile's ENV name=value sets.
func dockerfileEnv(t *testing.T, name string) string {
	t.Helper()
	for _, in := range readDockerfile(t) {
		if k, v, ok := strings.Cut(in.args, "="); in.op == "ENV" && ok && k == name {
			return v
		}
	}
	t.Fatalf("the Dockerfile sets no %s", name)
	return ""
}

// TestImageLayout checks the packaging README.md documents: the image runs
// the binary its build command makes, on a base without libc (so the build
// must be static), selecting the function main registers. TestFunction
// runs the binary with the Dockerfile's FUNCTION_TARGET.
func TestImageLayout(t *testing.T) {
	var from, copySrc, copyDst string
	var entrypoint []string
	for _, in := range readDockerfile(t) {
		switch in.op {
		case "FROM":
			if from != "" {
				t.Fatal("the Dockerfile has more than one stage: the binary is built outside it")
			}
			from = in.args
		case "COPY":
			f := strings.Fields(in.args)
			if len(f) != 2 || copySrc != "" {
				t.Fatalf("want one COPY <binary> <path>, got %q", in.args)
			}
			copySrc, copyDst = f[0], f[1]
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &entrypoint); err != nil {
				t.Errorf("ENTRYPOINT must be the exec (JSON) form, so the binary is PID 1 and gets SIGTERM: %v", err)
			}
		}
	}
	if !strings.HasPrefix(from, "gcr.io/distroless/static") {
		t.Errorf("base image %q: want gcr.io/distroless/static*, which holds a static binary and nothing else", from)
	}
	if len(entrypoint) != 1 || entrypoint[0] != copyDst {
		t.Errorf("ENTRYPOINT %q does not run the copied binary %q", entrypoint, copyDst)
	}
	if got := dockerfileEnv(t, "FUNCTION_TARGET"); got != functionTarget {
		t.Errorf("FUNCTION_TARGET=%s, but main registers %q", got, functionTarget)
	}

	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	build := regexp.MustCompile(`(?m)^\s*(CGO_ENABLED=0 [^\n]*go build -trimpath [^\n]*-o (\S+) \./functions/gcp)\s*$`).FindAllStringSubmatch(string(readme), -1)
	if len(build) == 0 {
		t.Fatal("README.md has no `CGO_ENABLED=0 … go build -trimpath … -o <dir>/<binary> ./functions/gcp` line")
	}
	for _, m := range build {
		if out := path.Base(strings.Trim(m[2], `"'`)); out != copySrc {
			t.Errorf("README.md builds %q, the Dockerfile copies %q: %s", out, copySrc, m[1])
		}
	}
}
