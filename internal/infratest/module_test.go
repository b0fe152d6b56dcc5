package infratest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

// A module is the parsed .tf files of one directory.
type module struct {
	dir    string
	src    map[string][]byte // file name → content
	blocks []*hclsyntax.Block
	diags  hcl.Diagnostics
}

// readModule reads the .tf files of dir (not its subdirectories).
func readModule(dir string) (map[string][]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	src := map[string][]byte{}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		src[filepath.Base(n)] = data
	}
	return src, nil
}

// parseModule parses the files of one module; syntax errors are in diags.
func parseModule(dir string, src map[string][]byte) *module {
	m := &module{dir: dir, src: src}
	names := make([]string, 0, len(src))
	for n := range src {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f, diags := hclsyntax.ParseConfig(src[n], n, hcl.InitialPos)
		m.diags = append(m.diags, diags...)
		if body, ok := f.Body.(*hclsyntax.Body); ok && body != nil {
			m.blocks = append(m.blocks, body.Blocks...)
		}
	}
	return m
}

// top returns the top-level blocks of a type whose labels start with labels.
func (m *module) top(typ string, labels ...string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.blocks {
		if b.Type != typ || len(b.Labels) < len(labels) {
			continue
		}
		match := true
		for i, l := range labels {
			match = match && b.Labels[i] == l
		}
		if match {
			out = append(out, b)
		}
	}
	return out
}

// one returns the single top-level block typ "labels…", or nil.
func (m *module) one(typ string, labels ...string) *hclsyntax.Block {
	bs := m.top(typ, labels...)
	if len(bs) != 1 {
		return nil
	}
	return bs[0]
}

// named maps the first label of each top-level block of typ to the block.
func (m *module) named(typ string) map[string]*hclsyntax.Block {
	out := map[string]*hclsyntax.Block{}
	for _, b := range m.top(typ) {
		if len(b.Labels) > 0 {
			out[b.Labels[0]] = b
		}
	}
	return out
}

// resourceTypes is the set of resource (or data) types the module declares.
func (m *module) resourceTypes(kind string) map[string]bool {
	out := map[string]bool{}
	for _, b := range m.top(kind) {
		out[b.Labels[0]] = true
	}
	return out
}

// locals maps every local value to its expression.
func (m *module) locals() map[string]hclsyntax.Expression {
	out := map[string]hclsyntax.Expression{}
	for _, b := range m.top("locals") {
		for name, a := range b.Body.Attributes {
			out[name] = a.Expr
		}
	}
	return out
}

// nested returns the blocks of typ directly inside body, including the
// content of dynamic "typ" blocks.
func nested(body *hclsyntax.Body, typ string) []*hclsyntax.Body {
	var out []*hclsyntax.Body
	for _, b := range body.Blocks {
		switch {
		case b.Type == typ:
			out = append(out, b.Body)
		case b.Type == "dynamic" && len(b.Labels) == 1 && b.Labels[0] == typ:
			for _, c := range b.Body.Blocks {
				if c.Type == "content" {
					out = append(out, c.Body)
				}
			}
		}
	}
	return out
}

// attrs returns the attributes at path (block types, then an attribute
// name) below body, through every repetition of the blocks on the way.
func attrs(body *hclsyntax.Body, path ...string) []*hclsyntax.Attribute {
	if len(path) == 1 {
		if a, ok := body.Attributes[path[0]]; ok {
			return []*hclsyntax.Attribute{a}
		}
		return nil
	}
	var out []*hclsyntax.Attribute
	for _, b := range nested(body, path[0]) {
		out = append(out, attrs(b, path[1:]...)...)
	}
	return out
}

// attr is the single attribute at path, or nil.
func attr(body *hclsyntax.Body, path ...string) *hclsyntax.Attribute {
	as := attrs(body, path...)
	if len(as) != 1 {
		return nil
	}
	return as[0]
}

// literal is the value of an expression that needs no variables, or false.
func literal(e hclsyntax.Expression) (cty.Value, bool) {
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return v, true
}

// literalString is the string value of a constant expression, or "".
func literalString(e hclsyntax.Expression) string {
	v, ok := literal(e)
	if !ok || v.IsNull() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

// literalStrings are the constant strings of a list expression; elements
// that need variables are skipped.
func literalStrings(e hclsyntax.Expression) []string {
	tuple, ok := e.(*hclsyntax.TupleConsExpr)
	if !ok {
		if s := literalString(e); s != "" {
			return []string{s}
		}
		return nil
	}
	var out []string
	for _, el := range tuple.Exprs {
		if s := literalString(el); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// refs are the references an expression makes, as "var.x", "local.y",
// "aws_iam_role.deployer", "module.pgmi", "data.aws_x.y".
func refs(e hclsyntax.Expression) map[string]bool {
	out := map[string]bool{}
	for _, tr := range e.Variables() {
		parts := []string{tr.RootName()}
		want := 1
		if parts[0] == "data" {
			want = 2
		}
		for _, step := range tr[1:] {
			if len(parts) > want {
				break
			}
			if a, ok := step.(hcl.TraverseAttr); ok {
				parts = append(parts, a.Name)
			} else {
				break
			}
		}
		out[strings.Join(parts, ".")] = true
	}
	return out
}

// deepRefs are the references of e with local values followed to what
// they refer to.
func (m *module) deepRefs(e hclsyntax.Expression) map[string]bool {
	locals := m.locals()
	out := map[string]bool{}
	var walk func(hclsyntax.Expression)
	walk = func(e hclsyntax.Expression) {
		for r := range refs(e) {
			if out[r] {
				continue
			}
			out[r] = true
			if name, ok := strings.CutPrefix(r, "local."); ok {
				if le, ok := locals[name]; ok {
					walk(le)
				}
			}
		}
	}
	walk(e)
	return out
}

// objectItems maps the keys of every object constructor inside e (however
// deep) to their value expressions: the keys of an environment map built
// with merge and for expressions.
func objectItems(e hclsyntax.Expression) map[string]hclsyntax.Expression {
	out := map[string]hclsyntax.Expression{}
	hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		obj, ok := n.(*hclsyntax.ObjectConsExpr)
		if !ok {
			return nil
		}
		for _, item := range obj.Items {
			key := hcl.ExprAsKeyword(item.KeyExpr)
			if key == "" {
				key = literalString(item.KeyExpr)
			}
			if key != "" {
				out[key] = item.ValueExpr
			}
		}
		return nil
	})
	return out
}

// text is the source of an expression, for messages and text checks.
func (m *module) text(e hclsyntax.Expression) string {
	r := e.Range()
	src := m.src[r.Filename]
	if r.End.Byte > len(src) {
		return ""
	}
	return string(src[r.Start.Byte:r.End.Byte])
}

// where names a block for messages.
func where(b *hclsyntax.Block) string {
	return fmt.Sprintf("%s %s (%s:%d)", b.Type, strings.Join(b.Labels, "."), b.DefRange().Filename, b.DefRange().Start.Line)
}
