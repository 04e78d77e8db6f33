//go:build linux

package desktop

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jezek/xgb/xproto"

	"github.com/tether-desktop/tether/internal/desktoptest"
	"github.com/tether-desktop/tether/internal/logbuf"
	"github.com/tether-desktop/tether/protocol"
)

// TestDisplayGoesAwayAndComesBack kills the X server under a live Desktop:
// every display method answers unavailable ("went away") and nothing
// crashes (Xlib would have exited the process); a pointer watch keeps
// running. The server then starts again on the same display number: the
// methods work again, the watch reports the pointer again, and each change
// was logged once.
func TestDisplayGoesAwayAndComesBack(t *testing.T) {
	desktoptest.Need(t, "Xvfb", "xdotool")
	srv := desktoptest.StartXvfbAt(t, "800x600x24")
	t.Setenv("DISPLAY", srv.Display)
	var logs logbuf.Buffer
	d := New(slog.New(slog.NewTextHandler(&logs, nil)))
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard only
	defer cancel()

	if s := d.Screen(); s == nil || *s != (protocol.Screen{Width: 800, Height: 600}) {
		t.Fatalf("Screen() = %+v, want 800×600", s)
	}
	if err := d.MoveMouse(ctx, 10, 20); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []protocol.MouseEvent
	seen := func(x, y int) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			if e.X == x && e.Y == y {
				return true
			}
		}
		return false
	}
	wctx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- d.WatchMouse(wctx, func(e protocol.MouseEvent) { mu.Lock(); events = append(events, e); mu.Unlock() })
	}()
	waitUntil(t, "the watch's first position", func() bool { return seen(10, 20) })

	srv.Kill()
	gone := time.Now()
	var perr *protocol.Error
	waitUntil(t, "MoveMouse unavailable", func() bool {
		err := d.MoveMouse(ctx, 1, 1)
		return errors.As(err, &perr) && perr.Code == protocol.CodeUnavailable
	})
	t.Logf("unavailable %v after the X server was killed", time.Since(gone).Round(time.Millisecond))
	want := fmt.Sprintf("the X display %q went away", srv.Display)
	// Keep asking for longer than the retry period: every answer says why,
	// fast, and the failed reconnects are not logged.
	for time.Since(gone) < 3*retryEvery {
		start := time.Now()
		for what, err := range map[string]error{
			"MoveMouse":  d.MoveMouse(ctx, 1, 1),
			"Click":      d.Click(ctx, "left"),
			"TypeText":   d.TypeText(ctx, "x"),
			"Capture":    func() error { _, err := d.Capture(ctx); return err }(),
			"ScreenSize": func() error { _, _, err := d.ScreenSize(); return err }(),
			"WatchMouse": d.WatchMouse(ctx, func(protocol.MouseEvent) {}),
		} {
			if !errors.As(err, &perr) || perr.Code != protocol.CodeUnavailable || perr.Message != want {
				t.Fatalf("%s = %v, want unavailable: %s", what, err, want)
			}
		}
		for _, name := range displayCommands {
			if got := d.Unavailable()[name]; got != want {
				t.Fatalf("Unavailable()[%s] = %q, want %q", name, got, want)
			}
		}
		if s := d.Screen(); s != nil {
			t.Fatalf("Screen() = %+v with the X server gone", s)
		}
		if took := time.Since(start); took > 2*checkBound { // bounded by design, not a timing check
			t.Fatalf("one round of calls took %v with the display gone", took)
		}
	}
	select {
	case err := <-watchDone:
		t.Fatalf("WatchMouse returned %v when the display went away; it should wait for it", err)
	default:
	}

	srv.Restart()
	waitUntil(t, "MoveMouse to work again", func() bool { return d.MoveMouse(ctx, 30, 40) == nil })
	if out := desktoptest.Run(t, srv.Display, "xdotool", "getmouselocation"); !strings.HasPrefix(out, "x:30 y:40 ") {
		t.Errorf("pointer at %q, want x:30 y:40", out)
	}
	if s := d.Screen(); s == nil || *s != (protocol.Screen{Width: 800, Height: 600}) {
		t.Errorf("Screen() = %+v after the return, want 800×600", s)
	}
	if u := d.Unavailable(); u["mouse_move"] != "" || u["screenshot"] != "" {
		t.Errorf("Unavailable() = %v after the return", u)
	}
	if img, err := d.Capture(ctx); err != nil || img.Bounds() != image.Rect(0, 0, 800, 600) {
		t.Errorf("Capture after the return: %v", err)
	}
	for i := 0; !seen(55, 66+i%2); i++ { // the watch came back by itself
		if i > 600 { // hang guard only
			t.Fatal("the pointer watch did not resume after the display came back")
		}
		desktoptest.Run(t, srv.Display, "xdotool", "mousemove", "55", fmt.Sprint(66+i%2))
		time.Sleep(50 * time.Millisecond)
	}
	stopWatch()
	if err := <-watchDone; err != nil {
		t.Errorf("WatchMouse = %v", err)
	}
	log := logs.String()
	for msg, n := range map[string]int{"the X display went away": 1, "the X display is back": 1, "using the X display": 1} {
		if got := strings.Count(log, msg); got != n {
			t.Errorf("the log says %q %d times, want %d:\n%s", msg, got, n, log)
		}
	}
}

