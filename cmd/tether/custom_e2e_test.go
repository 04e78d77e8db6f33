package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// TestCustomCommandEndToEnd runs the real relay and agent as processes: the
// owner writes custom-commands.json while the agent runs; the command shows
// up in presence, runs for real with its argument as one literal element,
// and `tether status` lists it; a broken file is refused in status and the
// command keeps working.
func TestCustomCommandEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	dir := t.TempDir()
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	agent := startAgent(t, relay.url, filepath.Join(dir, "agent"), agentEnv(t, home))
	waitFor(t, "registration", func() bool { _, err := os.Stat(filepath.Join(agent.configDir, "credentials.json")); return err == nil })
	session, device := pair(t, relay.url, agent.pairingCode(), "")
	c := dialClient(t, relay.url, session)
	c.presence(device, func(p protocol.Presence) bool { return p.Online })

	file := filepath.Join(agent.configDir, commands.CustomFile)
	write := func(text string) {
		if err := os.WriteFile(file+".new", []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".new", file); err != nil {
			t.Fatal(err)
		}
	}
	write(`[{"name":"greet","title":"Greet","argv":["printf","hi %s","{who}"],"args":[{"name":"who","type":"string","max_len":40,"required":true}],"timeout_ms":5000}]`)
	c.presence(device, func(p protocol.Presence) bool { return contains(p.Capabilities, "greet") })

	res := c.command(device, "greet", map[string]string{"who": "$(whoami); rm -rf ~"})
	var out commands.CustomResult
	if code(res) != "ok" || json.Unmarshal(res.Data, &out) != nil || out.Stdout != "hi $(whoami); rm -rf ~" || out.ExitCode != 0 {
		t.Fatalf("greet: %s %s", code(res), res.Data)
	}
	if got := code(c.command(device, "greet", map[string]string{"who": strings.Repeat("x", 41)})); got != protocol.CodeInvalidArgs {
		t.Errorf("an argument over max_len: %s, want invalid_args", got)
	}

	write(`[{"name":"notify","argv":["/bin/true"]}]`)
	waitFor(t, "status shows the refusal", func() bool {
		out, err := agent.cli("status")
		return err == nil && strings.Contains(out, "clashes with a built-in")
	})
	if got := code(c.command(device, "greet", map[string]string{"who": "again"})); got != "ok" {
		t.Errorf("greet after a refused file: %s, want ok (the previous commands stay)", got)
	}
	out2, _ := agent.cli("status", "--json")
	if !strings.Contains(out2, `"greet"`) {
		t.Errorf("status --json does not list greet: %s", out2)
	}
}
