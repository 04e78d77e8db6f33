package web_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/internal/relaytest"
	"github.com/tether-desktop/tether/protocol"
)

// The tests in this file drive the page in headless Chromium against the real
// relay (relay/server in this process, internal/relaytest) with scripted
// agents (simagent_test.go) that advertise the agent's own command specs.

// studio is the hello of a Linux desktop with a 1280×800 screen.
func studio(t *testing.T, names ...string) protocol.Hello {
	return protocol.Hello{Name: "studio", OS: "linux", Commands: agentSpecs(t, names...), Screen: &protocol.Screen{Width: 1280, Height: 800}}
}

// openPage starts a real relay and a browser showing its page at width×height.
func openPage(t *testing.T, width, height int64) (string, context.Context) {
	t.Helper()
	relay := relaytest.Start(t)
	ctx := browser(t)
	watchCSP(t, ctx)
	do(t, ctx, chromedp.EmulateViewport(width, height), chromedp.Navigate(relay+"/"))
	return relay, ctx
}

// TestCommandFormsOnRealRelay checks what a person reads on the command
// forms: each has a title and a line saying what it does (from the agent's
// specs; a spec without a title gets its name made readable), and the pointer
// commands' x and y are bounded by the device's screen, not by 32767.
func TestCommandFormsOnRealRelay(t *testing.T) {
	relay, ctx := openPage(t, 1280, 900)
	h := studio(t, "beep", "mouse_move", "mouse_click")
	h.Commands = append(h.Commands, protocol.CommandSpec{Name: "backup_now", Args: []protocol.ArgSpec{}})
	a := startSimAgent(t, relay, h)
	a.pairIn(t, ctx, relay)
	// The forms are rebuilt from presence's specs (the devices API lists only names).
	waitFor(t, ctx, "forms from the specs", `!!document.getElementById('cmd-backup_now') && !!document.getElementById('arg-mouse_move-x')`)

	for _, spec := range h.Commands {
		title, desc := spec.Title, spec.Description
		if spec.Name == "backup_now" {
			title = "Backup now"
		}
		got := eval[map[string]string](t, ctx, fmt.Sprintf(`(() => { const e = (s) => document.getElementById('cmd-%s' + s);
			return {title: e('-title')?.textContent || '', desc: e('-desc')?.textContent || '', label: e('')?.getAttribute('aria-labelledby') || e('').closest('form').getAttribute('aria-labelledby') || ''} })()`, spec.Name))
		if got["title"] != title || got["desc"] != desc || got["label"] != "cmd-"+spec.Name+"-title" {
			t.Errorf("form of %s: %v, want title %q and description %q", spec.Name, got, title, desc)
		}
		if spec.Name != "backup_now" && desc == "" {
			t.Errorf("the agent's %s has no description", spec.Name)
		}
	}

	// The screen is 1280×800: x is 0 to 1279, y 0 to 799; 5000 is refused by
	// the form before anything is sent.
	for _, cmd := range []string{"mouse_move", "mouse_click"} {
		got := eval[map[string]string](t, ctx, fmt.Sprintf(`(() => { const x = document.getElementById('arg-%[1]s-x'), y = document.getElementById('arg-%[1]s-y');
			x.value = '5000'; const bad = String(x.checkValidity()); x.value = '1279'; const edge = String(x.checkValidity()); x.value = '';
			return {xmax: x.max, ymax: y.max, xhint: document.getElementById(x.id + '-hint').textContent,
				yhint: document.getElementById(y.id + '-hint').textContent, bad, edge} })()`, cmd))
		want := map[string]string{"xmax": "1279", "ymax": "799", "xhint": "0 to 1279", "yhint": "0 to 799", "bad": "false", "edge": "true"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s bounds: %v, want %v", cmd, got, want)
		}
	}
	// A new screen size (a new hello) moves the bounds.
	h.Screen = &protocol.Screen{Width: 1920, Height: 1080}
	a.hello(h)
	waitFor(t, ctx, "bounds of the new screen", `document.getElementById('arg-mouse_move-x').max === '1919' && document.getElementById('arg-mouse_move-y-hint').textContent === '0 to 1079'`)
	if v := eval[[]string](t, ctx, `window.cspViolations`); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}

