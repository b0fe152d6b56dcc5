package engine

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// The loader streams every file of the project into the session with one
// COPY per table, in PostgreSQL's text format. File contents go from the
// fs.FS through an escaping writer straight into the COPY stream: at most one
// read buffer per file is in memory, never the project.

const copySourceSQL = `COPY pg_temp._pgmi_source (path, name, directory, extension, depth, content, size_bytes, ` +
	`checksum, pgmi_checksum, path_parts, is_sql_file, is_test_file, parent_folder_name) FROM STDIN`

const copyTestDirSQL = `COPY pg_temp._pgmi_test_directory (path, parent_path, depth) FROM STDIN`

const copyTestSourceSQL = `COPY pg_temp._pgmi_test_source (path, directory, filename, content, is_fixture) FROM STDIN`

const copyMetadataSQL = `COPY pg_temp._pgmi_source_metadata (path, id, idempotent, sort_keys, description) FROM STDIN`

// loadProject fills the internal tables and analyzes them.
func loadProject(ctx context.Context, pg *pgconn.PgConn, p *Project) error {
	steps := []struct {
		what string
		n    int
		sql  string
		rows func(w *copyWriter) error
	}{
		{"project files", len(p.Sources), copySourceSQL, p.writeSources},
		{"test directories", len(p.TestDirs), copyTestDirSQL, p.writeTestDirs},
		{"test files", len(p.Tests), copyTestSourceSQL, p.writeTests},
		{"file metadata", p.metadataCount(), copyMetadataSQL, p.writeMetadata},
	}
	for _, s := range steps {
		if s.n == 0 {
			continue
		}
		if err := copyRows(ctx, pg, s.sql, s.rows); err != nil {
			return fmt.Errorf("loading %s: %w", s.what, err)
		}
	}
	if p.Scanned == 0 {
		return nil
	}
	_, err := pg.Exec(ctx, "ANALYZE pg_temp._pgmi_source, pg_temp._pgmi_source_metadata, "+
		"pg_temp._pgmi_test_source, pg_temp._pgmi_test_directory").ReadAll()
	return err
}

// copyRows runs one COPY whose data the rows function writes through a pipe.
func copyRows(ctx context.Context, pg *pgconn.PgConn, sql string, rows func(w *copyWriter) error) error {
	pr, pw := io.Pipe()
	writeErr := make(chan error, 1)
	go func() {
		w := &copyWriter{w: bufio.NewWriterSize(pw, 64<<10)}
		err := rows(w)
		if err == nil {
			err = w.w.Flush()
		}
		pw.CloseWithError(err)
		writeErr <- err
	}()
	_, err := pg.CopyFrom(ctx, pr, sql)
	pr.CloseWithError(io.ErrClosedPipe) // unblock the writer if COPY stopped early
	if werr := <-writeErr; werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		return werr // the reason the COPY was abandoned, not the server's echo of it
	}
	return err
}

func (p *Project) metadataCount() int {
	n := 0
	for _, f := range p.Sources {
		if f.Meta != nil {
			n++
		}
	}
	return n
}

func (p *Project) writeSources(w *copyWriter) error {
	for _, f := range p.Sources {
		parts := strings.Split(f.Path, "/")
		depth := len(parts) - 2
		name := parts[len(parts)-1]
		w.field(f.Path)
		w.field(name)
		w.field(f.Path[:len(f.Path)-len(name)])
		w.field(fileExtension(name))
		w.field(strconv.Itoa(depth))
		if err := w.content(p.fsys, f.name, f.Path, f.Size, f.Checksum, f.bom); err != nil {
			return err
		}
		w.field(strconv.FormatInt(f.Size, 10))
		w.field(f.Checksum)
		w.field(f.PGMIChecksum)
		w.field(arrayLiteral(parts))
		w.field(boolText(IsSQLExtension(name)))
		w.field(boolText(false))
		if depth == 0 {
			w.null()
		} else {
			w.field(parts[depth])
		}
		w.endRow()
	}
	return nil
}

