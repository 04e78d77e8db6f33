package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tether-desktop/tether/internal/browsertest"
)

// artifactDir is where tests leave screenshots: $TETHER_ARTIFACTS, or
// artifacts/ at the top of the repository.
func artifactDir(t testing.TB) string {
	dir := os.Getenv("TETHER_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrowserPairWatchBeep drives Debian's Chromium through the control page
// as a person would: open the pair link, pair, watch the CPU chart move,
// press Beep and read the result in the command log.
func TestBrowserPairWatchBeep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser")
	}
	browsertest.Require(t)
	dir := t.TempDir()
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	agent := startAgent(t, relay.url, filepath.Join(dir, "agent"), agentEnv(t, home))
	waitFor(t, "agent registration", func() bool {
		_, err := os.Stat(filepath.Join(agent.configDir, "credentials.json"))
		return err == nil
	})
	code := agent.pairingCode()

	ctx := browsertest.Start(t, browsertest.Options{Width: 1280, Height: 900, HangGuard: 5 * time.Minute})

	// The pair link fills in the form.
	if err := chromedp.Do(ctx, chromedp.Navigate(relay.url+"/pair?code="+code), chromedp.WaitVisible(`#pair-code`)); err != nil {
		t.Fatal(err)
	}
	filled, err := chromedp.Run(ctx, chromedp.Value(`#pair-code`))
	if err != nil || filled != code {
		t.Fatalf("pair form holds %q (%v), want %q", filled, err, code)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`#pair-submit`),
		chromedp.WaitVisible(`#devices [data-online="true"]`),
		chromedp.WaitVisible(`#socket-state[data-state="live"]`)); err != nil {
		t.Fatal(err)
	}

	// The chart moves: what a person sees of it changes from one second to the next.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`#cpu-chart canvas`)); err != nil {
		t.Fatal(err)
	}
	shot := func() []byte {
		b, err := chromedp.Run(ctx, chromedp.Screenshot(`#cpu-chart`))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := shot()
	waitFor(t, "the CPU chart to move", func() bool { return !bytes.Equal(first, shot()) })
	cpu, err := chromedp.Run(ctx, chromedp.Text(`#cpu-value`))
	if err != nil || cpu == "" {
		t.Fatalf("cpu value %q: %v", cpu, err)
	}
	t.Logf("page shows CPU %s", cpu)

	// Beep, and its result in the log.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(`#arg-beep-frequency_hz`, "660"),
		chromedp.SetValue(`#arg-beep-duration_ms`, "150"),
		chromedp.Click(`#cmd-beep`),
		chromedp.WaitVisible(`#log [data-status]:not([data-status="pending"])`)); err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(ctx, chromedp.AttributeValue(`#log [data-status]`, "data-status"))
	if err != nil {
		t.Fatal(err)
	}
	if status.Value != "ok" && status.Value != "unavailable" {
		entry, _ := chromedp.Run(ctx, chromedp.Text(`#log [data-status]`))
		t.Fatalf("beep logged as %q: %s", status.Value, entry)
	}
	t.Logf("beep logged as %s", status.Value)

	// TETHER_SCREENSHOT_WAIT lets the chart fill before the picture (the
	// README's screenshot is taken with 90s).
	if d, err := time.ParseDuration(os.Getenv("TETHER_SCREENSHOT_WAIT")); err == nil {
		time.Sleep(d)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.scrollTo(0, 0), true`)); err != nil {
		t.Fatal(err)
	}
	// The whole page (docs/control-page.png), then as a 360 px phone shows it
	// (docs/control-page-phone.png): the viewport made as tall as the page,
	// since a full-page capture of an emulated phone comes out too wide.
	save := func(name string, png []byte, err error) {
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(artifactDir(t), name)
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", out)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	save("control-page.png", png, err)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 780, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	height, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollHeight`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, height, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	save("control-page-phone.png", png, err)
}