// TestUnavailableCommandOnRealRelay: a command the agent reports unavailable
// (hello "unavailable") shows disabled with the reason. It runs once the
// relay passes hello's "unavailable" on in presence (protocol.Presence has
// an Unavailable field); TestUnavailableCommandsInBrowser covers the page
// against the fake relay meanwhile.
func TestUnavailableCommandOnRealRelay(t *testing.T) {
	if _, ok := reflect.TypeOf(protocol.Presence{}).FieldByName("Unavailable"); !ok {
		t.Skip("the relay does not pass hello's unavailable on in presence yet (protocol.Presence has no Unavailable)")
	}
	relay, ctx := openPage(t, 1280, 900)
	h := studio(t, "beep", "notify")
	h.Unavailable = map[string]string{"beep": "no sound device"}
	a := startSimAgent(t, relay, h)
	a.pairIn(t, ctx, relay)
	waitFor(t, ctx, "beep disabled with its reason", `document.getElementById('cmd-beep')?.disabled === true && `+text("cmd-beep-why")+` === 'Unavailable on this computer: no sound device.'`)
	waitFor(t, ctx, "notify enabled", `document.getElementById('cmd-notify')?.disabled === false`)
	h.Unavailable = nil
	a.hello(h)
	waitFor(t, ctx, "beep enabled again", `document.getElementById('cmd-beep').disabled === false && document.getElementById('cmd-beep-why').hidden`)
}

// TestAccessRemovedOnRealRelay: after tether unpair-all the page says that
// the owner removed this browser's access and the header no longer says
// Live; pairing again clears it; Forget says what happened too.
func TestAccessRemovedOnRealRelay(t *testing.T) {
	relay, ctx := openPage(t, 1280, 900)
	a := startSimAgent(t, relay, studio(t, "beep"))
	a.pairIn(t, ctx, relay)
	waitFor(t, ctx, "live", `document.getElementById('socket-state').dataset.state === 'live'`)

	a.unpairAll()
	waitFor(t, ctx, "device gone", `!document.querySelector('#devices [data-device]') && document.getElementById('main').dataset.view === 'pair'`)
	waitFor(t, ctx, "notice", `!document.getElementById('access-notice').hidden`)
	if s := eval[string](t, ctx, text("access-notice")); !strings.Contains(s, "This computer’s owner removed your access to “studio”") {
		t.Errorf("notice after unpair-all = %q", s)
	}
	if eval[bool](t, ctx, `!document.getElementById('pair-ok').hidden`) {
		t.Errorf("still says %q under the pairing form", eval[string](t, ctx, text("pair-ok")))
	}
	if s := eval[map[string]string](t, ctx, `({text: document.getElementById('socket-state').textContent, state: document.getElementById('socket-state').dataset.state})`); s["text"] == "Live" || s["state"] == "live" {
		t.Errorf("header after unpair-all = %v, want not Live", s)
	}

	// Pairing again: the notice goes, the header is Live again.
	a.pairIn(t, ctx, relay)
	waitFor(t, ctx, "live again", `document.getElementById('socket-state').dataset.state === 'live' && document.getElementById('access-notice').hidden`)

	// Forget, from this page.
	_ = eval[bool](t, ctx, `(window.confirm = () => true, true)`)
	do(t, ctx, chromedp.Click("#forget"))
	waitFor(t, ctx, "forgotten", `!document.querySelector('#devices [data-device]') && !document.getElementById('access-notice').hidden`)
	if s := eval[string](t, ctx, text("access-notice")); !strings.HasPrefix(s, "You forgot “studio”") {
		t.Errorf("notice after Forget = %q", s)
	}
	if s := eval[string](t, ctx, text("socket-state")); s != "Not paired" {
		t.Errorf("header after Forget = %q, want Not paired", s)
	}
}

