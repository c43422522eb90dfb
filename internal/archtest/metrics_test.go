package archtest

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// The layers below node keep plain counters; only node (the composition
// root) builds Prometheus collectors that read them at scrape time.
func TestNoPrometheusBelowNode(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	for dir := range allowed {
		files, _ := filepath.Glob(filepath.Join(root, dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				if p := strings.Trim(imp.Path.Value, `"`); strings.HasPrefix(p, "github.com/prometheus/") {
					t.Errorf("%s imports %s: only node may use the metrics library", f, p)
				}
			}
		}
	}
}
