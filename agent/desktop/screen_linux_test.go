//go:build linux

package desktop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-desktop/tether/internal/desktoptest"
	"github.com/tether-desktop/tether/protocol"
)

// TestNoDisplay checks that without a usable X display every display
// command is unavailable with the reason, and that nothing crashes.
func TestNoDisplay(t *testing.T) {
	if isChild(t.Name()) {
		want := os.Getenv("WANT_REASON")
		d := New(nil)
		u := d.Unavailable()
		for _, name := range displayCommands {
			if !strings.Contains(u[name], want) {
				t.Errorf("Unavailable()[%s] = %q, want it to say %q", name, u[name], want)
			}
		}
		if os.Getenv("DISPLAY") == "" && !strings.Contains(u["open_url"], "no desktop session") {
			t.Errorf("Unavailable()[open_url] = %q, want no desktop session", u["open_url"])
		}
		ctx := context.Background()
		var perr *protocol.Error
		if _, _, err := d.ScreenSize(); !errors.As(err, &perr) || perr.Code != protocol.CodeUnavailable {
			t.Errorf("ScreenSize = %v, want unavailable", err)
		}
		if d.Screen() != nil {
			t.Errorf("Screen() = %v, want nil", d.Screen())
		}
		for what, err := range map[string]error{
			"MoveMouse":  d.MoveMouse(ctx, 1, 1),
			"Click":      d.Click(ctx, "left"),
			"TypeText":   d.TypeText(ctx, "x"),
			"WatchMouse": d.WatchMouse(ctx, func(protocol.MouseEvent) {}),
			"Capture":    func() error { _, err := d.Capture(ctx); return err }(),
		} {
			if !errors.As(err, &perr) || perr.Code != protocol.CodeUnavailable || !strings.Contains(perr.Message, want) {
				t.Errorf("%s = %v, want unavailable: %s", what, err, want)
			}
		}
		return
	}
	for _, tc := range []struct{ name, display, want string }{
		{"DISPLAY unset", "", "no X display (DISPLAY is not set)"},
		{"no server at DISPLAY", ":1999", `no X display (cannot open DISPLAY ":1999")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runChild(t, "TestNoDisplay", nil, "DISPLAY="+tc.display, "WAYLAND_DISPLAY=", "WANT_REASON="+tc.want)
		})
	}
}

// TestDisplay drives a real X server (Xvfb): screen size, a capture of a
// root window painted a known colour, pointer moves read back with xdotool,
// pointer events seen through X RECORD, and typing into xev.
func TestDisplay(t *testing.T) {
	if !isChild(t.Name()) {
		desktoptest.Need(t, "Xvfb", "xdotool", "xsetroot", "xev")
		display := desktoptest.Xvfb(t, "1280x800x24")
		runChild(t, t.Name(), nil, "DISPLAY="+display)
		return
	}
	display := os.Getenv("DISPLAY")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard only
	defer cancel()
	d := New(nil)
	for _, name := range displayCommands {
		if why := d.Unavailable()[name]; why != "" {
			t.Fatalf("Unavailable()[%s] = %q under Xvfb", name, why)
		}
	}

	t.Run("screen size", func(t *testing.T) {
		if s := d.Screen(); s == nil || s.Width != 1280 || s.Height != 800 {
			t.Fatalf("Screen() = %+v, want 1280×800", s)
		}
	})

	t.Run("capture a painted root window", func(t *testing.T) {
		desktoptest.Run(t, display, "xsetroot", "-solid", "#336699")
		img, err := d.Capture(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 800 {
			t.Fatalf("capture is %v, want 1280×800", b)
		}
		for _, p := range [][2]int{{0, 0}, {640, 400}, {1279, 799}} {
			r, g, b, a := img.At(p[0], p[1]).RGBA()
			if got := fmt.Sprintf("#%02x%02x%02x%02x", r>>8, g>>8, b>>8, a>>8); got != "#336699ff" {
				t.Errorf("pixel %v is %s, want #336699", p, got)
			}
		}
	})

	t.Run("move the pointer", func(t *testing.T) {
		for _, p := range [][2]int{{100, 200}, {0, 0}, {1279, 799}} {
			if err := d.MoveMouse(ctx, p[0], p[1]); err != nil {
				t.Fatal(err)
			}
			out := desktoptest.Run(t, display, "xdotool", "getmouselocation")
			if want := fmt.Sprintf("x:%d y:%d ", p[0], p[1]); !strings.HasPrefix(out, want) {
				t.Errorf("xdotool getmouselocation = %q, want %q…", out, want)
			}
		}
	})

	t.Run("pointer events", func(t *testing.T) {
		var mu sync.Mutex
		var got []protocol.MouseEvent
		wctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- d.WatchMouse(wctx, func(e protocol.MouseEvent) { mu.Lock(); got = append(got, e); mu.Unlock() })
		}()
		// the recording needs a moment to start; move until it reports.
		seen := func(cond func(protocol.MouseEvent) bool) bool {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range got {
				if cond(e) {
					return true
				}
			}
			return false
		}
		for i := 0; !seen(func(e protocol.MouseEvent) bool { return e.Kind == protocol.MouseMove && e.X == 7 }); i++ {
			if i > 600 { // hang guard only
				t.Fatalf("no move seen; events: %+v", got)
			}
			desktoptest.Run(t, display, "xdotool", "mousemove", "7", fmt.Sprint(i%500))
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		got = nil
		mu.Unlock()
		desktoptest.Run(t, display, "xdotool", "mousemove", "200", "300", "click", "1", "click", "3", "mousemove", "210", "310", "click", "2", "click", "5")
		for i := 0; !seen(func(e protocol.MouseEvent) bool { return e.Kind == protocol.MouseScroll }); i++ {
			if i > 600 { // hang guard only
				t.Fatalf("no scroll seen; events: %+v", got)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// A capture while the pointer is watched sees the screen too.
		desktoptest.Run(t, display, "xsetroot", "-solid", "#993366")
		img, err := d.Capture(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r, g, b, _ := img.At(5, 5).RGBA(); fmt.Sprintf("%02x%02x%02x", r>>8, g>>8, b>>8) != "993366" {
			t.Errorf("capture while watching: pixel %02x%02x%02x, want 993366", r>>8, g>>8, b>>8)
		}
		stop()
		if err := <-done; err != nil {
			t.Fatalf("WatchMouse = %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		want := []protocol.MouseEvent{
			{Kind: protocol.MouseMove, X: 200, Y: 300},
			{Kind: protocol.MouseClick, X: 200, Y: 300, Button: "left"},
			{Kind: protocol.MouseClick, X: 200, Y: 300, Button: "right"},
			{Kind: protocol.MouseMove, X: 210, Y: 310},
			{Kind: protocol.MouseClick, X: 210, Y: 310, Button: "middle"},
			{Kind: protocol.MouseScroll, X: 210, Y: 310, DY: 1},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("events\n got %+v\nwant %+v", got, want)
		}
	})

	t.Run("type into a real X client", func(t *testing.T) {
		const text = "Hello, World! a_b+c=\"d\" ~{x}|\ttab\nline 2 é"
		xev := desktoptest.StartXev(t, display, "tether-xev")
		if err := d.TypeText(ctx, text); err != nil {
			t.Fatal(err)
		}
		typed := xev.WaitTyped(text)
		if typed != text {
			t.Errorf("xev received %q, want %q", typed, text)
		}
	})
}
