package pgserver

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// maxSocketPath is the usable length of sockaddr_un.sun_path on Linux.
const maxSocketPath = 107

// osUser is the OS account that runs initdb and postgres.
type osUser struct {
	name     string
	uid, gid int
	drop     bool // run children with this uid and gid (the process runs as root)
}

// clusterUser picks the account: the current one, or when running as root
// (which initdb refuses) the postgres user if it exists, else nobody.
func clusterUser() (osUser, error) {
	if os.Geteuid() != 0 {
		return osUser{name: "current user", uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, errU := strconv.Atoi(u.Uid)
		gid, errG := strconv.Atoi(u.Gid)
		if errU != nil || errG != nil || uid == 0 {
			continue
		}
		return osUser{name: name, uid: uid, gid: gid, drop: true}, nil
	}
	return osUser{}, errors.New("pgserver: running as root, but neither a postgres nor a nobody user exists " +
		"and initdb refuses to run as root; create one with `useradd --system postgres`")
}

func (u osUser) credential() *syscall.Credential {
	if !u.drop {
		return nil
	}
	return &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid)}
}

// chown gives path to the cluster user when the process runs as root.
func (u osUser) chown(path string) error {
	if !u.drop {
		return nil
	}
	return os.Chown(path, u.uid, u.gid)
}

// writeFile writes a file the cluster user owns, creating missing parents.
func (u osUser) writeFile(path string, data []byte, mode os.FileMode) error {
	if err := u.mkdirAll(filepath.Dir(path)); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile keeps an existing file's mode
		return err
	}
	return u.chown(path)
}

func (u osUser) mkdirAll(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := u.mkdirAll(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	return u.chown(dir)
}

// makeBaseDir creates the cluster's private directory, mode 0755 and owned by
// the cluster user, under a temporary directory whose every parent that user
// can traverse: os.TempDir() when possible, else /tmp.
func makeBaseDir(u osUser) (string, error) {
	for _, parent := range []string{os.TempDir(), "/tmp"} {
		if !traversable(parent, u) {
			continue
		}
		dir, err := os.MkdirTemp(parent, "pgmi-pg-*")
		if err != nil {
			return "", fmt.Errorf("pgserver: create cluster directory: %w", err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return "", errors.Join(fmt.Errorf("pgserver: chmod cluster directory: %w", err), os.RemoveAll(dir))
		}
		if err := u.chown(dir); err != nil {
			return "", errors.Join(fmt.Errorf("pgserver: chown cluster directory to %s: %w", u.name, err), os.RemoveAll(dir))
		}
		return dir, nil
	}
	return "", fmt.Errorf("pgserver: no temporary directory whose parents %s (uid %d) can traverse; "+
		"set TMPDIR to one such as /tmp", u.name, u.uid)
}

// traversable reports whether u can search dir and every parent of it.
func traversable(dir string, u osUser) bool {
	if !u.drop {
		return true
	}
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	for {
		if !searchable(dir, u) {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// searchable checks the execute bit that applies to u; children run with no
// supplementary groups, so only the primary group counts.
func searchable(dir string, u osUser) bool {
	fi, err := os.Stat(dir)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	perm := fi.Mode().Perm()
	switch {
	case int(st.Uid) == u.uid:
		return perm&0o100 != 0
	case int(st.Gid) == u.gid:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

func checkSocketPath(sockDir string) error {
	if len(sockDir)+len("/.s.PGSQL.65535") > maxSocketPath {
		return fmt.Errorf("pgserver: socket directory %s is too long for a unix socket path; "+
			"set TMPDIR to a shorter directory such as /tmp", sockDir)
	}
	return nil
}