// TestDisplayAppearsLater starts a Desktop before its X server: the display
// commands are unavailable ("cannot open"), and once the server runs they
// work within a few retries, the appearance logged once.
func TestDisplayAppearsLater(t *testing.T) {
	desktoptest.Need(t, "Xvfb", "xdotool")
	srv := desktoptest.StartXvfbAt(t, "640x480x24")
	srv.Kill()
	t.Setenv("DISPLAY", srv.Display)
	var logs logbuf.Buffer
	d := New(slog.New(slog.NewTextHandler(&logs, nil)))
	defer d.Close()
	want := fmt.Sprintf("no X display (cannot open DISPLAY %q)", srv.Display)
	if got := d.Unavailable()["mouse_move"]; got != want {
		t.Fatalf("Unavailable()[mouse_move] = %q, want %q", got, want)
	}
	srv.Restart()
	waitUntil(t, "the display to be used", func() bool { return d.Screen() != nil })
	if err := d.MoveMouse(context.Background(), 7, 9); err != nil {
		t.Fatal(err)
	}
	if out := desktoptest.Run(t, srv.Display, "xdotool", "getmouselocation"); !strings.HasPrefix(out, "x:7 y:9 ") {
		t.Errorf("pointer at %q, want x:7 y:9", out)
	}
	log := logs.String()
	for msg, n := range map[string]int{"no X display: ": 1, "an X display opened": 1, "went away": 0} {
		if got := strings.Count(log, msg); got != n {
			t.Errorf("the log says %q %d times, want %d:\n%s", msg, got, n, log)
		}
	}
}

// TestDisplayChangesAreTold: the Desktop tells of the display's loss and
// of its return on Changes by itself, with nothing asking it in between
// (the agent announces a new hello on it instead of polling).
func TestDisplayChangesAreTold(t *testing.T) {
	desktoptest.Need(t, "Xvfb")
	srv := desktoptest.StartXvfbAt(t, "640x480x24")
	t.Setenv("DISPLAY", srv.Display)
	d := New(nil)
	defer d.Close()
	told := func(what string) {
		t.Helper()
		select {
		case <-d.Changes():
		case <-time.After(time.Minute): // hang guard only: the owner retries within retryMax
			t.Fatalf("Changes not ready after %s", what)
		}
	}
	if d.Screen() == nil {
		t.Fatal("no screen with the X server running")
	}
	told("the display opened")
	srv.Kill()
	told("the X server was killed")
	if s := d.Screen(); s != nil {
		t.Fatalf("Screen() = %+v after Changes told the loss", s)
	}
	select {
	case <-d.Changes():
		t.Fatal("Changes ready again with nothing changed")
	default:
	}
	srv.Restart()
	told("the X server started again")
	if s := d.Screen(); s == nil || *s != (protocol.Screen{Width: 640, Height: 480}) {
		t.Fatalf("Screen() = %+v after Changes told the return, want 640×480", s)
	}
}

// waitUntil polls cond until it holds; only a hang makes it fail.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNoXlib checks that the Linux build links no Xlib (libX11, libXtst)
// and neither robotgo nor gohook, which use it: Xlib's I/O error handler
// exits the process when the X server goes away.
func TestNoXlib(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.CgoLDFLAGS}} {{.CgoPkgConfig}}", "../../cmd/tether")
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, bad := range []string{"go-vgo/robotgo", "robotn/gohook", "-lX11", "-lXtst", "x11", "xtst"} {
			if strings.Contains(line, bad) {
				t.Errorf("the Linux agent links %s: %s", bad, line)
			}
		}
	}
}

