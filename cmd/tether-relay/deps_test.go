package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRelayDependencies keeps the relay's import graph free of cgo and of the
// agent's packages, so tether-relay stays one static file.
func TestRelayDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{len .CgoFiles}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1") // show cgo files that a cgo build would use
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/tether-desktop/tether/"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, std, cgo := f[0], f[1] == "true", f[2] != "0"
		if cgo && !std {
			t.Errorf("%s uses cgo", pkg)
		}
		for _, banned := range []string{"agent", "tray", "installer", "cmd/tether"} {
			if pkg == module+banned || strings.HasPrefix(pkg, module+banned+"/") {
				t.Errorf("the relay imports %s", pkg)
			}
		}
	}
}
