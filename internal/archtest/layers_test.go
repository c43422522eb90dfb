package archtest

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/goreload/reload/"

// allowed lists, per package directory, the module packages its non-test
// files may import. A directory not listed may import anything (node,
// cmd, sim, fuzz, test helpers).
var allowed = map[string][]string{
	"wire":                 {},
	"security":             {"wire"},
	"config":               {"wire", "security"},
	"enroll":               {"wire", "security", "config", "internal/dnsresolver"},
	"transport":            {"wire", "security"},
	"transport/capture":    {},
	"internal/dnsresolver": {},
	"usage/sip/sipua":      {},
	"forwarding":           {"wire", "security", "config", "transport"},
	"monitor":              {"wire", "security", "transport", "forwarding"},
	"topology":             {"wire"},
	"topology/chord":       {"wire", "topology"},
	"topology/onehop":      {"wire", "topology"},
	"storage":              {"wire", "security", "config"},
	"storage/mem":          {"wire", "security", "config", "storage"},
	"storage/bolt":         {"wire", "security", "config", "storage"},
	"usage/sip":            {"wire", "storage", "internal/dnsresolver"},
	"usage/diag":           {"wire", "storage"},
	"usage/coap":           {"wire", "storage"},
	"usage/redir":          {"wire", "storage"},
	"webui":                {},
	// The host wires topology and storage; it knows neither links nor
	// sockets (forwarding, transport) nor its drivers (node, sim).
	"host": {"wire", "security", "config", "topology", "storage"},
}

// forbiddenStd lists standard packages a layer must not use: wire does no
// I/O and draws no randomness of its own.
var forbiddenStd = map[string][]string{
	"wire": {"net", "os", "math/rand", "math/rand/v2", "crypto/rand", "time"},
	// The host is deterministic: time comes from its Config.Clock and
	// randomness from the plugin's configuration; it runs no goroutines
	// that would need sync.
	"host": {"net", "os", "math/rand", "math/rand/v2", "crypto/rand", "sync"},
}

func TestLayering(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	for dir, ok := range allowed {
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
				p := strings.Trim(imp.Path.Value, `"`)
				for _, bad := range forbiddenStd[dir] {
					if p == bad {
						t.Errorf("%s imports %s: not allowed in %s", f, p, dir)
					}
				}
				// The layers below node keep plain counters; only node (the
				// composition root) builds Prometheus collectors that read
				// them at scrape time.
				if strings.HasPrefix(p, "github.com/prometheus/") {
					t.Errorf("%s imports %s: only node may use the metrics library", f, p)
				}
				rel, isModule := strings.CutPrefix(p, module)
				if !isModule {
					continue
				}
				if !contains(ok, rel) {
					t.Errorf("%s imports %s: %s may import only %v", f, p, dir, ok)
				}
			}
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestEveryPackageHasDoc(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		name := d.Name()
		if name == "testdata" || strings.HasPrefix(name, ".") && path != root {
			return filepath.SkipDir
		}
		goFiles, _ := filepath.Glob(filepath.Join(path, "*.go"))
		nonTest := 0
		for _, f := range goFiles {
			if !strings.HasSuffix(f, "_test.go") {
				nonTest++
			}
		}
		if nonTest == 0 || strings.HasSuffix(path, filepath.Join("cmd", "reload")) {
			return nil
		}
		if _, err := os.Stat(filepath.Join(path, "doc.go")); err != nil {
			t.Errorf("%s has no doc.go", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
