package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/internal/desktoptest"
	"github.com/tether-desktop/tether/internal/winetest"
	"github.com/tether-desktop/tether/protocol"
)

// volumeRounds is how many volume commands TestSessionCommandsOnWine sends
// in a row.
const volumeRounds = 40

// TestSessionCommandsOnWine runs the Windows tether.exe (cgo through mingw)
// under Wine against the real relay, and sends it the session commands as
// the page does: presence says what cannot run (sleep: Wine allows no sleep
// state) and what can (volume: an ALSA null device is Wine's default
// output); volume reads and mutes through Core Audio and says plainly that
// Wine cannot set the level, and many volume commands in a row keep the
// link up; the clipboard round-trips, and xclip on the X
// server reads what clipboard_set put there; media sends its key.
func TestSessionCommandsOnWine(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a Wine prefix")
	}
	desktoptest.Need(t, "xclip")
	t.Cleanup(winetest.Cleanup)
	display := desktoptest.Xvfb(t, "800x600x24")
	dir := t.TempDir()
	alsa := filepath.Join(dir, "asound.conf")
	conf := fmt.Sprintf("pcm.!default { type file; slave.pcm { type null }; file %q; format \"raw\" }\n", filepath.Join(dir, "out.raw"))
	if err := os.WriteFile(alsa, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	w := winetest.New(t, display, "ALSA_CONFIG_PATH="+alsa, "PULSE_SERVER=unix:"+filepath.Join(dir, "no-pulse"),
		"TETHER_CONFIG_DIR=", "TETHER_AGENT_RELAY=", "TETHER_RELAY=")
	exe := winetest.Build(t, ".", false)
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	flags := []string{"--config-dir", winetest.Path(filepath.Join(dir, "cfg")), "--relay", relay.url}
	tether := func(args ...string) string {
		t.Helper()
		out, errOut, err := w.Run(t, wineCall, exe, append(flags, args...)...)
		if err != nil {
			t.Fatalf("tether %s: %v\n%s\n%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	tether("allow", "sleep", "clipboard_get", "clipboard_set")

	logPath := filepath.Join(dir, "agent.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	run := w.Command(t.Context(), exe, append(flags, "run", "--no-tray")...)
	run.Stdout, run.Stderr = logf, logf
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		run.Process.Kill()
		run.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- agent log ---\n%s", tail(b, 60))
		}
	})
	var p struct{ Code string }
	waitFor(t, "a pairing code from the running agent", func() bool {
		out, _, err := w.Run(t, wineCall, exe, append(flags, "pair", "--json")...)
		return err == nil && json.Unmarshal([]byte(out), &p) == nil && p.Code != ""
	})
	session, device := pair(t, relay.url, p.Code, "")
	c := dialClient(t, relay.url, session)
	pr := c.presence(device, func(p protocol.Presence) bool { return p.Online })
	if why := pr.Unavailable[protocol.CommandSleep]; !strings.Contains(why, "IsPwrSuspendAllowed") {
		t.Errorf("presence unavailable[sleep] = %q, want Wine's no-sleep reason", why)
	}
	for _, name := range []string{protocol.CommandVolume, protocol.CommandClipboardGet, protocol.CommandClipboardSet, protocol.CommandMedia} {
		if why, ok := pr.Unavailable[name]; ok {
			t.Errorf("presence unavailable[%s] = %q", name, why)
		}
	}

	// command sends a command, again while the relay's or the agent's rate
	// limit refuses it (the volume commands below come faster than their
	// limits allow), and returns its result.
	command := func(name string, args any) *protocol.Message {
		t.Helper()
		var res *protocol.Message
		waitFor(t, "the relay and the agent to take "+name, func() bool {
			res = c.command(device, name, args)
			return code(res) != protocol.CodeRateLimited
		})
		return res
	}
	volume := func(args any) (commands.VolumeState, *protocol.Message) {
		t.Helper()
		res := command(protocol.CommandVolume, args)
		var st commands.VolumeState
		json.Unmarshal(res.Data, &st)
		return st, res
	}
	if st, res := volume(map[string]any{}); code(res) != "ok" || st != (commands.VolumeState{Level: 100, Method: "Core Audio"}) {
		t.Errorf("volume read: %s %+v %+v", code(res), res.Error, st)
	}
	if st, res := volume(map[string]any{"mute": true}); code(res) != "ok" || !st.Muted {
		t.Errorf("mute: %s %+v %+v", code(res), res.Error, st)
	}
	if _, res := volume(map[string]any{"level": 37}); code(res) == "ok" {
		t.Logf("this Wine sets the level: %s", res.Data)
	} else if code(res) != protocol.CodeUnavailable || !strings.Contains(res.Error.Message, "E_NOTIMPL") {
		t.Errorf("level 37: %s %+v, want ok or unavailable (E_NOTIMPL)", code(res), res.Error)
	}
	// Volume commands in a row, as a person pressing the page's buttons
	// sends them. Each ran on an OS thread that ended with it, taking along the agent's
	// pending socket read when that thread had started it: the link
	// dropped (device_offline) within a few commands, in most runs.
	steps := []map[string]any{{}, {"mute": true}, {"level": 37}, {"mute": false}}
	for i := range volumeRounds {
		args := steps[i%len(steps)]
		_, res := volume(args)
		if c := code(res); c != "ok" && !(c == protocol.CodeUnavailable && strings.Contains(res.Error.Message, "E_NOTIMPL")) {
			t.Fatalf("volume command %d of %d in a row (%v): %s %+v", i+1, volumeRounds, args, c, res.Error)
		}
	}

	text := "from the page ✓ 😀 ; $(x) %PATH%"
	if res := command(protocol.CommandClipboardSet, map[string]string{"text": text}); code(res) != "ok" {
		t.Fatalf("clipboard_set: %s %+v", code(res), res.Error)
	}
	var got commands.ClipboardData
	if res := command(protocol.CommandClipboardGet, nil); code(res) != "ok" || json.Unmarshal(res.Data, &got) != nil || got.Text != text {
		t.Errorf("clipboard_get: %s %+v %q", code(res), res.Error, got.Text)
	}
	xclip := exec.Command("xclip", "-o", "-selection", "clipboard", "-t", "UTF8_STRING")
	xclip.Env = append(os.Environ(), "DISPLAY="+display)
	if out, err := xclip.Output(); err != nil || string(out) != text {
		t.Errorf("xclip read %q (%v), want %q", out, err, text)
	}

	if res := command(protocol.CommandMedia, map[string]string{"action": "next"}); code(res) != "ok" || !strings.Contains(string(res.Data), `"media key"`) {
		t.Errorf("media next: %s %+v %s", code(res), res.Error, res.Data)
	}
}
