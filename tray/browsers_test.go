package tray

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/agent/activity"
)

// TestPairedBrowsersAndActivity drives the Paired browsers submenu and
// Recent activity… with a real agent and relay in this process: the
// browsers appear by name, Unpair on one forgets it on the relay (the
// other stays), and Recent activity… opens a page of the log.
func TestPairedBrowsersAndActivity(t *testing.T) {
	relay, dir, a, ctx, wg := agentOnRelay(t)

	opened := make(chan string, 4)
	ctrl, err := NewController(Config{Agent: a, Poll: 20 * time.Millisecond, InfoEvery: 50 * time.Millisecond,
		OpenURL: func(u string) error { opened <- u; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	models := make(chan Model, 1000)
	wg.Go(func() { ctrl.Run(ctx, func(m Model) { models <- m }) })
	waitModel := func(what string, cond func(Model) bool) Model {
		t.Helper()
		return awaitModel(t, ctrl, models, what, cond)
	}
	waitModel("connected", func(m Model) bool { return m.Status.State == agent.StateConnected })
	for _, ua := range []string{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", "curl/8.5.0"} {
		code, err := a.PairingCode(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", relay+"/api/v1/pairings", strings.NewReader(`{"code":"`+code.Code+`"}`))
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("pair as %s: %v %v", ua, resp, err)
		}
		resp.Body.Close()
	}
	m := waitModel("two browsers listed", func(m Model) bool { return len(m.Browsers) == 2 })
	items := Items(m)
	paired, _ := find(items, IDPaired)
	if paired.Title != "Paired browsers: 2" || len(paired.Children) != 2 ||
		!strings.HasPrefix(paired.Children[0].Title, "Firefox on Windows (") || !strings.HasPrefix(paired.Children[1].Title, "curl (") {
		t.Fatalf("Paired browsers submenu = %+v", paired)
	}
	firefox := m.Browsers[0].ID
	ctrl.Click(UnpairPrefix + firefox)
	waitModel("firefox gone", func(m Model) bool { return len(m.Browsers) == 1 && m.Browsers[0].Name == "curl" && m.Busy == "" })
	left, err := a.PairedBrowsers(ctx)
	if err != nil || len(left) != 1 || left[0].Name != "curl" {
		t.Fatalf("the relay's paired browsers after Unpair: %+v, %v", left, err)
	}

	log := activity.New(dir, 0, nil)
	defer log.Close()
	log.Append(activity.Entry{Command: "beep", Browser: "curl", Args: map[string]any{"frequency_hz": 440}, OK: true})
	ctrl.Click(IDActivity)
	var u string
	select {
	case u = <-opened:
	case <-time.After(hangGuard):
		t.Fatal("Recent activity… opened nothing")
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Scheme != "file" {
		t.Fatalf("opened %q, want a file:// URL", u)
	}
	page, err := os.ReadFile(filepath.FromSlash(pu.Path))
	if err != nil || !strings.Contains(string(page), "frequency_hz=440") || !strings.Contains(string(page), "curl") {
		t.Fatalf("activity page %s: %v\n%s", pu.Path, err, page)
	}
}
