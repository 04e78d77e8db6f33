package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// countingDesktop counts the availability checks (each hello rebuild asks).
type countingDesktop struct {
	fakeDesktop
	checks atomic.Int64
}

func (d *countingDesktop) Unavailable() map[string]string {
	d.checks.Add(1)
	return d.fakeDesktop.Unavailable()
}

// TestEditsAreSeenWithoutPolling sets the poll interval to an hour: on
// Linux the kernel tells the agent about config.json and
// custom-commands.json, written in place or replaced by a rename, and
// removed, so every edit still reaches the hello at once.
func TestEditsAreSeenWithoutPolling(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the directory watch is Linux only; elsewhere the agent polls")
	}
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	cfg.SettingsPoll = time.Hour
	startAgent(t, cfg, nil)
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	nextHello := func() protocol.Hello { t.Helper(); return c.nextHello(t) }

	// SaveSettings replaces config.json by a rename.
	s := Settings{}
	s.Set("notify", false)
	if err := SaveSettings(cfg.ConfigDir, s); err != nil {
		t.Fatal(err)
	}
	if h := nextHello(); slices.Contains(h.Capabilities(), "notify") {
		t.Fatalf("hello after switching notify off: %v", h.Capabilities())
	}

	// An editor that writes in place.
	custom := filepath.Join(cfg.ConfigDir, commands.CustomFile)
	if err := os.WriteFile(custom, []byte(`[{"name":"greet","argv":["/bin/true"]}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if h := nextHello(); protocol.FindCommand(h.Commands, "greet") == nil {
		t.Fatalf("hello after writing %s: %v", commands.CustomFile, h.Capabilities())
	}

	// Removing both files puts the defaults back.
	if err := os.Remove(custom); err != nil {
		t.Fatal(err)
	}
	if h := nextHello(); protocol.FindCommand(h.Commands, "greet") != nil {
		t.Fatalf("hello after removing %s still has greet", commands.CustomFile)
	}
	if err := os.Remove(filepath.Join(cfg.ConfigDir, SettingsFile)); err != nil {
		t.Fatal(err)
	}
	if h := nextHello(); !slices.Equal(h.Capabilities(), defaultOn) {
		t.Fatalf("hello after removing %s: %v, want %v", SettingsFile, h.Capabilities(), defaultOn)
	}
}

// TestDesktopCheckedOnlyWhileWatched: nobody watching, the agent does not
// ask the desktop what it lacks (on Linux it does not poll at all); the
// first watcher brings a fresh check at once, and a change of the desktop
// reaches the relay while watched (checked every SettingsPoll here,
// desktopRecheck by default).
func TestDesktopCheckedOnlyWhileWatched(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("elsewhere the agent polls its files, which rebuilds the hello")
	}
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	desk := &countingDesktop{}
	cfg.Desktop = desk
	startAgent(t, cfg, func(a *Agent) { a.watch.recheck = cfg.SettingsPoll })
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)

	// helloUntil reads hellos until one satisfies ok (c.next guards the wait).
	helloUntil := func(what string, ok func(protocol.Hello) bool) {
		t.Helper()
		for {
			h := c.nextHello(t)
			if ok(h) {
				return
			}
			t.Logf("hello before %s: unavailable %v", what, h.Unavailable)
		}
	}
	// An edit seen through the watch: once its hello arrives, the watcher
	// is past its start, whose first reload asks the desktop too.
	s := Settings{}
	s.Set("screenshot", true)
	if err := SaveSettings(cfg.ConfigDir, s); err != nil {
		t.Fatal(err)
	}
	helloUntil("the edit", func(h protocol.Hello) bool { return protocol.FindCommand(h.Commands, "screenshot") != nil })

	// Twenty poll intervals unwatched: no check. (A slow machine can only
	// make fewer checks, never more.)
	before := desk.checks.Load()
	time.Sleep(20 * cfg.SettingsPoll)
	if n := desk.checks.Load() - before; n != 0 {
		t.Fatalf("%d availability checks while nobody watched", n)
	}
	desk.mu.Lock()
	desk.unavailable = map[string]string{"beep": "no sound device"}
	desk.mu.Unlock()
	c.watch(1)
	helloUntil("the first watcher", func(h protocol.Hello) bool { return h.Unavailable["beep"] == "no sound device" })
	desk.mu.Lock()
	desk.unavailable = nil
	desk.mu.Unlock()
	helloUntil("the sound came back", func(h protocol.Hello) bool { return h.Unavailable["beep"] == "" })
}

// nextHello returns the data of the next hello the agent sends on c.
func (c *fakeConn) nextHello(t *testing.T) protocol.Hello {
	t.Helper()
	var h protocol.Hello
	if err := json.Unmarshal(c.next(t, protocol.TypeHello).Data, &h); err != nil {
		t.Fatal(err)
	}
	return h
}
