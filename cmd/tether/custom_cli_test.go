package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/agent/commands"
)

// TestAllowDenyCustomCommands switches an owner's command off and on by
// name, and names the reason when custom-commands.json is refused.
func TestAllowDenyCustomCommands(t *testing.T) {
	dir := cliEnv(t, "http://127.0.0.1:1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, commands.CustomFile)
	os.WriteFile(path, []byte(`[{"name":"backup","argv":["/bin/true"]}]`), 0o600)
	if code, out, errs := runCLI(t, "deny", "backup"); code != 0 || out != "backup: off\n" {
		t.Fatalf("deny backup: %d %q %q", code, out, errs)
	}
	if s, _ := agent.LoadSettings(dir); s.Allowed("backup", true) {
		t.Fatal("backup still on")
	}
	os.WriteFile(path, []byte(`[{"name":"beep","argv":["/bin/true"]}]`), 0o600)
	code, _, errs := runCLI(t, "allow", "backup")
	if code != 1 || !strings.Contains(errs, "clashes with a built-in") {
		t.Fatalf("allow with a refused file: %d %q", code, errs)
	}
}
