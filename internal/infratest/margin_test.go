package infratest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// marginSpecs name, per module, the variable holding the platform's
// timeout in seconds that PGMI_TIMEOUT_MARGIN must stay below, and a valid
// timeout to plan with.
var marginSpecs = []struct {
	dir, timeoutVar string
	timeout         int
}{
	{"aws", "timeout_seconds", 30},
	{"gcp", "timeout_seconds", 60},
	{"azure", "function_timeout_seconds", 1800},
}

// marginValidation finds the validation block of variable timeout_margin
// that compares it with timeoutVar, or reports why there is none.
func marginValidation(m *module, timeoutVar string) (*hclsyntax.Body, []string) {
	v := m.one("variable", "timeout_margin")
	if v == nil {
		return nil, []string{"variable timeout_margin is not declared"}
	}
	if m.one("variable", timeoutVar) == nil {
		return nil, []string{"variable " + timeoutVar + " is not declared"}
	}
	for _, b := range v.Body.Blocks {
		if b.Type != "validation" {
			continue
		}
		cond, msg := b.Body.Attributes["condition"], b.Body.Attributes["error_message"]
		if cond == nil || msg == nil {
			continue
		}
		r := refs(cond.Expr)
		if !r["var.timeout_margin"] || !r["var."+timeoutVar] {
			continue
		}
		text := m.text(msg.Expr)
		if !strings.Contains(text, "timeout_margin") || !strings.Contains(text, timeoutVar) {
			return nil, []string{"the margin validation's error_message must name timeout_margin and " + timeoutVar + ": " + text}
		}
		return b.Body, nil
	}
	return nil, []string{"variable timeout_margin: no validation block compares it with var." + timeoutVar + " (a margin at or above the platform's timeout leaves no time to deploy)"}
}

// evalCondition evaluates a validation condition with the Terraform
// functions it may use.
func evalCondition(t *testing.T, body *hclsyntax.Body, vars map[string]cty.Value) bool {
	t.Helper()
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)},
		Functions: map[string]function.Function{
			"regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc,
			"tonumber": stdlib.MakeToFunc(cty.Number), "sum": sumFunc, "try": tryfunc.TryFunc, "can": tryfunc.CanFunc,
		},
	}
	v, diags := body.Attributes["condition"].Expr.Value(ctx)
	if diags.HasErrors() {
		t.Fatalf("condition: %s", diags.Error())
	}
	return v.True()
}

// sumFunc is Terraform's sum over a list of numbers.
var sumFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Number)}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		total := cty.Zero
		for it := args[0].ElementIterator(); it.Next(); {
			_, v := it.Element()
			total = total.Add(v)
		}
		return total, nil
	},
})

// A PGMI_TIMEOUT_MARGIN at or above the function's timeout makes every
// event fail at once: each module refuses it at plan time, naming both.
func TestTimeoutMarginBelowTimeout(t *testing.T) {
	cases := []struct {
		margin string
		ok     bool
	}{
		{"10s", true}, {"29s", true}, {"30s", false}, {"1m", false}, {"29999ms", true}, {"30000ms", false},
		{"1h", false}, {"0.4m", true}, {"0.5m", false}, {"1m30s", false},
	}
	for _, s := range marginSpecs {
		t.Run(s.dir, func(t *testing.T) {
			body, problems := marginValidation(loadModule(t, s.dir), s.timeoutVar)
			for _, p := range problems {
				t.Fatal(p)
			}
			for _, c := range cases {
				timeout := 30 // seconds; the cases are written against it
				vars := map[string]cty.Value{"timeout_margin": cty.StringVal(c.margin), s.timeoutVar: cty.NumberIntVal(int64(timeout))}
				if got := evalCondition(t, body, vars); got != c.ok {
					t.Errorf("margin %s with %s = %d: valid = %v, want %v", c.margin, s.timeoutVar, timeout, got, c.ok)
				}
			}
			// A malformed margin is the format rule's to report, not an
			// evaluation error here.
			evalCondition(t, body, map[string]cty.Value{"timeout_margin": cty.StringVal("soon"), s.timeoutVar: cty.NumberIntVal(30)})
		})
	}
}

// The check finds a module without the rule.
func TestTimeoutMarginCheckCatchesItsAbsence(t *testing.T) {
	for _, s := range marginSpecs {
		m := loadModule(t, s.dir)
		src := map[string][]byte{}
		for k, v := range m.src {
			src[k] = v
		}
		src["variables.tf"] = []byte(dropValidation("timeout_margin")(string(src["variables.tf"])))
		if _, problems := marginValidation(parseModule(m.dir, src), s.timeoutVar); len(problems) == 0 {
			t.Errorf("%s: the margin check did not notice the validation was gone", s.dir)
		}
	}
}

// With terraform installed, a plan of each module's two variables refuses
// a margin equal to the timeout with a message naming both, and accepts
// one a second shorter.
func TestTimeoutMarginInTerraformPlan(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		// Not a component the suite can install (no package registry
		// here serves terraform), so its absence is a skip even in CI;
		// TestTimeoutMarginBelowTimeout has evaluated the rule anyway.
		t.Skip("terraform is not on PATH; TestTimeoutMarginBelowTimeout evaluated the rule without it")
	}
	for _, s := range marginSpecs {
		t.Run(s.dir, func(t *testing.T) {
			m := loadModule(t, s.dir)
			if _, problems := marginValidation(m, s.timeoutVar); len(problems) > 0 {
				t.Fatal(problems[0])
			}
			dir := t.TempDir()
			src := "terraform {\n  required_version = \">= 1.9.0\"\n}\n\n" +
				m.text(blockExpr(m.one("variable", "timeout_margin"))) + "\n\n" + m.text(blockExpr(m.one("variable", s.timeoutVar))) + "\n"
			if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			plan := func(margin string) (string, error) {
				cmd := exec.Command(tf, "plan", "-input=false", "-no-color", "-var", "timeout_margin="+margin,
					"-var", s.timeoutVar+"="+strconv.Itoa(s.timeout))
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				return out.String(), err
			}
			out, err := plan(strconv.Itoa(s.timeout) + "s")
			flat := strings.Join(strings.Fields(out), " ")
			if err == nil || !strings.Contains(flat, "timeout_margin") || !strings.Contains(flat, s.timeoutVar) {
				t.Errorf("margin = %s: the plan did not fail naming timeout_margin and %s (%v):\n%s", s.timeoutVar, s.timeoutVar, err, out)
			}
			if out, err := plan(strconv.Itoa(s.timeout-1) + "s"); err != nil {
				t.Errorf("margin one second under %s: %v\n%s", s.timeoutVar, err, out)
			}
		})
	}
}

// blockExpr makes a block's whole source range printable by module.text.
func blockExpr(b *hclsyntax.Block) hclsyntax.Expression {
	return &hclsyntax.LiteralValueExpr{SrcRange: hcl.RangeBetween(b.TypeRange, b.Body.SrcRange)}
}
