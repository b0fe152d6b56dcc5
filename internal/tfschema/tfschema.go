// Package tfschema reads the Terraform schema of a provider out of the
// .jsii manifest of its prebuilt CDK for Terraform package
// (@cdktf/provider-aws and the like), which cdktf generates from the
// provider's own schema. scripts/deps.sh installs the manifests, reduced to
// the fields read here, into .cache/tools/tfschema; a complete .jsii reads
// the same.
//
// jsii speaks camelCase. Terraform names are recovered from the link to the
// registry documentation cdktf writes on every configuration property
// ("…/docs/resources/lambda_function#function_name LambdaFunction#function_name"),
// so argument and block names are exact. Attributes a resource only exports
// (arn, invoke_arn) carry no such link: they are matched by comparing names
// with case and underscores folded (Exports).
package tfschema

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// A Provider is the schema of one provider release.
type Provider struct {
	Package     string // npm package and version, "@cdktf/provider-aws@21.0.0"
	Source      string // "hashicorp/aws"
	Version     string // provider release, "6.0.0"
	Resources   map[string]*Block
	DataSources map[string]*Block
}

// A Block is the schema of a resource, a data source or a nested block.
type Block struct {
	Arguments map[string]*Argument    // by Terraform name
	Blocks    map[string]*NestedBlock // by Terraform name
	// exported folds (see fold) every attribute a resource or data source
	// exports to the jsii getter name; nil for nested blocks.
	exported map[string]string
}

// An Argument is an attribute a configuration may set.
type Argument struct {
	Name     string // Terraform name
	JSII     string // jsii property name
	Required bool
	// Object is the schema of an argument whose value is an object or a
	// collection of objects, which jsii types as interfaces like blocks:
	// nested attributes, and the SDKv2 attributes Terraform also accepts
	// in block syntax (aws_security_group's egress). Nil otherwise.
	Object *Block
}

// A NestedBlock is a block a configuration may write inside another.
type NestedBlock struct {
	Name     string
	JSII     string
	Required bool
	*Block
}

// Exports reports whether a resource or data source exports the attribute
// (which includes every argument).
func (b *Block) Exports(name string) bool {
	if _, ok := b.Arguments[name]; ok {
		return true
	}
	if _, ok := b.Blocks[name]; ok {
		return true
	}
	_, ok := b.exported[fold(name)]
	return ok
}

