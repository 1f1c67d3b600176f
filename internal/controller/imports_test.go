package controller_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/paddock-ci/paddock/"

// Shared contracts live in small packages (jobevent, machineapi, core), not
// in the controller: only the packages that wire a manager together import
// it, and the in-VM bootstrap imports nothing of the manager's but the
// machine-flow contract.
func TestOnlyWiringImportsController(t *testing.T) {
	wiring := map[string]bool{"internal/app": true, "internal/cli": true, "internal/demo": true}
	bootstrapMay := map[string]bool{"internal/machineapi": true}
	for dir, imps := range packageImports(t, "..") {
		for _, imp := range imps {
			rel, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			if rel == "internal/controller" && !wiring[dir] {
				t.Errorf("%s imports internal/controller; move the shared type to a contract package", dir)
			}
			if dir == "internal/bootstrap" && !bootstrapMay[rel] {
				t.Errorf("internal/bootstrap (runs on the machine) imports %s", rel)
			}
		}
	}
}

// packageImports maps each package directory under root (relative to the
// module root, such as internal/intake) to the imports of its non-test files.
func packageImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		dir := "internal/" + filepath.ToSlash(rel)
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			out[dir] = append(out[dir], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out["internal/app"]) == 0 || len(out["internal/bootstrap"]) == 0 {
		t.Fatalf("walked the wrong tree: %d packages", len(out))
	}
	return out
}
