package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tether-desktop/tether/internal/browsertest"
	"github.com/tether-desktop/tether/internal/desktoptest"
)

// TestBrowserMirrorAndScreenshot is the desktop's reach seen from the control
// page, all real: an X server (Xvfb), the relay and agent binaries, and
// Chromium. The page's mirror follows `xdotool mousemove` and counts a click,
// the Move pointer form moves the real pointer, and the Screenshot form shows
// the X server's screen.
func TestBrowserMirrorAndScreenshot(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an X server and a browser")
	}
	desktoptest.Need(t, "Xvfb", "xdotool", "xsetroot")
	browsertest.Require(t)
	display := desktoptest.Xvfb(t, "1280x800x24")

	dir := t.TempDir()
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(agentEnv(t, home), "DISPLAY="+display) // the last DISPLAY wins
	agent := startAgent(t, relay.url, filepath.Join(dir, "agent"), env)
	waitFor(t, "agent registration", func() bool {
		_, err := os.Stat(filepath.Join(agent.configDir, "credentials.json"))
		return err == nil
	})
	if out, err := agent.cli("allow", "mouse", "screenshot", "mouse_move"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	code := agent.pairingCode()

	ctx := browsertest.Start(t, browsertest.Options{Width: 1280, Height: 900, HangGuard: 5 * time.Minute})

	js := func(expr string) (bool, error) { return chromedp.Run(ctx, chromedp.Evaluate[bool](expr)) }
	until := func(what, expr string) {
		t.Helper()
		waitFor(t, what, func() bool { ok, err := js(expr); return err == nil && ok })
	}
	attrs := func() map[string]string {
		t.Helper()
		a, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.assign({}, document.getElementById('mirror').dataset)`))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(relay.url+"/pair?code="+code), chromedp.WaitVisible(`#pair-code`),
		chromedp.Click(`#pair-submit`), chromedp.WaitVisible(`#socket-state[data-state="live"]`)); err != nil {
		t.Fatal(err)
	}
	// The screen's size comes with presence: the mirror has its shape.
	until("the mirror", `!document.getElementById('screen-card').hidden`)
	ratio, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => { const r = document.getElementById('mirror').getBoundingClientRect(); return r.width / r.height })()`))
	if err != nil || ratio < 1.6*0.98 || ratio > 1.6*1.02 {
		t.Errorf("mirror aspect ratio %.3f (%v), want 1280:800 = 1.6", ratio, err)
	}
	until("the allowed commands", `!!document.getElementById('cmd-screenshot') && !document.getElementById('cmd-screenshot').disabled && !!document.getElementById('cmd-mouse_move')`)

	// Sharing starts once the agent has read its settings and sees a
	// watcher: nudge the pointer until the first move shows up.
	for i := 0; ; i++ {
		desktoptest.Run(t, display, "xdotool", "mousemove", fmt.Sprint(20+i%50), "20")
		if a := attrs(); a["x"] != "" {
			break
		}
		if i > int(hangGuard/(100*time.Millisecond)) {
			t.Fatalf("no pointer event reached the page; mirror %v", attrs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	desktoptest.Run(t, display, "xdotool", "mousemove", "300", "200")
	until("mirror at 300,200", `document.getElementById('mirror').dataset.x === '300' && document.getElementById('mirror').dataset.y === '200'`)
	clicks := attrs()["clicks"]
	desktoptest.Run(t, display, "xdotool", "click", "1")
	until("the click counted", fmt.Sprintf(`document.getElementById('mirror').dataset.clicks === '%d'`, atoi(clicks)+1))
	until("the click logged", `!!document.querySelector('#log li[data-event="mouse_click"]')`)
	if s, _ := chromedp.Run(ctx, chromedp.Text(`#log li[data-event="mouse_click"]`)); !strings.Contains(s, `"left"`) || !strings.Contains(s, "x 300, y 200") {
		t.Errorf("click log entry %q, want a left click at 300, 200", s)
	}

	// Move pointer, from the page: the real pointer goes there, and the
	// mirror follows it.
	if err := chromedp.Do(ctx, chromedp.SetValue(`#arg-mouse_move-x`, "640"), chromedp.SetValue(`#arg-mouse_move-y`, "400"),
		chromedp.Click(`#cmd-mouse_move`)); err != nil {
		t.Fatal(err)
	}
	until("mouse_move answered", `document.querySelector('#log li[data-id="c1"]')?.dataset.status === 'ok'`)
	if loc := desktoptest.Run(t, display, "xdotool", "getmouselocation"); !strings.HasPrefix(loc, "x:640 y:400 ") {
		t.Errorf("pointer after mouse_move: %q, want x:640 y:400", loc)
	}
	until("mirror at 640,400", `document.getElementById('mirror').dataset.x === '640' && document.getElementById('mirror').dataset.y === '400'`)

	// Screenshot: the X server's whole screen, painted a known colour, shown
	// as an image.
	root := exec.Command("xsetroot", "-solid", "#336699")
	root.Env = append(os.Environ(), "DISPLAY="+display)
	if out, err := root.CombinedOutput(); err != nil {
		t.Fatalf("xsetroot: %v\n%s", err, out)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`#cmd-screenshot`)); err != nil {
		t.Fatal(err)
	}
	until("the screenshot", `document.querySelector('#screenshot img')?.naturalWidth > 0 || document.getElementById('screenshot').dataset.state === 'failed'`)
	size, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`(() => { const i = document.querySelector('#screenshot img');
		return {w: i ? i.naturalWidth : 0, h: i ? i.naturalHeight : 0, status: document.getElementById('screenshot-status').textContent,
			log: document.querySelector('#log li[data-id="c2"]').textContent} })()`))
	if err != nil {
		t.Fatal(err)
	}
	if size["w"] != 1280.0 || size["h"] != 800.0 {
		t.Errorf("screenshot shown %v×%v (%s), want 1280×800", size["w"], size["h"], size["status"])
	}
	if log := size["log"].(string); len(log) > 300 {
		t.Errorf("the screenshot's log entry holds %d characters: its data leaked into the log", len(log))
	}
	t.Logf("screenshot: %s", size["status"])
	// What a person sees: the root window's colour, opaque (an X image's
	// padding byte taken for alpha would make it transparent).
	px, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const i = document.querySelector('#screenshot img');
		const c = document.createElement('canvas'); c.width = i.naturalWidth; c.height = i.naturalHeight;
		const g = c.getContext('2d'); g.drawImage(i, 0, 0);
		return Array.from(g.getImageData(i.naturalWidth - 10, i.naturalHeight - 10, 1, 1).data) })()`))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(px) != "[51 102 153 255]" {
		t.Errorf("screenshot pixel near the bottom right = RGBA %v, want [51 102 153 255] (the root's #336699, opaque)", px)
	}

	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById('screen-card').scrollIntoView(), true)`)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(artifactDir(t), "mirror-and-screenshot.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("page: %s", out)
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}