func TestParseDisplay(t *testing.T) {
	for _, tc := range []struct {
		name string
		want xAddress
		bad  bool
	}{
		{":0", xAddress{network: "unix", address: "/tmp/.X11-unix/X0", abstract: "@/tmp/.X11-unix/X0", number: "0"}, false},
		{":91.1", xAddress{network: "unix", address: "/tmp/.X11-unix/X91", abstract: "@/tmp/.X11-unix/X91", number: "91", screen: 1}, false},
		{"unix:3", xAddress{network: "unix", address: "/tmp/.X11-unix/X3", abstract: "@/tmp/.X11-unix/X3", number: "3"}, false},
		{"localhost:10.0", xAddress{network: "tcp", address: "localhost:6010", host: "localhost", number: "10"}, false},
		{"tcp/example.org:2", xAddress{network: "tcp", address: "example.org:6002", host: "example.org", number: "2"}, false},
		{"/tmp/launch-x/org.xquartz:0", xAddress{network: "unix", address: "/tmp/launch-x/org.xquartz:0", number: "0"}, false},
		{"", xAddress{}, true},
		{":", xAddress{}, true},
		{":x", xAddress{}, true},
		{":0.x", xAddress{}, true},
	} {
		got, err := parseDisplay(tc.name)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("parseDisplay(%q) = %+v, %v; want %+v (error: %v)", tc.name, got, err, tc.want, tc.bad)
		}
	}
}

func TestXauthCookie(t *testing.T) {
	host, _ := os.Hostname()
	entry := func(family uint16, addr, number, name string, data []byte) []byte {
		var b []byte
		b = binary.BigEndian.AppendUint16(b, family)
		for _, f := range [][]byte{[]byte(addr), []byte(number), []byte(name), data} {
			b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
			b = append(b, f...)
		}
		return b
	}
	cookie := func(c byte) []byte { return bytes.Repeat([]byte{c}, 16) }
	var file []byte
	file = append(file, entry(familyLocal, "other-host", "5", "MIT-MAGIC-COOKIE-1", cookie(1))...)
	file = append(file, entry(familyLocal, host, "4", "MIT-MAGIC-COOKIE-1", cookie(2))...)
	file = append(file, entry(familyLocal, host, "5", "XDM-AUTHORIZATION-1", cookie(3))...)
	file = append(file, entry(familyLocal, host, "5", "MIT-MAGIC-COOKIE-1", cookie(4))...)
	file = append(file, entry(familyWild, "", "", "MIT-MAGIC-COOKIE-1", cookie(5))...)
	path := filepath.Join(t.TempDir(), "Xauthority")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XAUTHORITY", path)
	for number, want := range map[string][]byte{"5": cookie(4), "4": cookie(2), "7": cookie(5)} {
		if got := xauthCookie(xAddress{number: number}); !bytes.Equal(got, want) {
			t.Errorf("cookie of :%s = %x, want %x", number, got, want)
		}
	}
	t.Setenv("XAUTHORITY", filepath.Join(t.TempDir(), "missing"))
	if got := xauthCookie(xAddress{number: "5"}); got != nil {
		t.Errorf("cookie without a file = %x", got)
	}
}

