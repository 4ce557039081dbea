package reconcile

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestStandardLibraryOnly keeps the domain free of stripe-go, sqlx and every
// other module: an import path whose first element has a dot is not the
// standard library's, and net/http belongs to the adapters.
func TestStandardLibraryOnly(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), e.Name(), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if strings.Contains(first, ".") || strings.HasPrefix(path, "net/http") || strings.HasPrefix(path, "database/") {
				t.Errorf("%s imports %s: reconcile may import the standard library only (and no I/O adapters)", e.Name(), path)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no imports checked")
	}
}
