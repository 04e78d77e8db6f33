package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// fakeMouse is the MouseWatcher seam: the test pushes events through the
// emit of the running watch, if any, and sees when watches start and end.
type fakeMouse struct {
	mu      sync.Mutex
	emit    func(protocol.MouseEvent)
	running int
	starts  int
}

func (m *fakeMouse) WatchMouse(ctx context.Context, emit func(protocol.MouseEvent)) error {
	m.mu.Lock()
	m.emit, m.running, m.starts = emit, m.running+1, m.starts+1
	m.mu.Unlock()
	<-ctx.Done()
	m.mu.Lock()
	m.emit, m.running = nil, m.running-1
	m.mu.Unlock()
	return nil
}

// push hands e to the running watch and reports whether one was running.
func (m *fakeMouse) push(e protocol.MouseEvent) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.emit == nil {
		return false
	}
	m.emit(e)
	return true
}

func (m *fakeMouse) state() (running, starts int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running, m.starts
}

type fakeScreen struct{}

func (fakeScreen) Screen() *protocol.Screen { return &protocol.Screen{Width: 1280, Height: 800} }

func TestMouseEventsOnlyWhileWatchedAndShared(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	mouse := &fakeMouse{}
	cfg.Mouse, cfg.Screen = mouse, fakeScreen{}
	a := startAgent(t, cfg, nil)
	c := r.nextConn(t)
	var h protocol.Hello
	if err := json.Unmarshal(c.next(t, protocol.TypeHello).Data, &h); err != nil {
		t.Fatal(err)
	}
	if h.Screen == nil || *h.Screen != (protocol.Screen{Width: 1280, Height: 800}) {
		t.Errorf("hello screen = %+v, want 1280×800", h.Screen)
	}

	// collect reads frames up to the result of a sync command and returns
	// the events among them.
	seq := 0
	collect := func() []protocol.MouseEvent {
		t.Helper()
		seq++
		id := fmt.Sprintf("sync-%d", seq)
		c.command(id, "beep", "")
		var evs []protocol.MouseEvent
		timeout := time.After(hangGuard)
		for {
			select {
			case m := <-c.msgs:
				switch {
				case m.Type == protocol.TypeEvent:
					var e protocol.MouseEvent
					if err := json.Unmarshal(m.Data, &e); err != nil {
						t.Fatal(err)
					}
					if m.Device != "d_1" || m.TS == "" {
						t.Errorf("event frame device %q ts %q", m.Device, m.TS)
					}
					evs = append(evs, e)
				case m.Type == protocol.TypeResult && m.ID == id:
					return evs
				}
			case <-timeout:
				t.Fatal("no result for the sync command")
			}
		}
	}

	// Watched but not shared: nobody watches the pointer.
	c.watch(1)
	waitFor(t, "watchers 1", func() bool { return a.Status().Watchers == 1 })
	time.Sleep(10 * cfg.SettingsPoll)
	if _, starts := mouse.state(); starts != 0 {
		t.Fatalf("the pointer was watched %d times with sharing off", starts)
	}

	// Shared and watched: moves coalesce, clicks and scrolls keep their order.
	if err := SaveSettings(cfg.ConfigDir, Settings{Mouse: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pointer watched", func() bool { n, _ := mouse.state(); return n == 1 })
	for i := 1; i <= 50; i++ {
		mouse.push(protocol.MouseEvent{Kind: protocol.MouseMove, X: i, Y: i})
	}
	mouse.push(protocol.MouseEvent{Kind: protocol.MouseClick, X: 50, Y: 50, Button: "left"})
	mouse.push(protocol.MouseEvent{Kind: protocol.MouseMove, X: 60, Y: 60})
	mouse.push(protocol.MouseEvent{Kind: protocol.MouseClick, X: 60, Y: 60, Button: "right"})
	mouse.push(protocol.MouseEvent{Kind: protocol.MouseScroll, X: 60, Y: 60, DY: -1})
	mouse.push(protocol.MouseEvent{Kind: protocol.MouseMove, X: 70, Y: 70})
	var evs []protocol.MouseEvent
	for len(evs) == 0 || evs[len(evs)-1] != (protocol.MouseEvent{Kind: protocol.MouseMove, X: 70, Y: 70}) {
		evs = append(evs, collect()...)
		if len(evs) > 100 {
			t.Fatalf("events %+v", evs)
		}
	}
	var kinds []string
	last := 0
	for _, e := range evs {
		if e.Kind == protocol.MouseMove {
			if e.X <= last {
				t.Errorf("moves out of order: %+v", evs)
			}
			last = e.X
			continue
		}
		kinds = append(kinds, fmt.Sprintf("%s %d,%d %s %d", e.Kind, e.X, e.Y, e.Button, e.DY))
	}
	if want := []string{"mouse_click 50,50 left 0", "mouse_click 60,60 right 0", "mouse_scroll 60,60  -1"}; !slices.Equal(kinds, want) {
		t.Errorf("clicks and scrolls %q, want %q", kinds, want)
	}
	if n := len(evs) - 3; n > 20 {
		t.Errorf("%d moves sent for 53 pushed in a burst, want them coalesced", n)
	}
	for i, e := range evs {
		if e.Kind == protocol.MouseClick && (i == 0 || evs[i-1] != (protocol.MouseEvent{Kind: protocol.MouseMove, X: e.X, Y: e.Y})) {
			t.Errorf("click %+v not right after the move to it: %+v", e, evs)
		}
	}

	// Nobody watches: the watch stops and nothing is sent.
	c.watch(0)
	waitFor(t, "pointer no longer watched", func() bool { n, _ := mouse.state(); return n == 0 })
	if mouse.push(protocol.MouseEvent{Kind: protocol.MouseClick, X: 1, Y: 1, Button: "left"}) {
		t.Error("a watch is still running")
	}
	time.Sleep(10 * cfg.SettingsPoll)
	if evs := collect(); len(evs) != 0 {
		t.Errorf("events with nobody watching: %+v", evs)
	}

	// Watched again, then sharing switched off: the watch stops.
	c.watch(1)
	waitFor(t, "pointer watched again", func() bool { n, _ := mouse.state(); return n == 1 })
	if err := SaveSettings(cfg.ConfigDir, Settings{Mouse: false}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pointer no longer watched after sharing off", func() bool { n, _ := mouse.state(); return n == 0 })
	if a.Status().Mouse {
		t.Error("status says mouse shared")
	}
}