// TestReloadKeepsChartAndLogOnRealRelay: reloading the page keeps the CPU
// history and the activity log (sessionStorage), the next command gets a new
// id, and one tab holds exactly one client socket before and after the reload.
func TestReloadKeepsChartAndLogOnRealRelay(t *testing.T) {
	relay, ctx := openPage(t, 1280, 900)
	a := startSimAgent(t, relay, studio(t, "beep"))
	a.pairIn(t, ctx, relay)
	a.waitWatchers(t, 1)
	start := time.Now().Add(-4 * time.Second)
	for i, cpu := range []float64{12, 18, 25, 31} {
		// One at a time: the relay keeps only the latest telemetry of a queue.
		a.telemetry(start.Add(time.Duration(i)*time.Second), cpu, 40+float64(i))
		waitFor(t, ctx, "CPU value", text("cpu-value")+fmt.Sprintf(` === '%.1f%%'`, cpu))
	}
	waitFor(t, ctx, "four points drawn", `document.getElementById('cpu-chart').dataset.points === '4'`)
	do(t, ctx, chromedp.Click("#cmd-beep"))
	waitFor(t, ctx, "beep ok", `document.querySelector('#log [data-id="c1"]')?.dataset.status === 'ok'`)
	points := eval[float64](t, ctx, `document.querySelectorAll('#log li').length`)

	do(t, ctx, chromedp.Reload())
	waitFor(t, ctx, "device online after reload", `!!document.querySelector('#devices [data-online="true"]')`)
	waitFor(t, ctx, "log kept", `document.querySelector('#log [data-id="c1"]')?.dataset.status === 'ok'`)
	got := eval[map[string]any](t, ctx, `({cpu: document.getElementById('cpu-value').textContent, mem: document.getElementById('mem-value').textContent,
		entries: document.querySelectorAll('#log li').length, empty: document.getElementById('log-empty').hidden,
		beep: document.querySelector('#log [data-id="c1"]').textContent})`)
	if got["cpu"] != "31.0%" || got["mem"] != "43.0%" || got["entries"] != points || got["empty"] != true || !strings.Contains(got["beep"].(string), "Beep") {
		t.Errorf("after a reload, before new telemetry: %v, want CPU 31.0%%, memory 43.0%%, %v log entries", got, points)
	}
	// The chart has its four points back, drawn (uPlot's data), not an empty window.
	waitFor(t, ctx, "four points drawn after the reload", `document.getElementById('cpu-chart').dataset.points === '4'`)
	do(t, ctx, chromedp.Click("#cmd-beep"))
	waitFor(t, ctx, "second beep has a new id", `document.querySelector('#log [data-id="c2"]')?.dataset.status === 'ok' && document.querySelectorAll('#log [data-id="c1"]').length === 1`)
	a.waitWatchers(t, 1)
}

// TestSameNamesOnRealRelay: computers with the same host name get names a
// person can tell apart: the OS when it differs, else the end of the id.
func TestSameNamesOnRealRelay(t *testing.T) {
	relay, ctx := openPage(t, 1280, 900)
	win := studio(t, "beep")
	win.OS = "windows"
	agents := []*simAgent{startSimAgent(t, relay, studio(t, "beep")), startSimAgent(t, relay, studio(t, "beep")), startSimAgent(t, relay, win)}
	for _, a := range agents {
		a.pairIn(t, ctx, relay)
	}
	names := eval[map[string]string](t, ctx, `Object.fromEntries([...document.querySelectorAll('#devices [data-device]')].map((li) => [li.dataset.device, li.querySelector('.name').textContent]))`)
	seen := map[string]bool{}
	for _, a := range agents[:2] {
		want := "studio (…" + a.id[len(a.id)-4:] + ")"
		if names[a.id] != want {
			t.Errorf("%s is listed as %q, want %q", a.id, names[a.id], want)
		}
		seen[names[a.id]] = true
	}
	if names[agents[2].id] != "studio (Windows)" {
		t.Errorf("the Windows one is listed as %q", names[agents[2].id])
	}
	if len(seen) != 2 {
		t.Errorf("names %v are not all different", names)
	}
	do(t, ctx, chromedp.Click(fmt.Sprintf(`#devices [data-device=%q] button`, agents[1].id)))
	waitFor(t, ctx, "panel names the selected one", text("device-name")+fmt.Sprintf(` === %q`, names[agents[1].id]))
	// Each tab socket counts once for each device it watches.
	for _, a := range agents {
		a.waitWatchers(t, 1)
	}
}

