package web_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tether-desktop/tether/agent/commands"
)

// TestVolumeFormSendsWhatWasSetOnRealRelay: the volume form sends only
// what the person set. Its mute switch starts "not set" (indeterminate), so
// setting the level sends {"level":N} and leaves mute as it is on the
// computer; clicking the switch sends mute, on and then off; an empty
// level is left out.
func TestVolumeFormSendsWhatWasSetOnRealRelay(t *testing.T) {
	relay, ctx := openPage(t, 1280, 900)
	a := startSimAgent(t, relay, studio(t, "volume"))
	a.answers = map[string]any{"volume": commands.VolumeState{Level: 40, Method: "pactl"}}
	a.pairIn(t, ctx, relay)
	// The forms are first built from the devices API (names only), then
	// again from presence's specs: wait for the field, not just the button.
	waitFor(t, ctx, "the volume form", `!!document.getElementById('arg-volume-mute') && !document.getElementById('cmd-volume').disabled`)
	if !eval[bool](t, ctx, `document.getElementById('arg-volume-mute').indeterminate`) {
		t.Fatal("the mute switch does not start as not set")
	}

	sent := func(n int) string {
		t.Helper()
		waitUntil(t, fmt.Sprintf("command %d at the agent", n), func() bool {
			a.mu.Lock()
			defer a.mu.Unlock()
			return len(a.commands) >= n
		})
		a.mu.Lock()
		defer a.mu.Unlock()
		return string(a.commands[n-1].Args)
	}
	steps := []struct {
		name string
		do   []chromedp.Action[chromedp.Void]
		want string
	}{
		{"level only", []chromedp.Action[chromedp.Void]{chromedp.SetValue("#arg-volume-level", "40")}, `{"level":40}`},
		{"mute clicked", []chromedp.Action[chromedp.Void]{chromedp.SetValue("#arg-volume-level", ""), chromedp.Click("#arg-volume-mute")}, `{"mute":true}`},
		{"mute clicked again, with a level", []chromedp.Action[chromedp.Void]{chromedp.Click("#arg-volume-mute"), chromedp.SetValue("#arg-volume-level", "15")}, `{"level":15,"mute":false}`},
	}
	for i, s := range steps {
		do(t, ctx, append(s.do, chromedp.Click("#cmd-volume"))...)
		if got := sent(i + 1); got != s.want {
			t.Errorf("%s: the page sent %s, want %s", s.name, got, s.want)
		}
		waitFor(t, ctx, "the answer in the log", fmt.Sprintf(`document.querySelector('#log [data-id="c%d"]')?.dataset.status === 'ok'`, i+1))
	}
	if v := eval[[]string](t, ctx, `window.cspViolations`); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}
