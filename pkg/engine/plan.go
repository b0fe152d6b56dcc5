package engine

import (
	"crypto/sha1"
	"fmt"
	"sort"
	"strings"
)

// PlanEntry is one row of the session's pgmi_plan_view, computed offline:
// one entry per (file, effective sort key).
type PlanEntry struct {
	ExecutionOrder int      // 1..n, the view's execution_order
	Path           string   // "./" path
	ID             string   // the <pgmi-meta> id; "" for a file without metadata (NULL in the view)
	Idempotent     bool     // true for a file without metadata, as in the view
	SortKey        string   // the key this entry runs under (the path when the file declares none)
	SortKeys       []string // the keys the file declares (empty without metadata or sortKeys)
	Description    string   // "" when absent, as in the view
	HasMetadata    bool
}

// Plan is the order the session's pgmi_plan_view gives this project
// (ENGINE-REFERENCE §3.4): every non-test file, once per sort key (a file
// without sort keys runs once under its own path), ordered by sort key and
// then path, both compared byte by byte as COLLATE "C" does. It is the one
// ordering the offline tools use; the CLI tests compare it with the view on
// a live session.
func (p *Project) Plan() []PlanEntry {
	var out []PlanEntry
	for _, f := range p.Sources {
		e := PlanEntry{Path: f.Path, Idempotent: true, SortKeys: []string{}}
		keys := []string{f.Path}
		if m := f.Meta; m != nil {
			e.ID, e.Idempotent, e.Description, e.HasMetadata = m.ID, m.Idempotent, m.Description, true
			if len(m.SortKeys) > 0 {
				e.SortKeys = append([]string(nil), m.SortKeys...)
				keys = m.SortKeys
			}
		}
		for _, k := range keys {
			e.SortKey = k
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return planLess(out[i], out[j]) })
	for i := range out {
		out[i].ExecutionOrder = i + 1
	}
	return out
}

// planLess is the view's ORDER BY sort_key COLLATE "C", path COLLATE "C":
// Go compares strings by their UTF-8 bytes, which is what the C collation
// does on a UTF-8 database. Rows equal on both are the same file under a
// key it lists twice, so their relative order is unobservable.
func planLess(a, b PlanEntry) bool {
	if a.SortKey != b.SortKey {
		return a.SortKey < b.SortKey
	}
	return a.Path < b.Path
}

// Problem is a file whose <pgmi-meta> block an Inspect scan could not accept.
type Problem struct {
	Path string
	Err  error
}

// DuplicateID is a metadata id that several files carry.
type DuplicateID struct {
	ID    string
	Paths []string // sorted
}

// DuplicateIDs lists the ids shared by several files, sorted by id. A
// normal scan fails on the first list that is not empty; an Inspect scan
// leaves it to the caller.
func (p *Project) DuplicateIDs() []DuplicateID { return duplicateIDs(p.Sources) }

func duplicateIDs(files []SourceFile) []DuplicateID {
	byID := map[string][]string{}
	for _, f := range files {
		if f.Meta != nil {
			byID[f.Meta.ID] = append(byID[f.Meta.ID], f.Path)
		}
	}
	var out []DuplicateID
	for id, paths := range byID {
		if len(paths) > 1 {
			sort.Strings(paths)
			out = append(out, DuplicateID{ID: id, Paths: paths})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// fileIdentitySpace is the UUID namespace of pgmi's fallback file identity:
// the version 5 UUID of the name "pgmi.com/file-identity/v1" in the URL
// namespace (RFC 9562).
var fileIdentitySpace = uuid5([16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8},
	"pgmi.com/file-identity/v1")

// FallbackID is the identity pgmi gives a file without a <pgmi-meta> block
// (metadata plan and scaffold): the version 5 UUID, in fileIdentitySpace,
// of its path lower-cased and without the leading "./", so it is stable
// across deploys and case-insensitive.
func FallbackID(path string) string {
	return formatUUID(uuid5(fileIdentitySpace, strings.TrimPrefix(strings.ToLower(path), "./")))
}

func uuid5(space [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(space[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

func formatUUID(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