// TestPhoneOnRealRelay: at 360 px the selected computer's name and state
// appear once, not in the list and again in the panel below it, nothing is
// wider than the screen, and with two computers the list is back.
func TestPhoneOnRealRelay(t *testing.T) {
	relay, ctx := openPage(t, 360, 780)
	do(t, ctx, chromedp.EmulateViewport(360, 780, chromedp.EmulateMobile))
	a := startSimAgent(t, relay, studio(t, "beep", "notify"))
	a.pairIn(t, ctx, relay)
	a.telemetry(time.Now(), 20, 40)
	waitFor(t, ctx, "CPU", text("cpu-value")+` === '20.0%'`)
	visible := `[...document.querySelectorAll('body *')].filter((e) => e.children.length === 0 && e.textContent.trim() === %q && e.getClientRects().length > 0).length`
	if n := eval[float64](t, ctx, fmt.Sprintf(visible, "studio")); n != 1 {
		t.Errorf("at 360 px the name shows %v times, want once", n)
	}
	if n := eval[float64](t, ctx, `[...document.querySelectorAll('body *')].filter((e) => e.children.length === 0 && /^Linux · online/.test(e.textContent) && e.getClientRects().length > 0).length`); n != 1 {
		t.Errorf("at 360 px the state shows %v times, want once", n)
	}
	fitsWidth(t, ctx, 360)
	// Two computers: the list is back (to choose), still without the state twice.
	b := startSimAgent(t, relay, protocol.Hello{Name: "laptop", OS: "darwin", Commands: agentSpecs(t, "beep")})
	b.pairIn(t, ctx, relay)
	do(t, ctx, chromedp.Click(fmt.Sprintf(`#devices [data-device=%q] button`, a.id)))
	waitFor(t, ctx, "studio selected", text("device-name")+` === 'studio'`)
	if n := eval[float64](t, ctx, `[...document.querySelectorAll('body *')].filter((e) => e.children.length === 0 && /^Linux · online/.test(e.textContent) && e.getClientRects().length > 0).length`); n != 1 {
		t.Errorf("with two computers at 360 px the selected one's state shows %v times, want once", n)
	}
	if !eval[bool](t, ctx, `document.getElementById('devices-card').getClientRects().length > 0`) {
		t.Errorf("with two computers the list is hidden on a phone")
	}
}

// TestOneSocketPerTabOnRealRelay: a Socket (socket.js) holds one client
// socket on the relay even when the network comes back ("online", retryNow)
// while it is still asking whether to reconnect; before, that opened a second
// socket the page never closed, and the agent counted two watchers.
func TestOneSocketPerTabOnRealRelay(t *testing.T) {
	relay, ctx := openPage(t, 1280, 900)
	a := startSimAgent(t, relay, studio(t, "beep"))
	a.pairIn(t, ctx, relay)
	a.waitWatchers(t, 1)

	// A second Socket in the same tab, driven by hand.
	_ = eval[bool](t, ctx, `(import('/static/socket.js').then((m) => {
		window.answer = null;
		window.sockStates = [];
		window.sock = new m.Socket({url: m.socketURL(location, '/ws/client'), onMessage: () => {}, onState: (s) => { window.sockState = s.state; window.sockStates.push(s.state) },
			shouldRetry: () => new Promise((resolve) => { window.answer = resolve })});
		window.sock.start();
	}), true)`)
	a.waitWatchers(t, 2)
	waitFor(t, ctx, "second socket live", `window.sockState === 'live'`)
	// It closes; while it asks shouldRetry, the network "comes back".
	_ = eval[bool](t, ctx, `(window.sock.ws.close(), true)`)
	waitFor(t, ctx, "asking whether to retry", `typeof window.answer === 'function'`)
	_ = eval[bool](t, ctx, `(window.sockStates = [], window.sock.retryNow(), window.answer(true), true)`)
	// Every reconnect the Socket scheduled has happened: it is live, every
	// connect it began has opened, and no retry is scheduled after the last.
	waitFor(t, ctx, "second socket live again, nothing pending", `(() => { const st = window.sockStates, n = (k) => st.filter((s) => s === k).length;
		return window.sockState === 'live' && n('connecting') === n('live') && st.lastIndexOf('retry') < st.lastIndexOf('connecting') })()`)
	waitUntil(t, "a watch count of 2 or more", func() bool { return a.watching() >= 2 })
	_ = eval[bool](t, ctx, `(window.sock.stop(), true)`)
	waitUntil(t, "back to the page's one watcher", func() bool { return a.watching() <= 1 })
	if n := a.watching(); n != 1 {
		t.Fatalf("after stopping the second Socket the relay counts %d watchers, want 1 (a socket leaked)", n)
	}
}

