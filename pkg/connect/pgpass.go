package connect

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Passfile is a parsed password file (.pgpass): lines of
// hostname:port:database:username:password, where * matches anything in
// the first four fields, \: and \\ escape, # starts a comment, and the first
// matching line wins.
type Passfile struct {
	entries [][5]string
}

// DefaultPassfile is libpq's location: ~/.pgpass, or
// %APPDATA%\postgresql\pgpass.conf on Windows; "" without a home directory.
func DefaultPassfile(env Env) string {
	if runtime.GOOS == "windows" {
		if app := env.get("APPDATA"); app != "" {
			return filepath.Join(app, "postgresql", "pgpass.conf")
		}
		return ""
	}
	if home := env.get("HOME"); home != "" {
		return filepath.Join(home, ".pgpass")
	}
	return ""
}

// ReadPassfile reads path. Like libpq it ignores, with a warning, a file
// that is not a plain file or that its group or others may read (on
// Windows there is no such check); a missing file gives nil and no warning.
// The warning is a WARN record of log, which may be nil.
func ReadPassfile(path string, log *slog.Logger) *Passfile {
	if path == "" {
		return nil
	}
	say := func(format string, args ...any) {
		if log != nil {
			log.Warn(fmt.Sprintf(format, args...))
		}
	}
	fi, err := os.Stat(path)
	switch {
	case os.IsNotExist(err):
		return nil
	case err != nil:
		say("password file %q cannot be read (%v); ignoring it", path, err)
		return nil
	case !fi.Mode().IsRegular():
		say("password file %q is not a plain file; ignoring it", path)
		return nil
	case runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0:
		say("password file %q has group or world access; permissions should be u=rw (0600) or less: ignoring it (chmod 0600 %s)", path, path)
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		say("password file %q cannot be read (%v); ignoring it", path, err)
		return nil
	}
	return ParsePassfile(data)
}

// ParsePassfile parses the content of a password file.
func ParsePassfile(data []byte) *Passfile {
	p := &Passfile{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if e, ok := splitPassLine(line); ok {
			p.entries = append(p.entries, e)
		}
	}
	return p
}

// splitPassLine splits on unescaped colons; the fifth field is the rest of
// the line.
func splitPassLine(line string) ([5]string, bool) {
	var e [5]string
	var b strings.Builder
	field := 0
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			b.WriteByte(line[i])
		case c == ':' && field < 4:
			e[field] = b.String()
			b.Reset()
			field++
		default:
			b.WriteByte(c)
		}
	}
	if field < 4 {
		return e, false
	}
	e[4] = b.String()
	return e, true
}

// Lookup finds the password for a connection. A Unix-socket host matches
// "localhost", as in libpq.
func (p *Passfile) Lookup(host string, port uint16, database, user string) (string, bool) {
	if p == nil {
		return "", false
	}
	if host == "" || IsSocketDir(host) {
		host = "localhost"
	}
	want := [4]string{host, strconv.Itoa(int(port)), database, user}
	for _, e := range p.entries {
		ok := true
		for i := range want {
			if e[i] != "*" && e[i] != want[i] {
				ok = false
				break
			}
		}
		if ok {
			return e[4], true
		}
	}
	return "", false
}

// Len is the number of usable lines.
func (p *Passfile) Len() int {
	if p == nil {
		return 0
	}
	return len(p.entries)
}
