package main

// End-to-end tests of the desktop commands and mouse events: the real relay
// and agent processes, the agent on a real X server (Xvfb).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/internal/desktoptest"
	"github.com/tether-desktop/tether/protocol"
)

// relayedEvents reads tether_messages_relayed_total{type="event"} from the relay.
func relayedEvents(t *testing.T, relayURL string) int {
	t.Helper()
	resp, err := http.Get(relayURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^tether_messages_relayed_total\{type="event"\} (\d+)`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// agentStatus reads `tether status --json`.
func agentStatus(t *testing.T, a *agentProc) (st struct {
	State string        `json:"state"`
	Agent *agent.Status `json:"agent"`
}) {
	t.Helper()
	out, err := a.cli("status", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json printed %q: %v", out, err)
	}
	return st
}

// waitRegistered waits until the running agent has registered, so that
// `tether pair` uses its identity instead of registering a second device.
func waitRegistered(t *testing.T, a *agentProc) {
	t.Helper()
	creds := filepath.Join(a.configDir, agent.CredentialsFile)
	waitFor(t, "agent registration", func() bool { _, err := os.Stat(creds); return err == nil })
}

// nextEvent reads the next mouse event of device.
func (c *client) nextEvent(device string) protocol.MouseEvent {
	c.t.Helper()
	for {
		m := c.next(protocol.TypeEvent)
		if m.Device != device {
			continue
		}
		var e protocol.MouseEvent
		if err := json.Unmarshal(m.Data, &e); err != nil {
			c.t.Fatalf("event %s: %v", m.Data, err)
		}
		return e
	}
}

// TestDesktopEndToEnd: pointer events from the X server reach a paired
// client in order, and none are relayed with nobody watching; mouse_move,
// screenshot and type_text act on the real X server; switched-off commands
// and coordinates off the screen are refused.
func TestDesktopEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	desktoptest.Need(t, "Xvfb", "xdotool", "xsetroot", "xev")
	display := desktoptest.Xvfb(t, "1280x800x24")
	dir := t.TempDir()
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	env := append(agentEnv(t, home), "DISPLAY="+display)
	agentDir := filepath.Join(dir, "agent")
	a := &agentProc{configDir: agentDir, env: env, relayURL: relay.url}
	a.proc = &proc{t: t}
	for _, args := range [][]string{{"allow", "screenshot", "mouse_move", "mouse_click", "type_text", "mouse"}, {"deny", "open_url"}} {
		if _, err := a.cli(args...); err != nil {
			t.Fatal(err)
		}
	}
	a = startAgent(t, relay.url, agentDir, env)
	waitRegistered(t, a)
	session, device := pair(t, relay.url, a.pairingCode(), "")
	c := dialClient(t, relay.url, session)
	p := c.presence(device, func(p protocol.Presence) bool { return p.Online })
	if p.Screen == nil || *p.Screen != (protocol.Screen{Width: 1280, Height: 800}) {
		t.Fatalf("presence screen %+v, want 1280×800", p.Screen)
	}
	for _, name := range []string{"screenshot", "mouse_move", "mouse_click", "type_text"} {
		if !contains(p.Capabilities, name) {
			t.Fatalf("capabilities %v lack %s", p.Capabilities, name)
		}
	}

	t.Run("pointer events in order", func(t *testing.T) {
		// The agent starts watching the pointer once it hears it is watched:
		// nudge the pointer until the first move arrives.
		got := make(chan protocol.MouseEvent, 1)
		go func() {
			defer close(got)
			m, err := c.nextWithin(hangGuard, protocol.TypeEvent)
			if err == nil {
				var e protocol.MouseEvent
				json.Unmarshal(m.Data, &e)
				got <- e
			}
		}()
		for i := 0; ; i++ {
			desktoptest.Run(t, display, "xdotool", "mousemove", "5", fmt.Sprint(5+i%100))
			select {
			case _, ok := <-got:
				if !ok {
					t.Fatal("no pointer event arrived")
				}
			case <-time.After(200 * time.Millisecond):
				continue
			}
			break
		}
		desktoptest.Run(t, display, "xdotool", "mousemove", "200", "300", "click", "1", "mousemove", "640", "400", "click", "3", "click", "4")
		start := time.Now()
		want := []protocol.MouseEvent{
			{Kind: protocol.MouseMove, X: 200, Y: 300},
			{Kind: protocol.MouseClick, X: 200, Y: 300, Button: "left"},
			{Kind: protocol.MouseMove, X: 640, Y: 400},
			{Kind: protocol.MouseClick, X: 640, Y: 400, Button: "right"},
			{Kind: protocol.MouseScroll, X: 640, Y: 400, DY: -1},
		}
		var seen []protocol.MouseEvent
		for len(seen) < len(want) {
			e := c.nextEvent(device)
			if e.Kind == protocol.MouseMove && e.X == 5 { // late nudges
				continue
			}
			seen = append(seen, e)
		}
		t.Logf("5 events arrived %v after xdotool returned", time.Since(start).Round(time.Millisecond))
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("events\n got %+v\nwant %+v", seen, want)
		}
	})

	t.Run("mouse_move moves the real pointer", func(t *testing.T) {
		if res := c.command(device, "mouse_move", map[string]int{"x": 321, "y": 123}); code(res) != "ok" {
			t.Fatalf("mouse_move: %s %+v", code(res), res.Error)
		}
		if out := desktoptest.Run(t, display, "xdotool", "getmouselocation"); !strings.HasPrefix(out, "x:321 y:123 ") {
			t.Errorf("pointer at %q, want x:321 y:123", out)
		}
		res := c.command(device, "mouse_move", map[string]int{"x": 1280, "y": 5})
		if code(res) != protocol.CodeInvalidArgs || !strings.Contains(res.Error.Message, "outside the screen 1280×800") {
			t.Errorf("mouse_move off the screen: %s %+v", code(res), res.Error)
		}
		if res := c.command(device, "open_url", map[string]string{"url": "https://example.com"}); code(res) != protocol.CodeNotAllowed {
			t.Errorf("switched-off open_url: %s, want not_allowed", code(res))
		}
		if res := c.command(device, "mouse_click", map[string]any{"button": "left", "x": 10, "y": 20}); code(res) != "ok" {
			t.Errorf("mouse_click: %s %+v", code(res), res.Error)
		}
		if out := desktoptest.Run(t, display, "xdotool", "getmouselocation"); !strings.HasPrefix(out, "x:10 y:20 ") {
			t.Errorf("pointer at %q after mouse_click at 10,20", out)
		}
	})

	t.Run("screenshot of a painted root window", func(t *testing.T) {
		desktoptest.Run(t, display, "xsetroot", "-solid", "#336699")
		res := c.command(device, "screenshot", map[string]string{"format": "png"})
		if code(res) != "ok" {
			t.Fatalf("screenshot: %s %+v", code(res), res.Error)
		}
		var shot protocol.Screenshot
		if err := json.Unmarshal(res.Data, &shot); err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(shot.Data)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil || shot.Format != "png" || shot.Width != 1280 || shot.Height != 800 {
			t.Fatalf("screenshot %s %d×%d: %v", shot.Format, shot.Width, shot.Height, err)
		}
		t.Logf("screenshot: %d bytes of PNG", len(raw))
		for _, pt := range [][2]int{{0, 0}, {1279, 799}, {900, 100}} {
			r, g, b, _ := img.At(pt[0], pt[1]).RGBA()
			if got := fmt.Sprintf("#%02x%02x%02x", r>>8, g>>8, b>>8); got != "#336699" {
				t.Errorf("pixel %v is %s, want #336699", pt, got)
			}
		}
	})

	t.Run("type_text lands in an X client", func(t *testing.T) {
		const text = "Tether types: Hello, World! 42 $&*()\nnext line"
		xev := desktoptest.StartXev(t, display, "tether-e2e-xev")
		if res := c.command(device, "type_text", map[string]string{"text": text}); code(res) != "ok" {
			t.Fatalf("type_text: %s %+v", code(res), res.Error)
		}
		typed := xev.WaitTyped(text)
		if typed != text {
			t.Errorf("xev received %q, want %q", typed, text)
		}
	})

	t.Run("no events relayed with nobody watching", func(t *testing.T) {
		c.conn.Close()
		waitFor(t, "watchers 0", func() bool {
			st := agentStatus(t, a)
			return st.Agent != nil && st.Agent.Watchers == 0
		})
		before := relayedEvents(t, relay.url)
		for i := range 10 {
			desktoptest.Run(t, display, "xdotool", "mousemove", fmt.Sprint(100+i*10), "200", "click", "1")
		}
		// The watcher stops as soon as the count reaches 0; a telemetry or
		// event frame would be relayed within a few hundred milliseconds.
		time.Sleep(2 * time.Second)
		if after := relayedEvents(t, relay.url); after != before {
			t.Errorf("%d events relayed with nobody watching", after-before)
		}
	})
}

// TestDesktopWithoutDisplay: with no DISPLAY the agent runs, says which
// commands are unavailable and why (results and `tether status`), and keeps
// running.
func TestDesktopWithoutDisplay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	dir := t.TempDir()
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	env := append(agentEnv(t, home), "WAYLAND_DISPLAY=")
	agentDir := filepath.Join(dir, "agent")
	pre := &agentProc{configDir: agentDir, env: env, relayURL: relay.url}
	pre.proc = &proc{t: t}
	if _, err := pre.cli("allow", "screenshot", "mouse_move", "mouse_click", "type_text", "open_url", "mouse"); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, relay.url, agentDir, env)
	waitRegistered(t, a)
	session, device := pair(t, relay.url, a.pairingCode(), "")
	c := dialClient(t, relay.url, session)
	p := c.presence(device, func(p protocol.Presence) bool { return p.Online })
	if p.Screen != nil {
		t.Errorf("presence screen %+v without a display", p.Screen)
	}
	const why = "no X display (DISPLAY is not set)"
	for name, args := range map[string]any{
		"screenshot":  nil,
		"mouse_move":  map[string]int{"x": 1, "y": 1},
		"mouse_click": nil,
		"type_text":   map[string]string{"text": "x"},
	} {
		res := c.command(device, name, args)
		if code(res) != protocol.CodeUnavailable || !strings.Contains(res.Error.Message, why) {
			t.Errorf("%s: %s %+v, want unavailable: %s", name, code(res), res.Error, why)
		}
	}
	if res := c.command(device, "open_url", map[string]string{"url": "https://example.com"}); code(res) != protocol.CodeUnavailable {
		t.Errorf("open_url: %s %+v, want unavailable", code(res), res.Error)
	}
	st := agentStatus(t, a)
	if st.State != agent.StateConnected || st.Agent == nil {
		t.Fatalf("status %+v", st)
	}
	for _, name := range []string{"screenshot", "mouse_move", "mouse_click", "type_text"} {
		if st.Agent.Unavailable[name] != why {
			t.Errorf("status unavailable[%s] = %q, want %q", name, st.Agent.Unavailable[name], why)
		}
	}
	if !strings.Contains(st.Agent.Unavailable["open_url"], "no desktop session") {
		t.Errorf("status unavailable[open_url] = %q", st.Agent.Unavailable["open_url"])
	}
	// Still alive after a few telemetry rounds with mouse sharing on.
	c.next(protocol.TypeTelemetry)
	c.next(protocol.TypeTelemetry)
	select {
	case <-a.done:
		t.Fatal("the agent exited")
	default:
	}
}
