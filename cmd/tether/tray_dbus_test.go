package main

// The tray tested for real: the tether binary runs with its tray on a private
// D-Bus session bus (dbus-run-session) where this test plays the desktop's
// StatusNotifierWatcher, reads the menu through com.canonical.dbusmenu and
// clicks it, against a real relay process.

import (
	"bytes"
	"fmt"
	"image"
	_ "image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/tether-desktop/tether/assets"
	"github.com/tether-desktop/tether/internal/desktoptest"
	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/tray"
)

const trayChildEnv = "TETHER_TRAY_TEST_CHILD"

// inPrivateBus runs test name again in a child process of this test binary
// under dbus-run-session, and reports whether this process is that child.
func inPrivateBus(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv(trayChildEnv) == name {
		return true
	}
	runner := desktoptest.Need(t, "dbus-run-session")[0]
	cmd := exec.Command(runner, "--", os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), trayChildEnv+"="+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s under dbus-run-session: %v\n%s", name, err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+name)) {
		t.Fatalf("%s did not pass in its child:\n%s", name, out)
	}
	t.Logf("child:\n%s", tail(out, 40))
	return false
}

// fakeWatcher is a minimal org.kde.StatusNotifierWatcher: it records who
// registers an item.
type fakeWatcher struct {
	mu    sync.Mutex
	items []string // "sender path"
}

func (w *fakeWatcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.items = append(w.items, string(sender)+" "+service)
	return nil
}

func (w *fakeWatcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

func (w *fakeWatcher) registered() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.items...)
}

// menuItem is one node of a dbusmenu layout.
type menuItem struct {
	id       int32
	props    map[string]dbus.Variant
	children []menuItem
}

func (m menuItem) label() string {
	s, _ := m.props["label"].Value().(string)
	return s
}

func (m menuItem) visible() bool {
	v, ok := m.props["visible"].Value().(bool)
	return !ok || v
}

func (m menuItem) toggled() int32 {
	v, _ := m.props["toggle-state"].Value().(int32)
	return v
}

// find returns the visible item whose label starts with prefix.
func (m menuItem) find(prefix string) (menuItem, bool) {
	for _, c := range m.children {
		if c.visible() && c.label() != "" && strings.HasPrefix(c.label(), prefix) {
			return c, true
		}
		if f, ok := c.find(prefix); ok {
			return f, true
		}
	}
	return menuItem{}, false
}

func (m menuItem) labels() []string {
	var out []string
	for _, c := range m.children {
		if c.visible() && c.label() != "" {
			out = append(out, c.label())
		}
		for _, l := range c.labels() {
			out = append(out, "  "+l)
		}
	}
	return out
}

func parseLayout(v any) (menuItem, error) {
	parts, ok := v.([]any)
	if !ok || len(parts) != 3 {
		return menuItem{}, fmt.Errorf("layout node %T %v", v, v)
	}
	m := menuItem{}
	m.id, _ = parts[0].(int32)
	m.props, _ = parts[1].(map[string]dbus.Variant)
	kids, _ := parts[2].([]dbus.Variant)
	for _, k := range kids {
		c, err := parseLayout(k.Value())
		if err != nil {
			return m, err
		}
		m.children = append(m.children, c)
	}
	return m, nil
}

// trayPeer talks to the tray of one process over the bus.
type trayPeer struct {
	t    *testing.T
	conn *dbus.Conn
	dest string
}

func (p *trayPeer) layout() menuItem {
	p.t.Helper()
	var rev uint32
	var root any
	call := p.conn.Object(p.dest, "/StatusNotifierItem/menu").Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{})
	if call.Err != nil {
		p.t.Fatalf("GetLayout: %v", call.Err)
	}
	rev, _ = call.Body[0].(uint32)
	_ = rev
	root = call.Body[1]
	m, err := parseLayout(root)
	if err != nil {
		p.t.Fatal(err)
	}
	return m
}

