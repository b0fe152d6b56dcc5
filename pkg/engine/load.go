package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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

// contentCompressionSQL runs after the internal script, in the same message.
// File contents are TOASTed as they are loaded, and pglz, PostgreSQL's
// default, costs the backend more than the rest of the COPY together; lz4
// (PostgreSQL 14+ built with it) is several times cheaper and still
// compresses. It changes how the contents are stored, never what they are;
// a server without lz4 keeps pglz.
const contentCompressionSQL = `
DO $pgmi$
BEGIN
  IF current_setting('server_version_num')::int >= 140000 THEN
    EXECUTE 'ALTER TABLE pg_temp._pgmi_source ALTER COLUMN content SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE pg_temp._pgmi_test_source ALTER COLUMN content SET COMPRESSION lz4';
  END IF;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
  NULL; -- built without lz4
END
$pgmi$;
`

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

// copyRows runs one COPY whose data the rows function writes through a pipe:
// the writer goroutine reads and escapes the next file while pgconn sends
// the previous chunk and the server parses it.
func copyRows(ctx context.Context, pg *pgconn.PgConn, sql string, rows func(w *copyWriter) error) error {
	pr, pw := io.Pipe()
	writeErr := make(chan error, 1)
	go func() {
		w := newCopyWriter(pw)
		err := rows(w)
		if err == nil {
			err = w.flush()
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

// copyWriter writes rows in COPY text format into its own buffer, handed to
// w in chunks of about copyChunk bytes. Write errors are sticky and surface
// at flush, so the row writers stay linear.
type copyWriter struct {
	w       io.Writer
	buf     []byte // pending output; cap 2*copyChunk, so one escaped chunk always fits
	read    []byte // file read buffer, reused for every file
	err     error
	started bool
}

const copyChunk = 64 << 10

func newCopyWriter(w io.Writer) *copyWriter {
	return &copyWriter{w: w, buf: make([]byte, 0, 2*copyChunk), read: make([]byte, copyChunk/2)}
}

// flush hands the pending output to w.
func (c *copyWriter) flush() error {
	if c.err == nil && len(c.buf) > 0 {
		_, c.err = c.w.Write(c.buf)
	}
	c.buf = c.buf[:0]
	return c.err
}

// room makes sure n more bytes fit without growing the buffer.
func (c *copyWriter) room(n int) {
	if len(c.buf)+n > cap(c.buf) || len(c.buf) >= copyChunk {
		c.flush()
	}
}

func (c *copyWriter) sep() {
	if c.started {
		c.room(1)
		c.buf = append(c.buf, '\t')
	}
	c.started = true
}

func (c *copyWriter) field(s string) {
	c.sep()
	escapeInto(c, s)
}

func (c *copyWriter) null() {
	c.sep()
	c.room(2)
	c.buf = append(c.buf, `\N`...)
}

func (c *copyWriter) endRow() {
	c.room(1)
	c.buf = append(c.buf, '\n')
	c.started = false
}

// copyEscapes maps the bytes COPY's text format escapes to the letter that
// follows the backslash; every other byte maps to 0.
var copyEscapes = [256]byte{'\\': '\\', '\n': 'n', '\r': 'r', '\t': 't'}

// escapeInto appends s escaped, in pieces that each fit the buffer even when
// every byte doubles.
func escapeInto[T string | []byte](c *copyWriter, s T) {
	for len(s) > 0 {
		n := min(len(s), copyChunk/2)
		c.room(2 * n)
		piece := s[:n]
		start := 0
		for i := 0; i < len(piece); i++ {
			e := copyEscapes[piece[i]]
			if e == 0 {
				continue
			}
			c.buf = append(c.buf, piece[start:i]...)
			c.buf = append(c.buf, '\\', e)
			start = i + 1
		}
		c.buf = append(c.buf, piece[start:]...)
		s = s[n:]
	}
}

// content streams one file into the current field, stripping the BOM the scan
// saw and failing if the file no longer matches what the scan checked.
func (c *copyWriter) content(fsys fs.FS, name, rel string, size int64, checksum string, bom bool) error {
	if c.err != nil {
		return c.err // the COPY ended: read no more files
	}
	c.sep()
	if cfs, ok := fsys.(ContentFS); ok {
		if data, _, ok := cfs.Content(name); ok {
			if bom {
				data = data[len(bomBytes):]
			}
			if int64(len(data)) != size {
				return fault.Errorf(fault.Internal, "file %s is %d bytes in memory, %d when scanned", rel, len(data), size)
			}
			for len(data) > 0 && c.err == nil {
				n := min(len(data), len(c.read))
				escapeInto(c, data[:n])
				data = data[n:]
			}
			return c.err
		}
	}
	f, err := fsys.Open(name)
	if err != nil {
		return fault.Wrap(fault.Internal, err, "cannot reopen %s", rel)
	}
	defer f.Close()
	skip := 0
	if bom {
		skip = len(bomBytes)
	}
	h := sha256.New()
	var n int64
	for n <= size {
		k, err := f.Read(c.read)
		if k > 0 {
			chunk := c.read[:k]
			if skip > 0 {
				d := min(skip, k)
				skip -= d
				chunk = chunk[d:]
			}
			if int64(len(chunk)) > size+1-n {
				chunk = chunk[:size+1-n] // enough to tell it grew
			}
			n += int64(len(chunk))
			h.Write(chunk)
			escapeInto(c, chunk)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fault.Wrap(fault.Internal, err, "cannot read %s", rel)
		}
	}
	if skip > 0 || n != size || hex.EncodeToString(h.Sum(nil)) != checksum {
		return fault.Errorf(fault.Config, "file %s changed while it was being deployed; nothing was applied, run the deploy again", rel)
	}
	return nil
}
