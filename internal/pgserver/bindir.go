package pgserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNotInstalled is returned by StartMain (and makes Start skip or fail) when
// no PostgreSQL server binaries are found.
var ErrNotInstalled = errors.New("pgserver: PostgreSQL server binaries (initdb, postgres) not found; " +
	"install them with `make deps` (scripts/deps.sh) or `apt-get install postgresql`, " +
	"or set PGMI_PG_BINDIR to a PostgreSQL bin directory")

// debianRoot is where Debian and Ubuntu install versioned server binaries.
const debianRoot = "/usr/lib/postgresql"

// findBinDir returns the directory holding initdb and postgres.
func findBinDir() (string, error) {
	if dir := os.Getenv("PGMI_PG_BINDIR"); dir != "" {
		if !hasServer(dir) {
			return "", fmt.Errorf("pgserver: PGMI_PG_BINDIR=%s holds no initdb and postgres; "+
				"point it at a PostgreSQL bin directory or unset it", dir)
		}
		return dir, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); hasServer(dir) {
			return dir, nil
		}
	}
	if dir := newestBinDir(debianRoot); dir != "" {
		return dir, nil
	}
	return "", ErrNotInstalled
}

// hasServer reports whether dir holds executable initdb and postgres files.
func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// newestBinDir returns root/<version>/bin with the highest version that holds
// the server binaries, or "" when there is none.
func newestBinDir(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	var versions []string
	for _, e := range entries {
		if hasServer(filepath.Join(root, e.Name(), "bin")) {
			versions = append(versions, e.Name())
		}
	}
	if len(versions) == 0 {
		return ""
	}
	best := slices.MaxFunc(versions, compareVersions)
	return filepath.Join(root, best, "bin")
}

// compareVersions orders dotted version names numerically ("9.6" < "15");
// a part that is not a number sorts before every number.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		if c := versionPart(pa, i) - versionPart(pb, i); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

func versionPart(parts []string, i int) int {
	if i >= len(parts) {
		return 0
	}
	n, err := strconv.Atoi(parts[i])
	if err != nil {
		return -1
	}
	return n
}
