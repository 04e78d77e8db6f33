package main

// The Windows build under Wine: the real tether.exe (cgo through mingw, the
// console and the GUI subsystem, as scripts/package builds them) against the
// real Linux relay on loopback, with Xvfb for the screen and an ALSA file
// device for the speaker. What Wine cannot prove: toasts (its powershell.exe
// is a stub), the real Explorer tray, ACLs, SmartScreen, and a GUI-subsystem
// program's output in a real console (Wine hands every program its Unix
// stdout).

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/internal/desktoptest"
	"github.com/tether-desktop/tether/internal/winetest"
	"github.com/tether-desktop/tether/protocol"
)

// wineCall bounds one tether.exe command under Wine (a cold start of a Wine
// process takes a few seconds on a busy machine).
const wineCall = time.Minute

func TestWine(t *testing.T) {
	start := time.Now()
	t.Cleanup(winetest.Cleanup)
	display := desktoptest.Xvfb(t, "1024x768x24")
	dir := t.TempDir()
	raw := filepath.Join(dir, "speaker.raw")
	alsa := filepath.Join(dir, "asound.conf")
	conf := fmt.Sprintf("pcm.!default { type file; slave.pcm { type null }; file %q; format \"raw\" }\n", raw)
	if err := os.WriteFile(alsa, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	w := winetest.New(t, display, "ALSA_CONFIG_PATH="+alsa, "TETHER_CONFIG_DIR=", "TETHER_AGENT_RELAY=", "TETHER_RELAY=")
	console := winetest.Build(t, ".", false)
	gui := winetest.Build(t, ".", true)
	t.Logf("prefix and builds ready in %v", time.Since(start).Round(time.Second))
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	cfg := filepath.Join(dir, "cfg")
	tether := func(exe string, args ...string) (string, error) {
		t.Helper()
		out, errOut, err := w.Run(t, wineCall, exe, append([]string{"--config-dir", winetest.Path(cfg), "--relay", relay.url}, args...)...)
		if err != nil {
			return out, fmt.Errorf("tether %s: %v: %s", strings.Join(args, " "), err, errOut)
		}
		return out, nil
	}
	must := func(exe string, args ...string) string {
		t.Helper()
		out, err := tether(exe, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	t.Run("version from both builds", func(t *testing.T) {
		for _, exe := range []string{console, gui} {
			if out := must(exe, "version"); !strings.Contains(out, "tether wine-test") || !strings.Contains(out, "windows/amd64") {
				t.Errorf("%s version printed %q", filepath.Base(exe), out)
			}
		}
	})

	must(console, "allow", "screenshot", "mouse_move", "mouse_click")
	agentLog := filepath.Join(dir, "agent.log")
	logf, err := os.Create(agentLog)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	run := w.Command(t.Context(), gui, "--config-dir", winetest.Path(cfg), "--relay", relay.url, "run", "--no-tray")
	run.Stdout, run.Stderr = logf, logf
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	t.Cleanup(func() {
		run.Process.Kill()
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(agentLog)
			t.Logf("--- agent log ---\n%s", tail(b, 60))
		}
	})

	status := func() statusReport {
		t.Helper()
		var r statusReport
		out := must(console, "status", "--json")
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("status --json printed %q: %v", out, err)
		}
		return r
	}
	waitFor(t, "the agent connected", func() bool { return status().State == agent.StateConnected })

	var p struct{ Code string }
	if err := json.Unmarshal([]byte(must(console, "pair", "--json")), &p); err != nil || p.Code == "" {
		t.Fatalf("pair --json: %+v %v", p, err)
	}
	session, device := pair(t, relay.url, p.Code, "")
	c := dialClient(t, relay.url, session)
	pr := c.presence(device, func(p protocol.Presence) bool { return p.Online })
	if pr.OS != "windows" || pr.Screen == nil || *pr.Screen != (protocol.Screen{Width: 1024, Height: 768}) {
		t.Fatalf("presence %+v (screen %+v), want windows on a 1024×768 screen", pr, pr.Screen)
	}

	t.Run("telemetry without per-core CPU", func(t *testing.T) {
		// Wine lacks NtQuerySystemInformationEx: per-core CPU cannot be read.
		var tm protocol.Telemetry
		json.Unmarshal(c.next(protocol.TypeTelemetry).Data, &tm)
		if tm.MemTotal == 0 || tm.MemPercent <= 0 || tm.CPUPercent < 0 || tm.CPUPercent > 100 {
			t.Fatalf("telemetry %+v, want CPU and memory", tm)
		}
	})

	t.Run("beep heard", func(t *testing.T) {
		res := c.command(device, "beep", map[string]int{"frequency_hz": 440, "duration_ms": 300})
		if code(res) != "ok" {
			t.Fatalf("beep: %s %+v", code(res), res.Error)
		}
		waitFor(t, "audio written", func() bool { fi, err := os.Stat(raw); return err == nil && fi.Size() > 0 })
	})

	t.Run("mouse and screenshot on the X server", func(t *testing.T) {
		if res := c.command(device, "mouse_move", map[string]int{"x": 321, "y": 123}); code(res) != "ok" {
			t.Fatalf("mouse_move: %s %+v", code(res), res.Error)
		}
		if out := desktoptest.Run(t, display, "xdotool", "getmouselocation"); !strings.HasPrefix(out, "x:321 y:123 ") {
			t.Errorf("pointer at %q, want x:321 y:123", out)
		}
		if res := c.command(device, "mouse_click", map[string]any{"x": 10, "y": 20, "button": "left"}); code(res) != "ok" {
			t.Fatalf("mouse_click: %s %+v", code(res), res.Error)
		}
		if out := desktoptest.Run(t, display, "xdotool", "getmouselocation"); !strings.HasPrefix(out, "x:10 y:20 ") {
			t.Errorf("pointer at %q after the click, want x:10 y:20", out)
		}
		res := c.command(device, "screenshot", map[string]string{"format": "png"})
		if code(res) != "ok" {
			t.Fatalf("screenshot: %s %+v", code(res), res.Error)
		}
		var shot protocol.Screenshot
		json.Unmarshal(res.Data, &shot)
		if shot.Width != 1024 || shot.Height != 768 || len(shot.Data) == 0 {
			t.Errorf("screenshot %s %d×%d, %d bytes", shot.Format, shot.Width, shot.Height, len(shot.Data))
		}
	})

	t.Run("notify says when no toast was shown", func(t *testing.T) {
		// Wine's powershell.exe is a stub that exits 0 and shows nothing.
		res := c.command(device, "notify", map[string]string{"title": "Tether", "body": "under Wine"})
		if code(res) == "ok" {
			t.Fatalf("notify answered ok, but Wine shows no toast")
		}
		t.Logf("notify: %s: %s", code(res), res.Error.Message)
	})

	t.Run("stop ends the agent cleanly", func(t *testing.T) {
		if out := must(console, "stop"); !strings.Contains(out, "Stopped Tether") {
			t.Fatalf("stop printed %q", out)
		}
		select {
		case <-exited:
			exited <- nil // for the cleanup
		case <-time.After(hangGuard):
			t.Fatal("the agent still runs after tether stop")
		}
		st, err := agent.ReadStatus(cfg)
		if err != nil || st.State != agent.StateStopped {
			t.Fatalf("status.json after stop: %+v %v, want stopped", st, err)
		}
		if r := status(); r.State != agent.StateStopped {
			t.Errorf("status after stop: %q", r.State)
		}
		if out := must(console, "stop"); !strings.Contains(out, "not running") {
			t.Errorf("second stop printed %q", out)
		}
	})

	t.Run("install and uninstall the Run value", func(t *testing.T) {
		const key = `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`
		must(console, "install")
		out, errOut, err := w.Run(t, wineCall, "reg", "query", key, "/v", "Tether")
		if err != nil || !strings.Contains(out, "tether") || !strings.Contains(out, "run") {
			t.Fatalf("reg query after install: %v %q %q", err, out, errOut)
		}
		must(console, "uninstall")
		if out, _, err := w.Run(t, wineCall, "reg", "query", key, "/v", "Tether"); err == nil {
			t.Fatalf("the Run value is still there after uninstall: %q", out)
		}
	})
	t.Logf("the Wine test took %v", time.Since(start).Round(time.Second))
}
