package bundle

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CreatedFromEnv returns the creation time named by SOURCE_DATE_EPOCH
// (reproducible-builds.org), read through getenv (os.Getenv in a composition
// root), and ok=false when it is unset. A malformed value is an error.
func CreatedFromEnv(getenv func(string) string) (t time.Time, ok bool, err error) {
	v := strings.TrimSpace(getenv("SOURCE_DATE_EPOCH"))
	if v == "" {
		return time.Time{}, false, nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs < 0 {
		return time.Time{}, false, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a non-negative integer of seconds", v)
	}
	return time.Unix(secs, 0).UTC(), true, nil
}

// GitSource describes the git checkout holding dir (an OS path): HEAD's
// commit id, whether the work tree under dir has uncommitted changes, and the
// commit's committer time (a deterministic default for PackOptions.Created).
// It uses the git command when installed; without it, it reads .git/HEAD and
// the refs itself and reports no time and no dirtiness. It returns nil, zero
// time and no error when dir is not inside a git checkout.
func GitSource(ctx context.Context, dir string) (*Source, time.Time, error) {
	if _, err := exec.LookPath("git"); err == nil {
		return gitCommand(ctx, dir)
	}
	commit, err := readGitHead(dir)
	if err != nil || commit == "" {
		return nil, time.Time{}, err
	}
	return &Source{Commit: commit}, time.Time{}, nil
}

func gitCommand(ctx context.Context, dir string) (*Source, time.Time, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "log", "-1", "--format=%H %ct").Output()
	if err != nil {
		return nil, time.Time{}, nil // not a checkout, or no commit yet
	}
	id, ct, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	secs, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("git log: unexpected output %q", out)
	}
	status, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--", ".").Output()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("git status: %w", err)
	}
	return &Source{Commit: id, Dirty: len(bytes.TrimSpace(status)) > 0}, time.Unix(secs, 0).UTC(), nil
}

// readGitHead resolves HEAD without git: .git may be a directory or a
// "gitdir:" file (worktrees, submodules); refs may be loose or packed.
func readGitHead(dir string) (string, error) {
	gitDir, err := findGitDir(dir)
	if gitDir == "" || err != nil {
		return "", err
	}
	head, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return "", err
	}
	ref, isRef := strings.CutPrefix(strings.TrimSpace(string(head)), "ref: ")
	if !isRef {
		return ref, nil
	}
	common := gitDir
	if c, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		common = filepath.Join(gitDir, strings.TrimSpace(string(c)))
	}
	for _, d := range []string{gitDir, common} {
		if b, err := os.ReadFile(filepath.Join(d, filepath.FromSlash(ref))); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
	}
	return packedRef(filepath.Join(common, "packed-refs"), ref)
}

func findGitDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		p := filepath.Join(d, ".git")
		if fi, err := os.Stat(p); err == nil {
			if fi.IsDir() {
				return p, nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return "", err
			}
			g, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
			if !ok {
				return "", fmt.Errorf("%s: not a gitdir file", p)
			}
			if !filepath.IsAbs(g) {
				g = filepath.Join(d, g)
			}
			return g, nil
		}
		if filepath.Dir(d) == d {
			return "", nil
		}
	}
}

func packedRef(file, ref string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", nil // unborn branch
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if id, name, ok := strings.Cut(sc.Text(), " "); ok && name == ref {
			return id, nil
		}
	}
	return "", sc.Err()
}
