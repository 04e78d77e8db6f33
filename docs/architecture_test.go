// Package docs holds the project's documents; its test keeps the package
// table of ARCHITECTURE.md true to the code.
package docs

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/tether-desktop/tether/"

// TestArchitectureImports reads the table "Packages and who imports whom" in
// ARCHITECTURE.md and checks it against `go list`: every package of the
// module has a row, every row names a package that exists, and the project
// packages a row says it imports are exactly those its non-test files import.
func TestArchitectureImports(t *testing.T) {
	documented := readTable(t, "ARCHITECTURE.md")
	actual := goList(t)
	for pkg, imports := range actual {
		doc, ok := documented[pkg]
		if !ok {
			t.Errorf("ARCHITECTURE.md has no row for %s (it imports %v)", pkg, imports)
			continue
		}
		if !slices.Equal(doc, imports) {
			t.Errorf("ARCHITECTURE.md says %s imports %v; go list says %v", pkg, doc, imports)
		}
	}
	for pkg := range documented {
		if _, ok := actual[pkg]; !ok {
			t.Errorf("ARCHITECTURE.md has a row for %s, which is not a package of the module", pkg)
		}
	}
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readTable returns, for each row of the package table, the project packages
// its imports column names (in backticks), sorted.
func readTable(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string][]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "| package | job | imports |"):
			in = true
			continue
		case !in:
			continue
		case !strings.HasPrefix(line, "|"):
			if len(rows) > 0 {
				return rows
			}
			continue
		case strings.HasPrefix(line, "|---"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("%s: a row of the package table has %d cells: %q", path, len(cells), line)
		}
		name := backticked.FindStringSubmatch(cells[0])
		if name == nil {
			t.Fatalf("%s: no package name in %q", path, cells[0])
		}
		imports := []string{}
		for _, m := range backticked.FindAllStringSubmatch(cells[2], -1) {
			imports = append(imports, m[1])
		}
		slices.Sort(imports)
		rows[name[1]] = imports
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no package table", path)
	}
	return rows
}

// goList returns each package of the module (but this one) with the module
// packages its non-test files import, sorted, as paths inside the module.
func goList(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "../...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok || pkg == "docs" {
			continue
		}
		imports := []string{}
		for _, imp := range fields[1:] {
			if p, ok := strings.CutPrefix(imp, module); ok {
				imports = append(imports, p)
			}
		}
		slices.Sort(imports)
		pkgs[pkg] = imports
	}
	return pkgs
}
