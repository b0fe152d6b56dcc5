// Package templates holds the project templates pgmi init writes, one
// directory per template (basic, advanced), embedded in the binary. The
// templates are ours. The function suites deploy them too
// (functions/internal/functest), so every template is known to deploy
// through every cloud's function.
package templates

import "embed"

// FS holds the templates, one top-level directory each. The all: prefix
// keeps __test__/ and .gitignore, which go:embed skips otherwise.
//
//go:embed all:basic all:advanced
var FS embed.FS

// Names lists the templates, the default first.
func Names() []string { return []string{"basic", "advanced"} }