// ExportedNames lists the exported attributes as jsii names, for messages.
func (b *Block) ExportedNames() []string {
	var out []string
	for _, n := range b.exported {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// fold drops underscores and case: "output_base64sha256" and jsii's
// "outputBase64Sha256" fold alike.
func fold(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }

// The jsii manifest, as much of it as is read.
type jsiiFile struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Cdktf   struct {
		Provider struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"provider"`
	} `json:"cdktf"`
	Types map[string]*jsiiType `json:"types"`
}

type jsiiType struct {
	Fqn         string   `json:"fqn"`
	Kind        string   `json:"kind"`
	Base        string   `json:"base"`
	Docs        jsiiDocs `json:"docs"`
	Initializer *struct {
		Parameters []struct {
			Name string  `json:"name"`
			Type typeRef `json:"type"`
		} `json:"parameters"`
	} `json:"initializer"`
	Properties []jsiiProp `json:"properties"`
}

type jsiiDocs struct {
	Summary string `json:"summary"`
	Remarks string `json:"remarks"`
	Block   bool   `json:"block"` // set by scripts/deps.sh's reduction
}

type jsiiProp struct {
	Name     string   `json:"name"`
	Optional bool     `json:"optional"`
	Static   bool     `json:"static"`
	Type     typeRef  `json:"type"`
	Docs     jsiiDocs `json:"docs"`
}

type typeRef struct {
	Fqn        string `json:"fqn"`
	Primitive  string `json:"primitive"`
	Collection *struct {
		Kind        string  `json:"kind"`
		Elementtype typeRef `json:"elementtype"`
	} `json:"collection"`
	Union *struct {
		Types []typeRef `json:"types"`
	} `json:"union"`
}

// fqns lists the named types a reference mentions, through collections
// and unions.
func (t typeRef) fqns() []string {
	var out []string
	if t.Fqn != "" {
		out = append(out, t.Fqn)
	}
	if t.Collection != nil {
		out = append(out, t.Collection.Elementtype.fqns()...)
	}
	if t.Union != nil {
		for _, u := range t.Union.Types {
			out = append(out, u.fqns()...)
		}
	}
	return out
}

var (
	// "Represents a {@link https://registry…/docs/resources/lambda_function aws_lambda_function}."
	representsRE = regexp.MustCompile(`^Represents a \{@link (\S+) ([a-z0-9_]+)\}`)
	// "{@link https://registry…/lambda_function#function_name LambdaFunction#function_name}"
	anchorRE = regexp.MustCompile(`\{@link \S+ [A-Za-z0-9_]+#([A-Za-z0-9_]+)\}`)
)

// Load reads a .jsii manifest, gzipped when its name ends in .gz.
func Load(path string) (*Provider, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = gz
	}
	var j jsiiFile
	if err := json.NewDecoder(r).Decode(&j); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p, err := build(&j)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return p, nil
}

func build(j *jsiiFile) (*Provider, error) {
	p := &Provider{
		Package:     j.Name + "@" + j.Version,
		Source:      strings.TrimPrefix(j.Cdktf.Provider.Name, "registry.terraform.io/"),
		Version:     j.Cdktf.Provider.Version,
		Resources:   map[string]*Block{},
		DataSources: map[string]*Block{},
	}
	b := &builder{types: j.Types, blocks: map[string]*Block{}}
	for _, t := range j.Types {
		var into map[string]*Block
		switch {
		case t.Kind != "class":
			continue
		case t.Base == "cdktf.TerraformResource":
			into = p.Resources
		case t.Base == "cdktf.TerraformDataSource":
			into = p.DataSources
		default:
			continue
		}
		m := representsRE.FindStringSubmatch(t.Docs.Summary)
		if m == nil {
			return nil, fmt.Errorf("%s: no Terraform type name in its documentation %q", t.Fqn, t.Docs.Summary)
		}
		name := m[2]
		if p.Version == "" { // a complete .jsii read without its package.json
			if v := regexp.MustCompile(`/providers/[^/]+/[^/]+/([^/]+)/docs/`).FindStringSubmatch(m[1]); v != nil {
				p.Version = v[1]
			}
		}
		cfg := t.Fqn + "Config"
		if t.Initializer != nil {
			for _, par := range t.Initializer.Parameters {
				if par.Name == "config" && par.Type.Fqn != "" {
					cfg = par.Type.Fqn
				}
			}
		}
		if b.types[cfg] == nil || b.types[cfg].Kind != "interface" {
			return nil, fmt.Errorf("%s (%s): configuration interface %s not found", t.Fqn, name, cfg)
		}
		blk := b.block(cfg)
		// A copy, since nested blocks are shared through b.blocks.
		res := &Block{Arguments: blk.Arguments, Blocks: blk.Blocks, exported: map[string]string{}}
		getters := map[string]bool{}
		for _, pr := range t.Properties {
			if !pr.Static {
				getters[pr.Name] = true
			}
		}
		for g := range getters {
			// xInput is the getter of what was set for x.
			if base, ok := strings.CutSuffix(g, "Input"); ok && getters[base] {
				continue
			}
			res.exported[fold(g)] = g
			// cdktf renames attributes that clash with construct members
			// (count → countAttribute and the like).
			if base, ok := strings.CutSuffix(g, "Attribute"); ok && base != "" {
				if _, taken := res.exported[fold(base)]; !taken {
					res.exported[fold(base)] = g
				}
			}
		}
		if into[name] != nil {
			return nil, fmt.Errorf("%s is defined twice", name)
		}
		into[name] = res
	}
	if len(p.Resources) == 0 {
		return nil, fmt.Errorf("no resources: not a cdktf provider manifest")
	}
	return p, nil
}

type builder struct {
	types  map[string]*jsiiType
	blocks map[string]*Block
}

// block turns a configuration or nested-block interface into a Block.
func (b *builder) block(fqn string) *Block {
	if blk := b.blocks[fqn]; blk != nil {
		return blk
	}
	blk := &Block{Arguments: map[string]*Argument{}, Blocks: map[string]*NestedBlock{}}
	b.blocks[fqn] = blk // before recursing: schemas may nest themselves
	for _, pr := range b.types[fqn].Properties {
		name := tfName(pr)
		var nested string
		for _, f := range pr.Type.fqns() {
			if t := b.types[f]; t != nil && t.Kind == "interface" && !strings.HasPrefix(f, "cdktf.") {
				nested = f
			}
		}
		isBlock := pr.Docs.Block || strings.HasSuffix(pr.Docs.Summary, " block.")
		if isBlock && nested != "" {
			blk.Blocks[name] = &NestedBlock{Name: name, JSII: pr.Name, Required: !pr.Optional, Block: b.block(nested)}
			continue
		}
		arg := &Argument{Name: name, JSII: pr.Name, Required: !pr.Optional}
		if nested != "" {
			arg.Object = b.block(nested)
		}
		blk.Arguments[name] = arg
	}
	return blk
}

// tfName is a property's Terraform name: the anchor of its documentation
// link, or else its jsii name in snake case.
func tfName(pr jsiiProp) string {
	for _, s := range []string{pr.Docs.Summary, pr.Docs.Remarks} {
		if m := anchorRE.FindStringSubmatch(s); m != nil {
			return m[1]
		}
	}
	return Snake(pr.Name)
}

// Snake turns a jsii name into snake case: functionName → function_name.
// Digits stay with the word before them (s3Key → s3_key).
func Snake(s string) string {
	var out strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				out.WriteByte('_')
			}
			out.WriteRune(r - 'A' + 'a')
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}

// Dir is where scripts/deps.sh installs the manifests under the repository
// root, or $PGMI_TFSCHEMA_DIR when set.
func Dir(root string) string {
	if d := os.Getenv("PGMI_TFSCHEMA_DIR"); d != "" {
		return d
	}
	return filepath.Join(root, ".cache", "tools", "tfschema")
}

// File is the name scripts/deps.sh gives the manifest of
// @cdktf/<pkg>@<version>: File(dir, "provider-aws", "21.0.0").
func File(dir, pkg, version string) string {
	return filepath.Join(dir, pkg+"-"+version+".jsii.json.gz")
}
