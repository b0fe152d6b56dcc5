package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// loadDotEnv applies the project's .env to the process environment, never
// overriding a variable that is already set. A file that does not parse is
// ignored as a whole with a warning (its content is never echoed: it may
// hold secrets).
func loadDotEnv(fsys fs.FS, s streams, out *output) {
	data, err := fs.ReadFile(fsys, ".env")
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		out.line("WARNING: cannot read .env; ignoring it")
		return
	}
	vars, err := parseDotEnv(data)
	if err != nil {
		out.line(fmt.Sprintf("WARNING: ignoring .env: %v", err))
		return
	}
	for _, kv := range vars {
		if _, set := s.env(kv[0]); !set && s.setenv != nil {
			_ = s.setenv(kv[0], kv[1])
		}
	}
}

func parseDotEnv(data []byte) ([][2]string, error) {
	var out [][2]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("line %d is not KEY=VALUE", n)
		}
		out = append(out, [2]string{k, unquoteValue(strings.TrimSpace(v))})
	}
	return out, sc.Err()
}

func unquoteValue(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}