// TestCustomCommandOutputOnRealRelay: an owner's command runs for real (the
// scripted agent runs it as the agent does) and the log shows its exit code,
// stdout and stderr as text — markup and shell syntax sent as arguments come
// back literally — and keeps them over a reload.
func TestCustomCommandOutputOnRealRelay(t *testing.T) {
	relay, ctx := openPage(t, 1280, 900)
	defs, err := commands.ParseCustom([]byte(`[
		{"name":"echo_back","title":"Echo back","argv":["printf","[%s]","{text}"],"args":[{"name":"text","type":"string","max_len":100,"required":true}]},
		{"name":"failing","title":"Failing","argv":["/bin/sh","-c","echo partial; echo 'no <i>disk</i>' >&2; exit 3"]}]`),
		func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	h := studio(t, "beep")
	for _, d := range defs {
		h.Commands = append(h.Commands, d.Spec())
	}
	a := startSimAgent(t, relay, h)
	a.custom = map[string]commands.CustomDef{}
	for _, d := range defs {
		a.custom[d.Name] = d
	}
	a.pairIn(t, ctx, relay)
	waitFor(t, ctx, "the custom commands' forms", `!!document.getElementById('arg-echo_back-text') && !!document.getElementById('cmd-failing')`)

	const sent = `$(id); <b>bold</b> & 'q'`
	do(t, ctx, chromedp.SetValue("#arg-echo_back-text", sent), chromedp.Click("#cmd-echo_back"))
	waitFor(t, ctx, "echo_back answered", `document.querySelector('#log [data-id="c1"]')?.dataset.status === 'ok'`)
	do(t, ctx, chromedp.Click("#cmd-failing"))
	waitFor(t, ctx, "failing answered", `document.querySelector('#log [data-id="c2"]')?.dataset.status === 'ok'`)

	read := `(() => { const o = (id) => { const li = document.querySelector('#log [data-id="' + id + '"]');
		return {code: li.querySelector('.exit-code')?.textContent || '', stdout: li.querySelector('pre.stdout')?.textContent ?? null,
			stderr: li.querySelector('pre.stderr')?.textContent ?? null, markup: li.querySelectorAll('.output b, .output i').length,
			red: getComputedStyle(li.querySelector('.exit-code')).fontWeight} };
		return {c1: o('c1'), c2: o('c2')} })()`
	check := func(when string) {
		got := eval[map[string]map[string]any](t, ctx, read)
		c1, c2 := got["c1"], got["c2"]
		if c1["code"] != "exit code 0" || c1["stdout"] != "["+sent+"]" || c1["stderr"] != nil || c1["markup"] != float64(0) {
			t.Errorf("%s: echo_back shows %v, want exit code 0 and stdout [%s] as text", when, c1, sent)
		}
		if c2["code"] != "exit code 3" || c2["stdout"] != "partial\n" || c2["stderr"] != "no <i>disk</i>\n" || c2["markup"] != float64(0) || c2["red"] != "600" {
			t.Errorf("%s: failing shows %v, want exit code 3 (marked), stdout and stderr as text", when, c2)
		}
	}
	check("live")
	saveArtifact(t, ctx, "custom-command-output.png")
	do(t, ctx, chromedp.Reload())
	waitFor(t, ctx, "log kept", `!!document.querySelector('#log [data-id="c2"] .exit-code')`)
	check("after a reload")
	if v := eval[[]string](t, ctx, `window.cspViolations`); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}

// TestSensorTilesOnRealRelay: the sensors a computer reports show as tiles
// with a small history; those it does not report (here: no battery, no
// temperatures, no active window) have no tile, and a sensor that goes away
// takes its tile with it.
func TestSensorTilesOnRealRelay(t *testing.T) {
	relay, ctx := openPage(t, 1280, 900)
	a := startSimAgent(t, relay, studio(t, "beep"))
	a.pairIn(t, ctx, relay)
	waitFor(t, ctx, "no tiles before telemetry", `document.getElementById('sensors-card').hidden`)
	idle := func(s float64) *float64 { return &s }
	start := time.Now().Add(-5 * time.Second)
	for i := range 4 {
		a.sample(start.Add(time.Duration(i)*time.Second), protocol.Telemetry{
			CPUPercent: 10, MemPercent: 20,
			Disks:         []protocol.DiskUsage{{Mount: "/", FSType: "ext4", TotalBytes: 256 << 30, UsedBytes: 64 << 30, UsedPercent: 25 + float64(i)}},
			Net:           &protocol.NetRates{RxBytesPerS: 2 << 20, TxBytesPerS: 454.86241571823683, Interfaces: []protocol.NetIface{{Name: "eth0", RxBytesPerS: 2 << 20, TxBytesPerS: 454.86241571823683}}},
			Load:          &protocol.Load{Load1: 0.5, Load5: 0.25, Load15: 0.125},
			UptimeSeconds: 3*86400 + 4*3600,
			IdleSeconds:   idle(float64(90 + i)),
		})
		waitFor(t, ctx, "sample shown", fmt.Sprintf(`document.querySelector('#tile-disk canvas')?.dataset.points === '%d'`, i+1))
	}
	got := eval[map[string]string](t, ctx, `(() => { const o = {}; for (const el of document.querySelectorAll('#sensors .tile'))
		o[el.dataset.sensor] = el.querySelector('.tile-value').textContent + ' | ' + el.querySelector('.tile-detail').textContent; return o })()`)
	want := map[string]string{
		"disk": "28% used | / 28% of 256 GiB",
		"net":  "↓ 2.0 MiB/s ↑ 455 B/s | eth0 ↓ 2.0 MiB/s ↑ 455 B/s",
		"load": "0.50 | 0.25 · 0.13 · up 3 d 4 h",
		"idle": "1 min | since the last key or pointer input",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tiles %v, want %v", got, want)
	}
	saveArtifact(t, ctx, "sensor-tiles.png")
	if n := eval[float64](t, ctx, `document.querySelectorAll('#tile-battery, #tile-temp, #tile-window, #tile-disk-io').length`); n != 0 {
		t.Errorf("%v tiles for sensors the computer does not report", n)
	}
	// The disks go away (no longer reported), a battery appears.
	a.sample(time.Now(), protocol.Telemetry{CPUPercent: 10, MemPercent: 20, Battery: &protocol.Battery{Percent: 81, Charging: true}})
	waitFor(t, ctx, "battery tile, no disk tile", `!!document.getElementById('tile-battery') && !document.getElementById('tile-disk')`)
	if got := eval[string](t, ctx, text("tile-battery")); !strings.Contains(got, "81%") || !strings.Contains(got, "charging") {
		t.Errorf("battery tile %q", got)
	}
	if v := eval[[]string](t, ctx, `window.cspViolations`); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}

// TestClipboardTextOnRealRelay: the text clipboard_get returns shows in the
// log as text, whole, markup and all.
func TestClipboardTextOnRealRelay(t *testing.T) {
	relay, ctx := openPage(t, 1280, 900)
	a := startSimAgent(t, relay, studio(t, "clipboard_get", "volume"))
	clip := "line one <script>alert(1)</script>\n" + strings.Repeat("long line ", 40)
	a.answers = map[string]any{
		"clipboard_get": commands.ClipboardData{Text: clip},
		"volume":        commands.VolumeState{Level: 40, Method: "pactl"},
	}
	a.pairIn(t, ctx, relay)
	waitFor(t, ctx, "the clipboard form", `!!document.getElementById('cmd-clipboard_get')`)
	do(t, ctx, chromedp.Click("#cmd-clipboard_get"))
	waitFor(t, ctx, "clipboard read", `document.querySelector('#log [data-id="c1"]')?.dataset.status === 'ok'`)
	if got := eval[string](t, ctx, `document.querySelector('#log [data-id="c1"] pre.text')?.textContent ?? ''`); got != clip {
		t.Errorf("clipboard text shown %q, want %q", got, clip)
	}
	if n := eval[float64](t, ctx, `document.querySelectorAll('#log script').length`); n != 0 {
		t.Errorf("the clipboard's markup became %v elements", n)
	}
	do(t, ctx, chromedp.SetValue("#arg-volume-level", "40"), chromedp.Click("#cmd-volume"))
	waitFor(t, ctx, "volume set", `document.querySelector('#log [data-id="c2"]')?.dataset.status === 'ok'`)
	if got := eval[string](t, ctx, text("log")); !strings.Contains(got, `"level":40`) {
		t.Errorf("the volume's answer is not in the log: %q", got)
	}
}
