package desktop

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/tether-desktop/tether/internal/desktoptest"
)

// TestActiveWindowTitleX11: without a window manager the title is
// unavailable; once _NET_ACTIVE_WINDOW names a real window (xev's, set the
// way a window manager sets it), its title is read, Unicode and all.
func TestActiveWindowTitleX11(t *testing.T) {
	if !inXvfb(t, "xev", "xdotool", "xprop") {
		return
	}
	display := os.Getenv("DISPLAY")
	d := New(nil)
	defer d.Close()
	ctx := context.Background()
	_, err := d.ActiveWindowTitle(ctx)
	wantUnavailable(t, "ActiveWindowTitle without a window manager", err, "no window manager announces the active window")

	desktoptest.StartXev(t, display, "tether-window-test")
	win := strings.Fields(desktoptest.Run(t, display, "xdotool", "search", "--name", "tether-window-test"))[0]
	desktoptest.Run(t, display, "xprop", "-root", "-f", "_NET_ACTIVE_WINDOW", "32x", "-set", "_NET_ACTIVE_WINDOW", win)
	if title, err := d.ActiveWindowTitle(ctx); err != nil || title != "tether-window-test" {
		t.Fatalf("ActiveWindowTitle = %q, %v; want WM_NAME tether-window-test", title, err)
	}
	const name = "Tether wíndow ✓"
	desktoptest.Run(t, display, "xprop", "-id", win, "-f", "_NET_WM_NAME", "8u", "-set", "_NET_WM_NAME", name)
	if title, err := d.ActiveWindowTitle(ctx); err != nil || title != name {
		t.Fatalf("ActiveWindowTitle = %q, %v; want _NET_WM_NAME %q", title, err, name)
	}
}