func (p *Project) writeTestDirs(w *copyWriter) error {
	for _, d := range p.TestDirs {
		w.field(d.Path)
		if d.Parent == "" {
			w.null()
		} else {
			w.field(d.Parent)
		}
		w.field(strconv.Itoa(d.Depth))
		w.endRow()
	}
	return nil
}

func (p *Project) writeTests(w *copyWriter) error {
	for _, t := range p.Tests {
		w.field(t.Path)
		w.field(t.Directory)
		w.field(t.Filename)
		if err := w.content(p.fsys, t.name, t.Path, t.Size, t.Checksum, t.bom); err != nil {
			return err
		}
		w.field(boolText(t.Fixture))
		w.endRow()
	}
	return nil
}

func (p *Project) writeMetadata(w *copyWriter) error {
	for _, f := range p.Sources {
		if f.Meta == nil {
			continue
		}
		w.field(f.Path)
		w.field(f.Meta.ID)
		w.field(boolText(f.Meta.Idempotent))
		w.field(arrayLiteral(f.Meta.SortKeys))
		w.field(f.Meta.Description)
		w.endRow()
	}
	return nil
}

// fileExtension is the trailing ".[A-Za-z0-9]+" of a name, or "".
func fileExtension(name string) string {
	i := len(name)
	for i > 0 && isASCIIAlnum(name[i-1]) {
		i--
	}
	if i == len(name) || i == 0 || name[i-1] != '.' {
		return ""
	}
	return name[i-1:]
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func boolText(b bool) string {
	if b {
		return "t"
	}
	return "f"
}

// arrayLiteral renders a text[] literal with every element double-quoted.
func arrayLiteral(items []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for j := 0; j < len(s); j++ {
			if s[j] == '"' || s[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// copyWriter writes rows in COPY text format. Write errors are sticky and
// surface at Flush, so the row writers stay linear.
type copyWriter struct {
	w       *bufio.Writer
	started bool
}

func (c *copyWriter) sep() {
	if c.started {
		c.w.WriteByte('\t')
	}
	c.started = true
}

func (c *copyWriter) field(s string) {
	c.sep()
	c.escape([]byte(s))
}

func (c *copyWriter) null() {
	c.sep()
	c.w.WriteString(`\N`)
}

func (c *copyWriter) endRow() {
	c.w.WriteByte('\n')
	c.started = false
}

func (c *copyWriter) escape(b []byte) {
	start := 0
	for i, ch := range b {
		var esc string
		switch ch {
		case '\\':
			esc = `\\`
		case '\n':
			esc = `\n`
		case '\r':
			esc = `\r`
		case '\t':
			esc = `\t`
		default:
			continue
		}
		c.w.Write(b[start:i])
		c.w.WriteString(esc)
		start = i + 1
	}
	c.w.Write(b[start:])
}

// content streams one file into the current field, stripping the BOM the scan
// saw and failing if the file no longer matches what the scan checked.
func (c *copyWriter) content(fsys fs.FS, name, rel string, size int64, checksum string, bom bool) error {
	c.sep()
	f, err := fsys.Open(name)
	if err != nil {
		return fault.Wrap(fault.Internal, err, "cannot reopen %s", rel)
	}
	defer f.Close()
	var r io.Reader = f
	if bom {
		if _, err := io.CopyN(io.Discard, f, int64(len(bomBytes))); err != nil {
			return fault.Wrap(fault.Internal, err, "cannot read %s", rel)
		}
	}
	h := sha256.New()
	n, err := io.Copy(escapeSink{c, h}, io.LimitReader(r, size+1))
	if err != nil {
		return fault.Wrap(fault.Internal, err, "cannot read %s", rel)
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != checksum {
		return fault.Errorf(fault.Config, "file %s changed while it was being deployed; nothing was applied, run the deploy again", rel)
	}
	return nil
}

type escapeSink struct {
	c *copyWriter
	h hash.Hash
}

func (s escapeSink) Write(b []byte) (int, error) {
	s.h.Write(b)
	s.c.escape(b)
	return len(b), nil
}
