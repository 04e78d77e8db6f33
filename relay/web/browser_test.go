package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// findChromium returns the path of a Chromium-family browser, or "".
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts a headless Chromium for one test and returns its context.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := findChromium()
	if path == "" {
		if os.Getenv("TETHER_REQUIRE_BROWSER") != "" {
			t.Fatal("no Chromium found and TETHER_REQUIRE_BROWSER is set")
		}
		t.Skip("no Chromium on PATH")
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true))
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	// A hang guard only: every step below normally takes well under a second.
	ctx, cancel3 := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel3)
	return ctx
}

// eval runs a JavaScript expression in the page and returns its value.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds. The deadline is a hang
// guard, generous for a busy machine, not a timing assertion.
func waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("waiting for %s (%s): err %v; page text:\n%s", what, cond, err, html)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

func text(id string) string {
	return fmt.Sprintf(`((document.getElementById(%q)||{}).textContent||"")`, id)
}

// TestPageInBrowser drives the page in headless Chromium against the fake
// relay: pairing errors and success, presence, telemetry, commands and their
// log, a relay restart, and forgetting a device.
func TestPageInBrowser(t *testing.T) {
	ctx := browser(t)
	fctx, stop := context.WithCancel(context.Background())
	fake := newFakeRelay(fctx)
	srv := httptest.NewServer(fake.handler())
	defer func() {
		stop()
		srv.Close()
		fake.wait()
	}()

	// Pairing form, pre-filled and normalised from the link.
	do(t, ctx, chromedp.Navigate(srv.URL+"/pair?code=exp d2345"), chromedp.WaitVisible("#pair-code"))
	if v := eval[string](t, ctx, `document.getElementById('pair-code').value`); v != "EXPD-2345" {
		t.Fatalf("pre-filled code = %q, want EXPD-2345", v)
	}
	waitFor(t, ctx, "not-paired state", `document.getElementById('socket-state').dataset.state === 'offline'`)
	if eval[bool](t, ctx, `!document.getElementById('devices-card').hidden`) {
		t.Fatal("device list shown before pairing")
	}

	errorCases := []struct{ code, want string }{
		{"EXPD-2345", "expired"},
		{"RATE-2345", "Try again in 1 s"},
		{"ZZZZ-2345", "unknown"},
		{"AB", "not a valid pairing code"},
	}
	for _, tc := range errorCases {
		t.Run("pair error "+tc.code, func(t *testing.T) {
			waitFor(t, ctx, "pair button enabled", `!document.getElementById('pair-submit').disabled`)
			do(t, ctx, chromedp.SetValue("#pair-code", tc.code), chromedp.Click("#pair-submit"))
			waitFor(t, ctx, "error "+tc.want, fmt.Sprintf(`%s.includes(%q) && !document.getElementById('pair-error').hidden`, text("pair-error"), tc.want))
		})
	}

	// Pair for real, by typing: lower case and no dash.
	waitFor(t, ctx, "pair button enabled", `!document.getElementById('pair-submit').disabled`)
	_ = eval[bool](t, ctx, `(document.getElementById('pair-code').value = '', true)`)
	do(t, ctx, chromedp.SendKeys("#pair-code", "abcd2345"))
	if v := eval[string](t, ctx, `document.getElementById('pair-code').value`); v != "ABCD-2345" {
		t.Fatalf("typed code = %q, want ABCD-2345", v)
	}
	do(t, ctx, chromedp.Click("#pair-submit"))
	waitFor(t, ctx, "device in the list", `!!document.querySelector('#devices [data-device="d_office"][data-online="true"]')`)
	if u := eval[string](t, ctx, `location.pathname + location.search`); u != "/" {
		t.Errorf("URL after pairing = %q, want / (cleaned)", u)
	}
	waitFor(t, ctx, "socket live", `document.getElementById('socket-state').dataset.state === 'live'`)
	waitFor(t, ctx, "CPU value", `/^\d+(\.\d)?%$/.test(`+text("cpu-value")+`)`)
	waitFor(t, ctx, "memory value", `/^\d+(\.\d)?%$/.test(`+text("mem-value")+`)`)
	cpu, err := strconv.ParseFloat(strings.TrimSuffix(eval[string](t, ctx, text("cpu-value")), "%"), 64)
	if err != nil || cpu < 0 || cpu > 100 {
		t.Errorf("cpu-value %v (%v) is not a percentage", cpu, err)
	}
	waitFor(t, ctx, "chart drawn", `!!document.querySelector('#cpu-chart canvas')`)

	// The Beep form comes from the CommandSpec.
	attrs := eval[map[string]string](t, ctx, `(() => { const f = document.getElementById('arg-beep-frequency_hz');
		return {type: f.type, min: f.min, max: f.max, value: f.value, label: document.getElementById('cmd-beep').textContent,
		        dur: document.getElementById('arg-beep-duration_ms').value, maxlen: String(document.getElementById('arg-notify-title').maxLength)} })()`)
	want := map[string]string{"type": "number", "min": "100", "max": "4000", "value": "880", "label": "Beep", "dur": "200", "maxlen": "80"}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("beep form %s = %q, want %q", k, attrs[k], v)
		}
	}

	// Commands and their log.
	do(t, ctx, chromedp.SetValue("#arg-beep-frequency_hz", "440"), chromedp.Click("#cmd-beep"))
	waitFor(t, ctx, "beep ok", `document.querySelector('#log [data-id="c1"]')?.dataset.status === 'ok'`)
	do(t, ctx, chromedp.SetValue("#arg-notify-title", "Hi"), chromedp.Click("#cmd-notify"))
	waitFor(t, ctx, "notify refused", `document.querySelector('#log [data-id="c2"]')?.dataset.status === 'not_allowed'`)
	if first := eval[string](t, ctx, `document.querySelector('#log li').dataset.id`); first != "c2" {
		t.Errorf("newest log entry = %q, want c2 (newest first)", first)
	}
	if s := eval[string](t, ctx, `document.querySelector('#log [data-id="c1"]').textContent`); !strings.Contains(s, "frequency_hz 440") || !strings.Contains(s, " ms") {
		t.Errorf("beep log entry %q lacks its args or round trip", s)
	}
	sent := fake.commands()
	if len(sent) != 2 {
		t.Fatalf("relay got %d commands, want 2", len(sent))
	}
	var args map[string]any
	if err := json.Unmarshal(sent[0].Args, &args); err != nil || args["frequency_hz"] != 440.0 || args["duration_ms"] != 200.0 {
		t.Errorf("beep args on the wire = %s (%v), want numbers 440 and 200", sent[0].Args, err)
	}
	if sent[0].Device != "d_office" || sent[0].Name != "beep" || sent[0].ID != "c1" {
		t.Errorf("beep command = %+v", sent[0])
	}

	// A relay restart: the page reconnects by itself and gets presence again.
	fake.closeSockets(1012)
	waitFor(t, ctx, "reconnecting", `document.getElementById('socket-state').dataset.state !== 'live'`)
	waitFor(t, ctx, "live again", `document.getElementById('socket-state').dataset.state === 'live'`)
	waitFor(t, ctx, "device still there", `!!document.querySelector('#devices [data-device="d_office"][data-online="true"]')`)

	// A second device, offline: listed with data-online=false.
	waitFor(t, ctx, "pair button enabled", `!document.getElementById('pair-submit').disabled`)
	do(t, ctx, chromedp.SetValue("#pair-code", "BEEF-2345"), chromedp.Click("#pair-submit"))
	waitFor(t, ctx, "second device", `!!document.querySelector('#devices [data-device="d_laptop"][data-online="false"]')`)
	do(t, ctx, chromedp.Click(`#devices [data-device="d_laptop"]`))
	waitFor(t, ctx, "laptop selected", text("device-name")+` === 'Old laptop'`)

	// Forget it (confirming the dialog).
	_ = eval[bool](t, ctx, `(window.confirm = () => true, true)`)
	do(t, ctx, chromedp.Click("#forget"))
	waitFor(t, ctx, "laptop gone", `!document.querySelector('#devices [data-device="d_laptop"]')`)
	if got := fake.list(); len(got) != 1 || got[0] != "d_office" {
		t.Errorf("relay still pairs %v, want [d_office]", got)
	}
}
