package main

// End-to-end tests of the agent's life with an X display that comes and
// goes: the real tether binary started many times against fresh X servers,
// and an X server killed and started again under a running agent.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-desktop/tether/internal/desktoptest"
	"github.com/tether-desktop/tether/protocol"
)

// xdisplayStarts is how many times TestXDisplayStarts starts the agent.
const xdisplayStarts = 50

// TestXDisplayStarts starts the real agent 50 times, each time against a
// fresh Xvfb of a size of its own that resets when its last client leaves,
// as a bare X server does. Most starts must say hello with that screen size;
// in one start of five the X server is killed a moment after the agent
// starts (0 to 180 ms), racing its first look at the display, and the agent
// must go on without it. Every agent stops cleanly when asked: none crashes.
// (The agent once checked that the display opened and then called robotgo,
// which crashed the process when its own open failed.)
func TestXDisplayStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	desktoptest.Need(t, "Xvfb")
	dir := t.TempDir()
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	agentDir := filepath.Join(dir, "agent")
	var c *client
	var device string
	began := time.Now()
	for i := range xdisplayStarts {
		width := 640 + 8*i
		srv := desktoptest.StartXvfbResetting(t, fmt.Sprintf("%dx480x24", width))
		a := startAgent(t, relay.url, agentDir, append(agentEnv(t, home), "DISPLAY="+srv.Display))
		killed := i%5 == 4
		if killed {
			time.Sleep(time.Duration(i/5) * 20 * time.Millisecond) // where the kill lands; any is fine
			srv.Kill()
		}
		if c == nil { // the first start registers the device; pair with it once
			waitRegistered(t, a)
			var session string
			session, device = pair(t, relay.url, a.pairingCode(), "")
			c = dialClient(t, relay.url, session)
		}
		want := protocol.Screen{Width: width, Height: 480}
		c.presence(device, func(p protocol.Presence) bool {
			return p.Online && (killed || p.Screen != nil && *p.Screen == want)
		})
		a.stop(syscall.SIGTERM)
		b, _ := os.ReadFile(a.log)
		if code := a.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(string(b), "agent stopped") {
			t.Fatalf("start %d on %s (X server killed: %v): the agent exited with %d:\n%s", i, srv.Display, killed, code, tail(b, 40))
		}
		for _, bad := range []string{"SIGSEGV", "panic", "fatal error", "goroutine "} {
			if strings.Contains(string(b), bad) {
				t.Fatalf("start %d: the agent's log says %q:\n%s", i, bad, tail(b, 40))
			}
		}
		c.presence(device, func(p protocol.Presence) bool { return !p.Online })
		srv.Kill()
	}
	t.Logf("%d starts against fresh X servers in %v", xdisplayStarts, time.Since(began).Round(time.Millisecond))
}

// TestXDisplayGoesAway kills the X server under a running agent: the agent
// keeps running, mouse_move and screenshot answer unavailable (the display
// went away), beep still plays, telemetry keeps arriving and the presence
// loses the screen. The X server then starts again on the same display
// number: mouse_move moves the real pointer again and the screen is
// announced again. Each change is logged once.
func TestXDisplayGoesAway(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	desktoptest.Need(t, "Xvfb", "xdotool")
	srv := desktoptest.StartXvfbAt(t, "1024x768x24")
	dir := t.TempDir()
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	env := append(agentEnv(t, home), "DISPLAY="+srv.Display)
	agentDir := filepath.Join(dir, "agent")
	pre := &agentProc{configDir: agentDir, env: env, relayURL: relay.url}
	pre.proc = &proc{t: t}
	if _, err := pre.cli("allow", "mouse_move", "screenshot", "mouse"); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, relay.url, agentDir, env)
	waitRegistered(t, a)
	session, device := pair(t, relay.url, a.pairingCode(), "")
	c := dialClient(t, relay.url, session)
	screen := protocol.Screen{Width: 1024, Height: 768}
	c.presence(device, func(p protocol.Presence) bool { return p.Online && p.Screen != nil && *p.Screen == screen })
	if res := c.command(device, "mouse_move", map[string]int{"x": 100, "y": 200}); code(res) != "ok" {
		t.Fatalf("mouse_move: %s %+v", code(res), res.Error)
	}

	srv.Kill()
	killed := time.Now()
	// The next hello (within the settings poll) has no screen. Commands are
	// sent only after it: a client reading results skips presence frames.
	c.presence(device, func(p protocol.Presence) bool {
		if !p.Online {
			t.Fatal("the agent went offline when the X server went away")
		}
		return p.Screen == nil
	})
	want := fmt.Sprintf("the X display %q went away", srv.Display)
	if res := c.command(device, "mouse_move", map[string]int{"x": 10, "y": 10}); code(res) != protocol.CodeUnavailable || res.Error.Message != want {
		t.Errorf("mouse_move with the X server gone: %s %+v, want unavailable: %s", code(res), res.Error, want)
	}
	if res := c.command(device, "screenshot", nil); code(res) != protocol.CodeUnavailable || res.Error.Message != want {
		t.Errorf("screenshot with the X server gone: %s %+v, want unavailable: %s", code(res), res.Error, want)
	}
	if res := c.command(device, "beep", map[string]int{"duration_ms": 50}); code(res) != "ok" {
		t.Errorf("beep with the X server gone: %s %+v", code(res), res.Error)
	}
	for range 2 { // telemetry produced after the kill keeps coming
		for {
			m := c.next(protocol.TypeTelemetry)
			if ts, err := time.Parse(time.RFC3339Nano, m.TS); err == nil && ts.After(killed) {
				break
			}
		}
	}
	waitFor(t, "tether status to show the display gone", func() bool {
		st := agentStatus(t, a)
		return st.Agent != nil && st.Agent.Unavailable["mouse_move"] == want
	})
	select {
	case <-a.done:
		t.Fatal("the agent exited when the X server went away")
	default:
	}

	srv.Restart()
	c.presence(device, func(p protocol.Presence) bool { return p.Online && p.Screen != nil && *p.Screen == screen })
	if res := c.command(device, "mouse_move", map[string]int{"x": 321, "y": 123}); code(res) != "ok" {
		t.Fatalf("mouse_move after the X server came back: %s %+v", code(res), res.Error)
	}
	if out := desktoptest.Run(t, srv.Display, "xdotool", "getmouselocation"); !strings.HasPrefix(out, "x:321 y:123 ") {
		t.Errorf("pointer at %q, want x:321 y:123", out)
	}
	// status.json is written off the link's goroutines, soon after the change.
	waitFor(t, "tether status to show the display back", func() bool {
		st := agentStatus(t, a)
		return st.Agent != nil && st.Agent.Unavailable["mouse_move"] == ""
	})
	a.stop(syscall.SIGTERM)
	b, _ := os.ReadFile(a.log)
	for msg, n := range map[string]int{"the X display went away": 1, "the X display is back": 1, "SIGSEGV": 0, "panic": 0} {
		if got := strings.Count(string(b), msg); got != n {
			t.Errorf("the agent's log says %q %d times, want %d:\n%s", msg, got, n, tail(b, 40))
		}
	}
	if code := a.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("the agent exited with %d", code)
	}
}
