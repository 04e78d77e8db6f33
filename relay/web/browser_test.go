package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/tether-desktop/tether/internal/browsertest"
	"github.com/tether-desktop/tether/relay/web"
)

// browser starts a headless Chromium for one test and returns its context.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, browsertest.Options{})
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
	if err := poll(ctx, cond, 30*time.Second); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %s (%s): err %v; page text:\n%s", what, cond, err, html)
	}
}

// poll evaluates the JavaScript condition cond every 100 ms until it holds
// (nil) or within has passed: then the last evaluation's error, or
// errNotYet when it evaluated to false.
func poll(ctx context.Context, cond string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errNotYet
			}
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var errNotYet = errors.New("the condition is still false")

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

// watchCSP makes every later document record its Content-Security-Policy
// violations in window.cspViolations, so a test can assert there are none.
func watchCSP(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
			window.cspViolations = [];
			document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));`})
		return err
	}))
}

// colorScheme emulates prefers-color-scheme.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
}

// saveArtifact writes a screenshot of the page to $TETHER_ARTIFACTS, when set.
func saveArtifact(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("TETHER_ARTIFACTS")
	if dir == "" {
		return
	}
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fitsWidth checks that the page, once settled, is no wider than w px. A
// layout change reaches some parts a frame later (the CPU chart and the
// mirror resize from a ResizeObserver), so the width is polled for a while;
// if it stays wider, the error names the elements that reach past w.
func fitsWidth(t *testing.T, ctx context.Context, w int) {
	t.Helper()
	if err := poll(ctx, fmt.Sprintf(`document.documentElement.scrollWidth <= %d`, w), 10*time.Second); err != nil {
		wide, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.querySelectorAll('body *')]
			.filter((e) => e.getBoundingClientRect().right > %d && ![...e.children].some((c) => c.getBoundingClientRect().right > %d))
			.slice(0, 10).map((e) => `+"`${e.tagName.toLowerCase()}#${e.id}.${e.className} reaches ${Math.round(e.getBoundingClientRect().right)}`"+`)`, w, w)))
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`))
		t.Fatalf("at %d px the page is %v px wide (err %v); reaching past: %v", w, page, err, wide)
	}
}

// pairOffice opens the page and pairs it with the fake's "Office PC".
func pairOffice(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(url+"/pair?code=ABCD-2345"), chromedp.WaitVisible("#pair-code"), chromedp.Click("#pair-submit"))
	waitFor(t, ctx, "socket live", `document.getElementById('socket-state').dataset.state === 'live'`)
	waitFor(t, ctx, "device in the list", `!!document.querySelector('#devices [data-device="d_office"][data-online="true"]')`)
}

// mirrorAttrs reads the mirror's data attributes.
func mirrorAttrs(t *testing.T, ctx context.Context) map[string]string {
	t.Helper()
	return eval[map[string]string](t, ctx, `Object.assign({}, document.getElementById('mirror').dataset)`)
}

// TestMirrorInBrowser drives the screen mirror with pointer events from the
// fake relay: moves move data-x/data-y and the drawn pointer, clicks are
// counted and logged, malformed events and other devices' events change
// nothing, and a click on the mirror fills the pointer commands' fields.
func TestMirrorInBrowser(t *testing.T) {
	ctx := browser(t)
	fctx, stop := context.WithCancel(context.Background())
	fake := newFakeRelay(fctx)
	srv := httptest.NewServer(fake.handler())
	defer func() {
		stop()
		srv.Close()
		fake.wait()
	}()
	watchCSP(t, ctx)
	do(t, ctx, chromedp.EmulateViewport(1280, 900))
	pairOffice(t, ctx, srv.URL)

	waitFor(t, ctx, "screen card", `!document.getElementById('screen-card').hidden`)
	waitFor(t, ctx, "mirror canvas sized", `document.querySelector('#mirror canvas').width > 100`)
	if a := mirrorAttrs(t, ctx); a["clicks"] != "0" || a["x"] != "" || a["y"] != "" {
		t.Errorf("mirror before any event: %v, want clicks 0 and no position", a)
	}
	if s := eval[string](t, ctx, text("mirror-note")); !strings.Contains(s, "No pointer activity yet") || !strings.Contains(s, "tether allow mouse") {
		t.Errorf("mirror note before events = %q", s)
	}
	// Drawn to scale: the fake's screen is 1920×1080.
	ratio := eval[float64](t, ctx, `(() => { const r = document.getElementById('mirror').getBoundingClientRect(); return r.width / r.height })()`)
	if ratio < 16.0/9*0.98 || ratio > 16.0/9*1.02 {
		t.Errorf("mirror aspect ratio %.3f, want 16:9 (%.3f)", ratio, 16.0/9)
	}

	// pixelAt reads the canvas at a desktop coordinate offset by (dx, dy) CSS pixels.
	pixelAt := func(x, y, dx, dy int) string {
		return fmt.Sprintf(`(() => { const c = document.querySelector('#mirror canvas'); const k = c.width / c.getBoundingClientRect().width;
			const px = Math.round((%d / 1920 * c.clientWidth + %d) * k), py = Math.round((%d / 1080 * c.clientHeight + %d) * k);
			return Array.from(c.getContext('2d').getImageData(px, py, 1, 1).data).join(',') })()`, x, dx, y, dy)
	}
	empty := eval[string](t, ctx, pixelAt(200, 300, 2, 8))

	steps := []struct {
		name   string
		data   map[string]any
		x, y   string
		clicks string
	}{
		{"move", map[string]any{"kind": "mouse_move", "x": 200, "y": 300}, "200", "300", "0"},
		{"move again", map[string]any{"kind": "mouse_move", "x": 640, "y": 480}, "640", "480", "0"},
		{"left click", map[string]any{"kind": "mouse_click", "x": 700, "y": 500, "button": "left"}, "700", "500", "1"},
		{"right click", map[string]any{"kind": "mouse_click", "x": 700, "y": 500, "button": "right"}, "700", "500", "2"},
		{"scroll", map[string]any{"kind": "mouse_scroll", "x": 710, "y": 505, "dx": 0, "dy": -1}, "710", "505", "2"},
		{"middle click", map[string]any{"kind": "mouse_click", "x": 1919, "y": 1079, "button": "middle"}, "1919", "1079", "3"},
		// Ignored: a position that is not a number, an unknown kind, another device.
		{"bad x", map[string]any{"kind": "mouse_move", "x": "12", "y": 5}, "1919", "1079", "3"},
		{"unknown kind", map[string]any{"kind": "mouse_warp", "x": 1, "y": 1}, "1919", "1079", "3"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			fake.event("d_office", st.data)
			fake.event("d_other", map[string]any{"kind": "mouse_click", "x": 1, "y": 1, "button": "left"})
			// A marker event after it: once the page has handled the marker,
			// it has handled the event under test.
			fake.event("d_office", map[string]any{"kind": "marker_" + strings.ReplaceAll(st.name, " ", "_")})
			waitFor(t, ctx, "marker logged", fmt.Sprintf(`!!document.querySelector('#log li[data-event="marker_%s"]')`, strings.ReplaceAll(st.name, " ", "_")))
			a := mirrorAttrs(t, ctx)
			if a["x"] != st.x || a["y"] != st.y || a["clicks"] != st.clicks {
				t.Errorf("mirror = x %q y %q clicks %q, want %s %s %s", a["x"], a["y"], a["clicks"], st.x, st.y, st.clicks)
			}
		})
	}
	if a := mirrorAttrs(t, ctx); a["scrolls"] != "1" {
		t.Errorf("data-scrolls = %q, want 1", a["scrolls"])
	}
	// The log shows clicks, not moves or scrolls.
	counts := eval[map[string]int](t, ctx, `(() => { const n = (k) => document.querySelectorAll('#log li[data-event="' + k + '"]').length;
		return {click: n('mouse_click'), move: n('mouse_move'), scroll: n('mouse_scroll')} })()`)
	if counts["click"] != 3 || counts["move"] != 0 || counts["scroll"] != 0 {
		t.Errorf("log entries %v, want 3 clicks and no moves or scrolls", counts)
	}
	if s := eval[string](t, ctx, text("mirror-note")); strings.Contains(s, "No pointer activity") {
		t.Errorf("mirror note after events = %q", s)
	}
	if s := eval[string](t, ctx, text("mirror-meta")); s != "1919, 1079 · 3 clicks" {
		t.Errorf("mirror meta = %q", s)
	}

	// The pointer is drawn where the desktop's is: a pixel inside the arrow
	// differs from the empty screen there before.
	fake.event("d_office", map[string]any{"kind": "mouse_move", "x": 200, "y": 300})
	waitFor(t, ctx, "pointer drawn at 200,300", pixelAt(200, 300, 2, 8)+` !== `+strconv.Quote(empty))

	// Clicking the mirror fills x and y of Move pointer and Click.
	rect := eval[map[string]float64](t, ctx, `(() => { document.getElementById('mirror').scrollIntoView({block: 'center'}); const r = document.querySelector('#mirror canvas').getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height} })()`)
	do(t, ctx, chromedp.MouseClickXY(rect["x"]+rect["w"]*0.25, rect["y"]+rect["h"]*0.75))
	fields := eval[map[string]string](t, ctx, `(() => { const v = (id) => document.getElementById(id).value;
		return {mx: v('arg-mouse_move-x'), my: v('arg-mouse_move-y'), cx: v('arg-mouse_click-x'), cy: v('arg-mouse_click-y')} })()`)
	for k, want := range map[string]float64{"mx": 480, "my": 810, "cx": 480, "cy": 810} {
		got, err := strconv.ParseFloat(fields[k], 64)
		if err != nil || got < want-3 || got > want+3 {
			t.Errorf("after clicking the mirror, field %s = %q, want %v ± 3", k, fields[k], want)
		}
	}
	if s := eval[string](t, ctx, text("mirror-note")); !strings.Contains(s, "filled in for Move pointer and Click") {
		t.Errorf("mirror note after a pick = %q", s)
	}
	if v := eval[[]string](t, ctx, `window.cspViolations`); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
	saveArtifact(t, ctx, "web-mirror-1280.png")
}

// TestDesktopCommandFormsInBrowser checks the forms generated for the
// desktop commands: selects for enums, a URL field, a text area, and optional
// integers left empty are not sent.
func TestDesktopCommandFormsInBrowser(t *testing.T) {
	ctx := browser(t)
	fctx, stop := context.WithCancel(context.Background())
	fake := newFakeRelay(fctx)
	srv := httptest.NewServer(fake.handler())
	defer func() {
		stop()
		srv.Close()
		fake.wait()
	}()
	pairOffice(t, ctx, srv.URL)
	waitFor(t, ctx, "open_url form", `!!document.getElementById('cmd-open_url') && !document.getElementById('cmd-open_url').disabled`)

	got := eval[map[string]string](t, ctx, `(() => { const e = (id) => document.getElementById(id);
		return {
			format: e('arg-screenshot-format').tagName + ' ' + Array.from(e('arg-screenshot-format').options).map((o) => o.value).join('|') + ' ' + e('arg-screenshot-format').value,
			maxw: e('arg-screenshot-max_width').type + ' ' + e('arg-screenshot-max_width').value + ' ' + e('arg-screenshot-max_width').required,
			button: e('arg-mouse_click-button').tagName + ' ' + Array.from(e('arg-mouse_click-button').options).map((o) => o.value).join('|'),
			clickx: e('arg-mouse_click-x').type + ' ' + e('arg-mouse_click-x').required + ' ' + e('arg-mouse_click-x').max,
			movex: e('arg-mouse_move-x').required + '',
			text: e('arg-type_text-text').tagName + ' ' + e('arg-type_text-text').maxLength,
			url: e('arg-open_url-url').type + ' ' + e('arg-open_url-url').required,
			labels: ['screenshot', 'mouse_move', 'mouse_click', 'type_text', 'open_url'].map((n) => e('cmd-' + n).textContent).join('|'),
		} })()`)
	want := map[string]string{
		"format": "SELECT png|jpeg png",
		"maxw":   "number  false",
		"button": "SELECT left|right|middle",
		"clickx": "number false 1919",
		"movex":  "true",
		"text":   "TEXTAREA 1000",
		"url":    "url true",
		"labels": "Screenshot|Move pointer|Click|Type text|Open link",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}

	// The browser refuses what the spec forbids before anything is sent.
	urlCases := []struct {
		url   string
		valid bool
	}{
		{"https://example.org/a?b=c", true},
		{"http://127.0.0.1:8080/", true},
		{"ftp://example.org/", false},
		{"javascript:alert(1)", false},
		{"example.org", false},
	}
	for _, tc := range urlCases {
		t.Run("url "+tc.url, func(t *testing.T) {
			valid := eval[bool](t, ctx, fmt.Sprintf(`(() => { const e = document.getElementById('arg-open_url-url'); e.value = %q; return e.checkValidity() })()`, tc.url))
			if valid != tc.valid {
				t.Errorf("valid = %v, want %v", valid, tc.valid)
			}
		})
	}

	// Sending: empty optional fields stay off the wire; numbers are numbers.
	do(t, ctx,
		chromedp.SetValue("#arg-mouse_click-button", "right"),
		chromedp.Click("#cmd-mouse_click"))
	waitFor(t, ctx, "click sent", `document.querySelector('#log li[data-id="c1"]')?.dataset.status === 'ok'`)
	do(t, ctx,
		chromedp.SetValue("#arg-mouse_move-x", "12"), chromedp.SetValue("#arg-mouse_move-y", "34"),
		chromedp.Click("#cmd-mouse_move"))
	waitFor(t, ctx, "move sent", `document.querySelector('#log li[data-id="c2"]')?.dataset.status === 'ok'`)
	do(t, ctx,
		chromedp.SetValue("#arg-open_url-url", "https://example.org/x"),
		chromedp.Click("#cmd-open_url"))
	waitFor(t, ctx, "open_url sent", `document.querySelector('#log li[data-id="c3"]')?.dataset.status === 'ok'`)
	sent := fake.commands()
	wantArgs := []string{`{"button":"right"}`, `{"x":12,"y":34}`, `{"url":"https://example.org/x"}`}
	if len(sent) != len(wantArgs) {
		t.Fatalf("relay got %d commands, want %d", len(sent), len(wantArgs))
	}
	for i, w := range wantArgs {
		var gotArgs, wantMap map[string]any
		json.Unmarshal(sent[i].Args, &gotArgs)
		json.Unmarshal([]byte(w), &wantMap)
		if fmt.Sprint(gotArgs) != fmt.Sprint(wantMap) {
			t.Errorf("command %d (%s) args = %s, want %s", i, sent[i].Name, sent[i].Args, w)
		}
	}
}

// TestUnavailableCommandsInBrowser: a command the device reports it cannot
// run now (presence "unavailable") is shown disabled with the reason, and
// stays disabled while the others come and go with the connection.
func TestUnavailableCommandsInBrowser(t *testing.T) {
	ctx := browser(t)
	fctx, stop := context.WithCancel(context.Background())
	fake := newFakeRelay(fctx)
	srv := httptest.NewServer(fake.handler())
	defer func() {
		stop()
		srv.Close()
		fake.wait()
	}()
	pairOffice(t, ctx, srv.URL)
	waitFor(t, ctx, "forms", `!!document.getElementById('arg-type_text-text') && document.getElementById('cmd-beep').disabled === false`)
	got := eval[map[string]string](t, ctx, `(() => { const b = document.getElementById('cmd-type_text'), why = document.getElementById('cmd-type_text-why');
		return {disabled: String(b.disabled), why: why.textContent, shown: String(!why.hidden), described: b.getAttribute('aria-describedby') || '',
			form: b.closest('form').dataset.unavailable, beepWhy: String(document.getElementById('cmd-beep-why').hidden)} })()`)
	want := map[string]string{"disabled": "true", "why": "Unavailable on this computer: no X display (DISPLAY is not set).", "shown": "true",
		"described": "cmd-type_text-why", "form": "true", "beepWhy": "true"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("type_text: %v, want %v", got, want)
	}
	// A reconnect enables the others again, not this one.
	fake.closeSockets(1012)
	waitFor(t, ctx, "live again", `document.getElementById('socket-state').dataset.state === 'live' && document.getElementById('cmd-beep').disabled === false`)
	if !eval[bool](t, ctx, `document.getElementById('cmd-type_text').disabled`) {
		t.Error("type_text enabled after a reconnect")
	}
	if n := len(fake.commands()); n != 0 {
		t.Errorf("%d commands sent", n)
	}
}

// TestScreenshotInBrowser asks the fake for a screenshot of several MB and
// checks it is shown at its size, offered for download, kept out of the log,
// and that the page stays responsive; then looks at the page on a phone-sized
// screen in dark mode.
func TestScreenshotInBrowser(t *testing.T) {
	ctx := browser(t)
	fctx, stop := context.WithCancel(context.Background())
	fake := newFakeRelay(fctx)
	srv := httptest.NewServer(fake.handler())
	defer func() {
		stop()
		srv.Close()
		fake.wait()
	}()
	watchCSP(t, ctx)
	do(t, ctx, chromedp.EmulateViewport(1280, 900))
	pairOffice(t, ctx, srv.URL)
	waitFor(t, ctx, "screenshot button", `!!document.getElementById('cmd-screenshot') && !document.getElementById('cmd-screenshot').disabled`)
	if !eval[bool](t, ctx, `document.getElementById('screenshot').hidden`) {
		t.Error("screenshot card shown before any screenshot")
	}

	// Long tasks (over 50 ms on the main thread) while the screenshot arrives.
	_ = eval[bool](t, ctx, `(window.longTasks = [], new PerformanceObserver((l) => { for (const e of l.getEntries()) window.longTasks.push(e.duration) }).observe({type: 'longtask'}), true)`)
	do(t, ctx, chromedp.Click("#cmd-screenshot"))
	waitFor(t, ctx, "screenshot shown", `document.querySelector('#screenshot img')?.naturalWidth > 0`)
	size := eval[map[string]float64](t, ctx, `(() => { const i = document.querySelector('#screenshot img'); return {w: i.naturalWidth, h: i.naturalHeight, shown: i.getBoundingClientRect().width} })()`)
	if size["w"] != fakeShotW || size["h"] != fakeShotH || size["shown"] <= 0 {
		t.Errorf("screenshot image %v, want natural %d×%d and visible", size, fakeShotW, fakeShotH)
	}
	status := eval[string](t, ctx, text("screenshot-status"))
	if !regexp.MustCompile(`^PNG · 1280×720 · \d\.\d MiB · taken at \d\d:\d\d:\d\d$`).MatchString(status) {
		t.Errorf("screenshot status = %q", status)
	}
	b64 := fakeScreenshot()["data"].(string)
	entry := eval[string](t, ctx, `document.querySelector('#log li[data-id="c1"]').textContent`)
	if len(entry) > 300 || strings.Contains(entry, b64[:64]) || !strings.Contains(entry, "PNG · 1280×720") {
		t.Errorf("log entry of the screenshot (%d chars) = %.300q", len(entry), entry)
	}
	tasks := eval[[]float64](t, ctx, `window.longTasks`)
	t.Logf("screenshot of %d bytes base64: main-thread long tasks %v ms", len(b64), tasks)

	// Download: the link gets a blob: URL of the PNG's bytes when used.
	dl := eval[map[string]string](t, ctx, `(() => { const a = document.getElementById('screenshot-download');
		const create = URL.createObjectURL; URL.createObjectURL = (b) => (window.lastBlob = b, create.call(URL, b));
		a.addEventListener('click', (e) => e.preventDefault(), {once: true}); // no real download in the test
		a.click(); return {href: a.href, name: a.download, hidden: String(a.hidden)} })()`)
	if !strings.HasPrefix(dl["href"], "blob:") || !regexp.MustCompile(`^tether-office-pc-\d{4}-\d\d-\d\d-\d{6}\.png$`).MatchString(dl["name"]) || dl["hidden"] != "false" {
		t.Errorf("download link %v", dl)
	}
	raw, _ := base64.StdEncoding.DecodeString(b64)
	blob := eval[map[string]any](t, ctx, `({size: window.lastBlob.size, type: window.lastBlob.type})`)
	if blob["size"] != float64(len(raw)) || blob["type"] != "image/png" {
		t.Errorf("download blob %v, want %d bytes of image/png", blob, len(raw))
	}
	saveArtifact(t, ctx, "web-screenshot-1280.png")

	// A failed screenshot says why and keeps the last picture.
	do(t, ctx, chromedp.SetValue("#arg-screenshot-format", "jpeg"), chromedp.Click("#cmd-screenshot"))
	waitFor(t, ctx, "failure shown", `document.getElementById('screenshot').dataset.state === 'failed'`)
	if s := eval[string](t, ctx, text("screenshot-error")); s != "The last screenshot failed: no JPEG encoder on this computer." {
		t.Errorf("error after a failure = %q", s)
	}
	if s := eval[string](t, ctx, text("screenshot-status")); !strings.HasPrefix(s, "Earlier: PNG · 1280×720") {
		t.Errorf("status after a failure = %q", s)
	}
	if w := eval[float64](t, ctx, `document.querySelector('#screenshot img')?.naturalWidth || 0`); w != fakeShotW {
		t.Errorf("after a failure the image is %v wide, want the last one kept", w)
	}
	if s := eval[string](t, ctx, `document.querySelector('#log li[data-id="c2"]').dataset.status`); s != "unavailable" {
		t.Errorf("log status of the failed screenshot = %q", s)
	}

	// A phone, light then dark: nothing wider than the screen.
	do(t, ctx, chromedp.EmulateViewport(360, 780, chromedp.EmulateMobile), colorScheme("light"))
	waitFor(t, ctx, "layout at 360 px", `document.documentElement.clientWidth === 360`)
	saveArtifact(t, ctx, "web-phone-light.png")
	do(t, ctx, colorScheme("dark"))
	waitFor(t, ctx, "layout at 360 px", `document.documentElement.clientWidth === 360`)
	fitsWidth(t, ctx, 360)
	widths := eval[map[string]float64](t, ctx, `(() => ({mirror: document.getElementById('mirror').getBoundingClientRect().right,
		shot: document.querySelector('#screenshot img').getBoundingClientRect().right,
		commands: document.getElementById('commands').getBoundingClientRect().right}))()`)
	for k, w := range widths {
		if w > 360 {
			t.Errorf("at 360 px, %s reaches %v px", k, w)
		}
	}
	if bg := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(18, 20, 24)" {
		t.Errorf("dark mode body background = %s", bg)
	}
	fake.event("d_office", map[string]any{"kind": "mouse_click", "x": 960, "y": 540, "button": "left"})
	waitFor(t, ctx, "click counted", `document.getElementById('mirror').dataset.clicks === '1'`)
	saveArtifact(t, ctx, "web-phone-dark.png")
	if v := eval[[]string](t, ctx, `window.cspViolations`); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}

// TestMirrorModulesInBrowser runs the pure parts of the mirror and screenshot
// modules in the browser, table by table: the pointer track (what it accepts,
// what it counts, what fades), coordinates picked on the mirror, screenshot
// data and file names, and the log's elision of long strings.
func TestMirrorModulesInBrowser(t *testing.T) {
	ctx := browser(t)
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	do(t, ctx, chromedp.Navigate(srv.URL+"/"))
	run := func(t *testing.T, body string) map[string]any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`(async () => {
			const m = await import('/static/mirror.js');
			const s = await import('/static/screenshot.js');
			const f = await import('/static/format.js');
			`+body+` })()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%v", err)
		}
		return v
	}

	t.Run("track", func(t *testing.T) {
		cases := []struct {
			name, events    string // JS array of [data, time ms]
			x, y            any
			clicks, scrolls float64
			trail, ripples  float64
			busyAt, idleAt  float64 // a time (ms) when something still fades, and one when nothing does
			accepted        string
		}{
			{"nothing", `[]`, nil, nil, 0, 0, 0, 0, 0, 0, ""},
			{"moves", `[[{kind:'mouse_move',x:1,y:2},0],[{kind:'mouse_move',x:3,y:4},50]]`, 3.0, 4.0, 0, 0, 2, 0, 2049, 2050, "true,true"}, // the newest point fades last
			{"same place twice is one trail point", `[[{kind:'mouse_move',x:1,y:2},0],[{kind:'mouse_move',x:1,y:2},50]]`, 1.0, 2.0, 0, 0, 1, 0, 1999, 2000, "true,true"},
			{"clicks and an unknown button", `[[{kind:'mouse_click',x:5,y:6,button:'right'},0],[{kind:'mouse_click',x:5,y:6,button:'x1'},10]]`, 5.0, 6.0, 2, 0, 1, 2, 1999, 2000, "true,true"},
			{"scroll", `[[{kind:'mouse_scroll',x:7,y:8,dx:0,dy:-3},0]]`, 7.0, 8.0, 0, 1, 1, 0, 1999, 2000, "true"},
			{"refused", `[[{kind:'mouse_move',x:'1',y:2},0],[{kind:'mouse_move',x:1},0],[{kind:'key',x:1,y:1},0],[null,0],[{kind:'mouse_move',x:NaN,y:1},0],[{kind:'mouse_move',x:1e9,y:1},0]]`, nil, nil, 0, 0, 0, 0, 0, 0, "false,false,false,false,false,false"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got := run(t, `const tr = new m.PointerTrack(); const ok = [];
					for (const [d, at] of `+tc.events+`) ok.push(tr.add(d, at));
					const last = `+tc.events+`.reduce((a, e) => Math.max(a, e[1]), 0);
					const r = {x: tr.x, y: tr.y, clicks: tr.clicks, scrolls: tr.scrolls, trail: tr.trail.length, ripples: tr.ripples.length,
						busy: tr.busy(`+fmt.Sprint(tc.busyAt)+`), idle: !tr.busy(`+fmt.Sprint(tc.idleAt)+`), accepted: ok.join(','),
						ripple0: tr.ripples.length ? tr.ripples.map((p) => p.button).join(',') : ''};
					tr.prune(last + 2000); r.trailAfter = tr.trail.length; r.ripplesAfter = tr.ripples.length;
					return r;`)
				if got["x"] != tc.x || got["y"] != tc.y || got["clicks"] != tc.clicks || got["scrolls"] != tc.scrolls ||
					got["trail"] != tc.trail || got["ripples"] != tc.ripples || got["accepted"] != tc.accepted {
					t.Errorf("got %v", got)
				}
				if tc.trail > 0 && (got["busy"] != true || got["idle"] != true) {
					t.Errorf("busy %v at +%v, idle %v at +%v; want busy then idle", got["busy"], tc.busyAt, got["idle"], tc.idleAt)
				}
				if got["trailAfter"] != 0.0 || got["ripplesAfter"] != 0.0 {
					t.Errorf("after 2 s: %v trail points, %v ripples; want none", got["trailAfter"], got["ripplesAfter"])
				}
				if tc.name == "clicks and an unknown button" && got["ripple0"] != "right,left" {
					t.Errorf("ripple buttons %v, want right,left", got["ripple0"])
				}
			})
		}
	})

	t.Run("toDesktop", func(t *testing.T) {
		cases := []struct {
			px, py, bw, bh, sw, sh float64
			x, y                   float64
		}{
			{0, 0, 640, 360, 1920, 1080, 0, 0},
			{320, 180, 640, 360, 1920, 1080, 960, 540},
			{640, 360, 640, 360, 1920, 1080, 1919, 1079}, // the far edge stays on screen
			{-5, 400, 640, 360, 1920, 1080, 0, 1079},
			{100.4, 50.2, 200, 100, 200, 100, 100, 50},
		}
		for _, tc := range cases {
			got := run(t, fmt.Sprintf(`return m.toDesktop(%v, %v, {width: %v, height: %v}, {width: %v, height: %v})`, tc.px, tc.py, tc.bw, tc.bh, tc.sw, tc.sh))
			if got["x"] != tc.x || got["y"] != tc.y {
				t.Errorf("toDesktop(%v, %v) in %vx%v of %vx%v = %v, want %v,%v", tc.px, tc.py, tc.bw, tc.bh, tc.sw, tc.sh, got, tc.x, tc.y)
			}
		}
	})

	t.Run("readScreenshot", func(t *testing.T) {
		cases := []struct {
			name, data string
			want       string // JSON of the interesting fields, or "null"
		}{
			{"png", `{format: 'png', width: 2, height: 1, data: 'iVBORw0KGgo='}`, `{"bytes":8,"format":"png","height":1,"url":"data:image/png;base64,iVBORw0KGgo=","width":2}`},
			{"jpeg upper case", `{format: 'JPEG', width: 2, height: 1, data: '/9j/4AAQ'}`, `{"bytes":6,"format":"jpeg","height":1,"url":"data:image/jpeg;base64,/9j/4AAQ","width":2}`},
			{"no format means png", `{data: 'AAAA'}`, `{"bytes":3,"format":"png","height":0,"url":"data:image/png;base64,AAAA","width":0}`},
			{"svg refused", `{format: 'svg+xml', data: 'PHN2Zz4='}`, `null`},
			{"not base64", `{format: 'png', data: '<script>'}`, `null`},
			{"quote in the tail", `{format: 'png', data: 'AAAA"'}`, `null`},
			{"empty", `{format: 'png', data: ''}`, `null`},
			{"no data", `null`, `null`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got := run(t, `const r = s.readScreenshot(`+tc.data+`); return {json: JSON.stringify(r && {bytes: r.bytes, format: r.format, height: r.height, url: r.url, width: r.width})}`)
				if got["json"] != tc.want {
					t.Errorf("got %v, want %s", got["json"], tc.want)
				}
			})
		}
	})

	t.Run("names and text", func(t *testing.T) {
		got := run(t, `const when = new Date(2026, 10, 22, 9, 5, 7);
			return {
				file: s.screenshotFileName('Office PC / 2', {format: 'png'}, when),
				jpg: s.screenshotFileName('', {format: 'jpeg'}, when),
				describe: s.describeScreenshot({format: 'png', width: 1920, height: 1080, bytes: 2.5 * 1024 * 1024}),
				bytes: Array.from(s.base64Bytes('AAEC/w==')).join(','),
				elided: JSON.stringify(f.elideLongStrings({a: 'x'.repeat(300), b: [1, 'ok', {c: 'y'.repeat(201)}], d: null})),
				url: f.humanize('url'), maxw: f.humanize('max_width'),
			}`)
		want := map[string]any{
			"file":     "tether-office-pc-2-2026-11-22-090507.png",
			"jpg":      "tether-screen-2026-11-22-090507.jpg",
			"describe": "PNG · 1920×1080 · 2.5 MiB",
			"bytes":    "0,1,2,255",
			"elided":   `{"a":"…(300 characters)","b":[1,"ok",{"c":"…(201 characters)"}],"d":null}`,
			"url":      "URL",
			"maxw":     "Max width",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
	})
}