// TestPixelFormats converts one 2×2 image in each pixel layout the X
// server may use to the same colours.
func TestPixelFormats(t *testing.T) {
	want := [4][3]uint8{{0xff, 0, 0}, {0, 0xff, 0}, {0, 0, 0xff}, {0xff, 0xff, 0xff}}
	for _, tc := range []struct {
		name   string
		f      pixelFormat
		pixels [4]uint32 // the pixel values of want
	}{
		{"depth 24 in 32 bits", pixelFormat{bpp: 32, pad: 32, red: 0xff0000, green: 0xff00, blue: 0xff}, [4]uint32{0xff0000, 0xff00, 0xff, 0xffffff}},
		{"depth 24 in 32 bits, MSB first", pixelFormat{bpp: 32, pad: 32, msbFirst: true, red: 0xff0000, green: 0xff00, blue: 0xff}, [4]uint32{0xff0000, 0xff00, 0xff, 0xffffff}},
		{"depth 24 in 24 bits", pixelFormat{bpp: 24, pad: 32, red: 0xff0000, green: 0xff00, blue: 0xff}, [4]uint32{0xff0000, 0xff00, 0xff, 0xffffff}},
		{"depth 16 (5-6-5)", pixelFormat{bpp: 16, pad: 32, red: 0xf800, green: 0x7e0, blue: 0x1f}, [4]uint32{0xf800, 0x7e0, 0x1f, 0xffff}},
		{"BGR masks", pixelFormat{bpp: 32, pad: 32, red: 0xff, green: 0xff00, blue: 0xff0000}, [4]uint32{0xff, 0xff00, 0xff0000, 0xffffff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stride, size := tc.f.stride(2), tc.f.bpp/8
			data := make([]byte, 2*stride)
			for i, v := range tc.pixels {
				p := data[(i/2)*stride+(i%2)*size:][:size]
				for j := range size {
					if tc.f.msbFirst {
						p[size-1-j] = byte(v >> (8 * j))
					} else {
						p[j] = byte(v >> (8 * j))
					}
				}
			}
			img := image.NewRGBA(image.Rect(0, 0, 2, 2))
			if err := tc.f.convert(img, 0, 2, data); err != nil {
				t.Fatal(err)
			}
			for i, c := range want {
				r, g, b, a := img.At(i%2, i/2).RGBA()
				if got := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}; got != c || a != 0xffff {
					t.Errorf("pixel %d = %v alpha %x, want %v opaque", i, got, a, c)
				}
			}
		})
	}
}

// TestKeymapFind looks characters up in a small core keyboard map: plain
// and shifted levels, the lone-letter rule, and the free key to borrow.
func TestKeymapFind(t *testing.T) {
	const lo = 8
	syms := []xproto.Keysym{
		'a', 'A', // 8
		'1', '!', // 9
		'b', 0, // 10: a lone letter types b and B
		xkShiftL, 0, // 11
		0, 0, // 12: free
		0xe9, 0xc9, // 13: é É
		0, 0, // 14: free, the highest
	}
	k := newKeymap(lo, 2, syms)
	if k.shift != 11 || k.scratch != 14 {
		t.Fatalf("shift %d scratch %d, want 11 and 14", k.shift, k.scratch)
	}
	for _, tc := range []struct {
		r           rune
		code, shift xproto.Keycode
	}{
		{'a', 8, 0}, {'A', 8, 11}, {'!', 9, 11}, {'b', 10, 0}, {'B', 10, 11}, {'é', 13, 0}, {'É', 13, 11}, {'z', 0, 0}, {'€', 0, 0},
	} {
		if code, shift := k.find(keysym(tc.r)); code != tc.code || shift != tc.shift {
			t.Errorf("find(%q) = %d, %d; want %d, %d", tc.r, code, shift, tc.code, tc.shift)
		}
	}
}

// TestNoDisplayNoAttempts: with DISPLAY empty the display is looked for
// once; later checks (the idle time is sampled every second while watched)
// answer at once without starting an attempt, until DISPLAY is set.
func TestNoDisplayNoAttempts(t *testing.T) {
	t.Setenv("DISPLAY", "")
	x := newDisplay(slog.New(slog.DiscardHandler), func() {}).(*xDisplay)
	defer x.close()
	if why := x.unavailable(); why != whyUnset {
		t.Fatalf("unavailable() = %q, want %q", why, whyUnset)
	}
	past := time.Now().Add(-time.Hour) // retryEvery long gone
	x.mu.Lock()
	x.tried = past
	x.mu.Unlock()
	if why := x.unavailable(); why != whyUnset {
		t.Fatalf("unavailable() again = %q, want %q", why, whyUnset)
	}
	x.mu.Lock()
	tried := x.tried
	x.mu.Unlock()
	if !tried.Equal(past) {
		t.Fatal("a second attempt was started although DISPLAY is still empty")
	}
	t.Setenv("DISPLAY", ":4711") // no such server: an attempt, which fails
	if why := x.unavailable(); !strings.Contains(why, `cannot open DISPLAY ":4711"`) {
		t.Fatalf("unavailable() with DISPLAY set = %q, want the attempt's reason", why)
	}
}
