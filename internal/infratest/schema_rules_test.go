package infratest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// The schemas say what each argument is, not how variables must relate
// (a timeout margin below the function's timeout, a results prefix apart
// from the bundle prefix): each module states those rules itself, as
// variable validation blocks. The Schema rule tests evaluate every one of
// them the way terraform plan would, with the module's example values,
// which must pass, and with values that break a cross-variable rule, which
// must fail with the rule's message.

// terraformFunctions are the Terraform functions the validations use.
var terraformFunctions = map[string]function.Function{
	"regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc, "length": lengthFunc,
	"contains": stdlib.ContainsFunc, "trimspace": stdlib.TrimSpaceFunc, "keys": stdlib.KeysFunc,
	"floor": stdlib.FloorFunc, "split": stdlib.SplitFunc, "tonumber": stdlib.MakeToFunc(cty.Number),
	"tostring": stdlib.MakeToFunc(cty.String), "lower": stdlib.LowerFunc, "upper": stdlib.UpperFunc,
	"sum": sumFunc, "try": tryfunc.TryFunc, "can": tryfunc.CanFunc,
	"startswith": affixFunc(strings.HasPrefix), "endswith": affixFunc(strings.HasSuffix),
	"alltrue": quantifierFunc(true), "anytrue": quantifierFunc(false),
}

// lengthFunc is Terraform's length: of a string too, in characters.
var lengthFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true, AllowUnknown: true}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].Type() == cty.String {
			return stdlib.Strlen(args[0])
		}
		return stdlib.Length(args[0])
	},
})

func affixFunc(match func(s, affix string) bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "affix", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(match(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

// quantifierFunc is alltrue (all) or anytrue over a list of bools.
func quantifierFunc(all bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for it := args[0].ElementIterator(); it.Next(); {
				_, v := it.Element()
				if v.IsNull() {
					return cty.False, nil
				}
				if v.True() != all {
					return cty.BoolVal(!all), nil
				}
			}
			return cty.BoolVal(all), nil
		},
	})
}

// variableValues types the module's variables as terraform plan does:
// the value set, or the default, converted to the declared type with its
// optional attributes' defaults.
func variableValues(m *module, set map[string]cty.Value) (map[string]cty.Value, error) {
	out := map[string]cty.Value{}
	for name, v := range m.named("variable") {
		ty, defaults := cty.DynamicPseudoType, (*typeexpr.Defaults)(nil)
		if a := v.Body.Attributes["type"]; a != nil {
			var diags hcl.Diagnostics
			ty, defaults, diags = typeexpr.TypeConstraintWithDefaults(a.Expr)
			if diags.HasErrors() {
				return nil, fmt.Errorf("variable %s: type: %s", name, diags.Error())
			}
		}
		val, ok := set[name]
		if !ok {
			a := v.Body.Attributes["default"]
			if a == nil {
				return nil, fmt.Errorf("variable %s has no default and no value", name)
			}
			var diags hcl.Diagnostics
			if val, diags = a.Expr.Value(nil); diags.HasErrors() {
				return nil, fmt.Errorf("variable %s: default: %s", name, diags.Error())
			}
		}
		if defaults != nil && !val.IsNull() {
			val = defaults.Apply(val)
		}
		conv, err := convert.Convert(val, ty)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %v", name, err)
		}
		if conv.IsNull() && ty != cty.DynamicPseudoType {
			conv = cty.NullVal(ty)
		}
		out[name] = conv
	}
	return out, nil
}

