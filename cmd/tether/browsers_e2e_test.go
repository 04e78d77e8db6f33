package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-desktop/tether/agent/activity"
	"github.com/tether-desktop/tether/protocol"
)

// pairWithUA redeems code as a browser whose User-Agent is ua and returns
// the session token and device.
func pairWithUA(t *testing.T, relayURL, code, ua string) (token, device string) {
	t.Helper()
	req, _ := http.NewRequest("POST", relayURL+"/api/v1/pairings", strings.NewReader(`{"code":"`+code+`"}`))
	req.Header.Set("User-Agent", ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out protocol.Pairing
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("pair %s as %q: %d %+v %v", code, ua, resp.StatusCode, out, err)
	}
	return out.SessionToken, out.DeviceID
}

// TestBrowsersUnpairAndLog runs the real binaries: `tether browsers`
// lists two paired browsers by their User-Agent names, `tether unpair ID`
// cuts one of them off at once while the other keeps working, and `tether
// log` (plain, --json, and -f following the agent as it writes) shows the
// commands that reached the agent without their typed text.
func TestBrowsersUnpairAndLog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	dir := t.TempDir()
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	agent := startAgent(t, relay.url, filepath.Join(dir, "agent"), agentEnv(t, home))

	if out, err := agent.cli("log"); err != nil || out != "" {
		t.Fatalf("log before any command = %q, %v; want nothing on stdout", out, err)
	}
	phone, device := pairWithUA(t, relay.url, agent.pairingCode(),
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36")
	script, _ := pairWithUA(t, relay.url, agent.pairingCode(), "curl/8.5.0")

	out, err := agent.cli("browsers", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []protocol.PairedBrowser
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 {
		t.Fatalf("browsers --json = %q (%v)", out, err)
	}
	if list[0].Name != "Chrome on Android" || list[1].Name != "curl" || list[0].Address != "127.0.0.1" || list[0].PairedAt.IsZero() {
		t.Fatalf("browsers = %+v", list)
	}
	if strings.Contains(out, phone) || strings.Contains(out, script) {
		t.Fatal("browsers --json shows a session token")
	}
	text, err := agent.cli("browsers")
	if err != nil || !strings.Contains(text, list[0].ID) || !strings.Contains(text, "Chrome on Android") {
		t.Fatalf("browsers = %q, %v", text, err)
	}

	// `tether log -f --json` follows while commands arrive.
	_, tether := binaries(t)
	follow := exec.Command(tether, "--config-dir", agent.configDir, "--relay", relay.url, "log", "-f", "--json")
	follow.Env = append(os.Environ(), agent.env...)
	stdout, _ := follow.StdoutPipe()
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { follow.Process.Kill(); follow.Wait() })
	lines := make(chan activity.Entry, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var e activity.Entry
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				lines <- e
			}
		}
		close(lines)
	}()

	c1, c2 := dialClient(t, relay.url, phone), dialClient(t, relay.url, script)
	c1.presence(device, func(p protocol.Presence) bool { return p.Online })
	c2.presence(device, func(p protocol.Presence) bool { return p.Online })
	if res := c1.command(device, "beep", map[string]int{"frequency_hz": 440, "duration_ms": 50}); code(res) != "ok" && code(res) != protocol.CodeUnavailable {
		t.Fatalf("beep: %s", code(res))
	}
	// Without a desktop session notify and the typing commands are
	// unavailable and refused by the relay: they never reach the agent.
	// (agent's TestActivityLogRecordsEveryCommand checks typed text.)
	if res := c2.command(device, "beep", map[string]int{"frequency_hz": 880, "duration_ms": 20}); code(res) != "ok" && code(res) != protocol.CodeUnavailable {
		t.Fatalf("beep: %s", code(res))
	}
	for _, hz := range []float64{440, 880} {
		select {
		case e := <-lines:
			if e.Command != "beep" || e.Args["frequency_hz"] != hz {
				t.Fatalf("log -f printed %+v, want a beep at %v Hz", e, hz)
			}
		case <-time.After(hangGuard):
			t.Fatalf("log -f printed no beep at %v Hz", hz)
		}
	}
	follow.Process.Signal(syscall.SIGINT)
	if err := follow.Wait(); err != nil {
		t.Errorf("log -f after SIGINT: %v, want exit 0", err)
	}

	out, err = agent.cli("log", "--json")
	if err != nil || strings.Count(out, "\n") != 2 {
		t.Fatalf("log --json = %q, %v; want 2 lines", out, err)
	}
	if text, err := agent.cli("log"); err != nil || !strings.Contains(text, "beep") || !strings.Contains(text, "frequency_hz=440") {
		t.Fatalf("log = %q, %v", text, err)
	}

	// Unpair the phone: its socket loses the device at once; curl keeps it.
	if out, err := agent.cli("unpair", list[0].ID); err != nil || !strings.Contains(out, list[0].ID) {
		t.Fatalf("unpair = %q, %v", out, err)
	}
	c1.presence(device, func(p protocol.Presence) bool { return p.Removed })
	if res := c1.command(device, "beep", nil); code(res) != protocol.CodeNotPaired {
		t.Fatalf("the unpaired phone's command: %s, want not_paired", code(res))
	}
	if res := c2.command(device, "beep", map[string]int{"duration_ms": 20}); code(res) != "ok" && code(res) != protocol.CodeUnavailable {
		t.Fatalf("curl's command after the phone was unpaired: %s", code(res))
	}
	out, _ = agent.cli("browsers", "--json")
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0].Name != "curl" {
		t.Fatalf("browsers after unpair = %q", out)
	}
	if _, err := agent.cli("unpair", "p_000000000000000000000000"); err == nil || !strings.Contains(err.Error(), "no browser is paired with the id") {
		t.Fatalf("unpair of an unknown id: %v", err)
	}
	if _, err := agent.cli("unpair"); err == nil || !strings.Contains(err.Error(), "exit status 2") {
		t.Fatalf("unpair without an id: %v, want exit 2", err)
	}
}