// waitItem waits until a visible item starts with prefix and returns it.
func (p *trayPeer) waitItem(prefix string) menuItem {
	p.t.Helper()
	var it menuItem
	var last []string
	deadline := time.Now().Add(hangGuard)
	for {
		m := p.layout()
		var ok bool
		if it, ok = m.find(prefix); ok {
			return it
		}
		last = m.labels()
		if time.Now().After(deadline) {
			p.t.Fatalf("no menu item %q; the menu:\n%s", prefix, strings.Join(last, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *trayPeer) click(prefix string) {
	p.t.Helper()
	it := p.waitItem(prefix)
	call := p.conn.Object(p.dest, "/StatusNotifierItem/menu").Call("com.canonical.dbusmenu.Event", 0,
		it.id, "clicked", dbus.MakeVariant(""), uint32(0))
	if call.Err != nil {
		p.t.Fatalf("click %q: %v", prefix, call.Err)
	}
}

func (p *trayPeer) prop(name string) dbus.Variant {
	p.t.Helper()
	v, err := p.conn.Object(p.dest, "/StatusNotifierItem").GetProperty("org.kde.StatusNotifierItem." + name)
	if err != nil {
		p.t.Fatalf("property %s: %v", name, err)
	}
	return v
}

// iconPixels is the ARGB pixmap the tray publishes.
func (p *trayPeer) iconPixels() []byte {
	p.t.Helper()
	var px []struct {
		W, H int32
		Pix  []byte
	}
	if err := p.prop("IconPixmap").Store(&px); err != nil || len(px) != 1 {
		p.t.Fatalf("IconPixmap: %v %d", err, len(px))
	}
	if px[0].W != tray.IconSize || px[0].H != tray.IconSize {
		p.t.Fatalf("icon is %dx%d", px[0].W, px[0].H)
	}
	return px[0].Pix
}

func (p *trayPeer) tooltip() string {
	p.t.Helper()
	var tip struct {
		Name  string
		Icons []struct {
			W, H int32
			Pix  []byte
		}
		Title, Text string
	}
	if err := p.prop("ToolTip").Store(&tip); err != nil {
		p.t.Fatalf("ToolTip: %v", err)
	}
	return tip.Title
}

// wantPixels is the pixmap of an asset, converted as StatusNotifierItem
// hosts receive it (ARGB, one byte each).
func wantPixels(t *testing.T, state string) []byte {
	t.Helper()
	b, err := assets.PNG(state, tray.IconSize)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, a := img.At(x, y).RGBA()
			out = append(out, byte(a), byte(r), byte(g), byte(b))
		}
	}
	return out
}

func (p *trayPeer) waitIcon(state string) {
	p.t.Helper()
	want := wantPixels(p.t, state)
	waitFor(p.t, "the "+state+" icon (tooltip now "+p.tooltip()+")", func() bool {
		return bytes.Equal(p.iconPixels(), want)
	})
}

// watchTrays connects to the test's private session bus and serves a
// StatusNotifierWatcher there, which records the trays that register; the
// connection closes when the test ends.
func watchTrays(t *testing.T) (*dbus.Conn, *fakeWatcher) {
	t.Helper()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatalf("session bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	w := &fakeWatcher{}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own the watcher name: %v %v", reply, err)
	}
	return conn, w
}

func TestTrayOverDBus(t *testing.T) {
	if !inPrivateBus(t, "TestTrayOverDBus") {
		return
	}
	conn, w := watchTrays(t)

	addr, data := freeAddr(t), t.TempDir()
	relay := startRelay(t, addr, data)

	// The browser opener: a fake xdg-open first in PATH records the link.
	home := t.TempDir()
	bin := filepath.Join(home, "bin")
	opened := filepath.Join(home, "opened.txt")
	os.MkdirAll(bin, 0o755)
	script := fmt.Sprintf("#!/bin/sh\necho \"$1\" >> %q\n", opened)
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env := agentEnv(t, home)
	env = append(env[:0:0], "HOME="+home, "DISPLAY=", "TETHER_CONFIG_DIR=", "TETHER_RELAY=", "TETHER_AGENT_RELAY=",
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	configDir := filepath.Join(home, "tether")
	_, tether := binaries(t)
	agentP := start(t, "agent", env, tether, "--config-dir", configDir, "--relay", relay.url, "run", "--verbose")

	// The tray registers with the watcher.
	var item string
	waitFor(t, "RegisterStatusNotifierItem", func() bool {
		if r := w.registered(); len(r) > 0 {
			item = r[0]
			return true
		}
		return false
	})
	sender, path, _ := strings.Cut(item, " ")
	if path != "/StatusNotifierItem" {
		t.Errorf("registered %q", item)
	}
	p := &trayPeer{t: t, conn: conn, dest: sender}

	// The menu has every item; the status line follows the connection.
	host := strings.TrimPrefix(relay.url, "http://")
	p.waitItem("Connected to " + host)
	p.layout() // systray answers its first GetLayout one level deep only
	for _, want := range []string{tray.TitlePair, "Paired browsers: 0", tray.TitleUnpairAll, tray.TitlePause, tray.TitleMouse,
		tray.TitleCommands, "Beep", "Show notifications", tray.TitleOpenPage, tray.TitleAutostart, tray.TitleQuit} {
		p.waitItem(want)
	}
	if pause := p.waitItem(tray.TitlePause); pause.toggled() != 0 {
		t.Errorf("Pause is ticked at start")
	}
	p.waitIcon(assets.IconConnected)
	if tip := p.tooltip(); !strings.Contains(tip, "Connected to "+host) {
		t.Errorf("tooltip %q", tip)
	}

	// Pair a browser: a code in the menu, the pair link opened, and the
	// relay accepts the code.
	p.click(tray.TitlePair)
	codeItem := p.waitItem("Code: ")
	var link string
	waitFor(t, "the pair link opened", func() bool {
		b, _ := os.ReadFile(opened)
		link = strings.TrimSpace(string(b))
		return link != ""
	})
	u, err := url.Parse(link)
	if err != nil || u.Path != "/pair" || !strings.HasPrefix(link, relay.url) {
		t.Fatalf("opened %q", link)
	}
	pairCode := u.Query().Get("code")
	if !strings.HasPrefix(codeItem.label(), "Code: "+pairCode) {
		t.Fatalf("menu shows %q, link has %q", codeItem.label(), pairCode)
	}
	session, device := pair(t, relay.url, pairCode, "")
	p.waitItem("Paired browsers: 1")

	// Unticking a command makes the relay refuse it.
	c := dialClient(t, relay.url, session)
	if res := c.command(device, "beep", map[string]int{"frequency_hz": 440, "duration_ms": 20}); code(res) == protocol.CodeNotAllowed {
		t.Fatalf("beep refused before unticking: %+v", res)
	}
	if beep := p.waitItem("Beep"); beep.toggled() != 1 {
		t.Fatalf("Beep is not ticked at start")
	}
	p.click("Beep")
	waitFor(t, "beep refused as not_allowed", func() bool {
		return code(c.command(device, "beep", map[string]int{"frequency_hz": 440, "duration_ms": 20})) == protocol.CodeNotAllowed
	})
	// The menu is redrawn from the agent's state, which may lag the relay.
	waitFor(t, "Beep unticked in the menu", func() bool { return p.waitItem("Beep").toggled() == 0 })

	// The icon follows the relay: gone, then back.
	relay.stop(syscall.SIGTERM)
	p.waitIcon(assets.IconOffline)
	p.waitItem("Reconnecting")
	if tip := p.tooltip(); !strings.Contains(tip, "Reconnecting") {
		t.Errorf("tooltip while offline %q", tip)
	}
	startRelay(t, addr, data)
	p.waitIcon(assets.IconConnected)
	p.waitItem("Connected to " + host)

	// Pause shows its own icon.
	p.click(tray.TitlePause)
	p.waitIcon(assets.IconPaused)
	p.click(tray.TitlePause)
	p.waitIcon(assets.IconConnected)

	// Quit ends the process cleanly.
	p.click(tray.TitleQuit)
	select {
	case <-agentP.done:
		if code := agentP.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("tether exited %d after Quit", code)
		}
	case <-time.After(hangGuard):
		t.Fatal("tether did not exit after Quit")
	}
}