// failedValidations evaluates every validation block of the module's
// variables; each failure is "file:line: variable x: error_message".
func failedValidations(m *module, vars map[string]cty.Value) []string {
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}, Functions: terraformFunctions}
	var out []string
	for _, name := range sortedKeys(m.named("variable")) {
		for _, b := range m.named("variable")[name].Body.Blocks {
			if b.Type != "validation" {
				continue
			}
			cond := b.Body.Attributes["condition"]
			pos := fmt.Sprintf("%s:%d: variable %s", b.DefRange().Filename, b.DefRange().Start.Line, name)
			if cond == nil {
				out = append(out, pos+": validation without a condition")
				continue
			}
			v, diags := cond.Expr.Value(ctx)
			if diags.HasErrors() {
				out = append(out, pos+": the condition does not evaluate: "+diags.Error())
				continue
			}
			if v.IsNull() || !v.IsKnown() || v.Type() != cty.Bool {
				out = append(out, fmt.Sprintf("%s: the condition is %#v, not true or false", pos, v))
				continue
			}
			if v.False() {
				msg := ""
				if a := b.Body.Attributes["error_message"]; a != nil {
					if mv, diags := a.Expr.Value(ctx); !diags.HasErrors() && mv.Type() == cty.String && mv.IsKnown() && !mv.IsNull() {
						msg = mv.AsString()
					}
				}
				out = append(out, pos+": "+msg)
			}
		}
	}
	return out
}

// exampleValues reads a module's terraform.tfvars.example.
func exampleValues(t *testing.T, dir string) map[string]cty.Value {
	t.Helper()
	rel := filepath.Join(dir, "terraform.tfvars.example")
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "infra", rel))
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, rel, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	out := map[string]cty.Value{}
	for name, a := range f.Body.(*hclsyntax.Body).Attributes {
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		out[name] = v
	}
	return out
}

func TestSchemaRulesAcceptExamples(t *testing.T) {
	for _, dir := range schemaModules {
		t.Run(dir, func(t *testing.T) {
			m := loadModule(t, dir)
			vars, err := variableValues(m, exampleValues(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, v := range m.named("variable") {
				n += len(nested(v.Body, "validation"))
			}
			if n == 0 {
				t.Fatal("no validation blocks")
			}
			for _, f := range failedValidations(m, vars) {
				t.Errorf("infra/%s/%s", dir, f)
			}
		})
	}
}

// Values that break one cross-variable rule each: the module refuses them,
// naming the variables.
func TestSchemaRulesRefuseBrokenValues(t *testing.T) {
	cases := []struct {
		dir      string
		set      map[string]cty.Value
		variable string   // whose validation must fail
		mentions []string // in its error_message
	}{
		{"aws", map[string]cty.Value{"timeout_seconds": cty.NumberIntVal(60), "timeout_margin": cty.StringVal("1m")},
			"timeout_margin", []string{"timeout_margin", "timeout_seconds"}},
		{"gcp", map[string]cty.Value{"timeout_seconds": cty.NumberIntVal(120), "timeout_margin": cty.StringVal("2m30s")},
			"timeout_margin", []string{"timeout_margin", "timeout_seconds"}},
		{"azure", map[string]cty.Value{"function_timeout_seconds": cty.NumberIntVal(600), "timeout_margin": cty.StringVal("600s")},
			"timeout_margin", []string{"timeout_margin", "function_timeout_seconds"}},
		{"aws", map[string]cty.Value{"bundle_prefix": cty.StringVal("bundles/"), "results_prefix": cty.StringVal("bundles/results/")},
			"results_prefix", []string{"bundle_prefix"}},
		{"gcp", map[string]cty.Value{"bundle_prefix": cty.StringVal("bundles/"), "results_prefix": cty.StringVal("bundles/")},
			"results_prefix", []string{"bundle_prefix"}},
		{"azure", map[string]cty.Value{"bundle_prefix": cty.StringVal("in/"), "results_prefix": cty.StringVal("in/out/")},
			"results_prefix", []string{"bundle_prefix"}},
	}
	for _, c := range cases {
		t.Run(c.dir+"/"+c.variable, func(t *testing.T) {
			m := loadModule(t, c.dir)
			set := exampleValues(t, c.dir)
			for k, v := range c.set {
				set[k] = v
			}
			vars, err := variableValues(m, set)
			if err != nil {
				t.Fatal(err)
			}
			failed := failedValidations(m, vars)
			for _, f := range failed {
				if !strings.Contains(f, ": variable "+c.variable+": ") {
					continue
				}
				for _, word := range c.mentions {
					if !strings.Contains(f, word) {
						t.Errorf("the message does not name %s: %s", word, f)
					}
				}
				return
			}
			t.Errorf("variable %s's validation did not fail; failures:\n%s", c.variable, strings.Join(failed, "\n"))
		})
	}
}
