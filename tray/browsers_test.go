package tray

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/agent/activity"
	"github.com/tether-desktop/tether/agent/commands"
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
	u := awaitOpened(t, opened, TitleActivity)
	pu, err := url.Parse(u)
	if err != nil || pu.Scheme != "file" {
		t.Fatalf("opened %q, want a file:// URL", u)
	}
	page, err := os.ReadFile(filepath.FromSlash(pu.Path))
	if err != nil || !strings.Contains(string(page), "frequency_hz=440") || !strings.Contains(string(page), "curl") {
		t.Fatalf("activity page %s: %v\n%s", pu.Path, err, page)
	}
}

// awaitOpened returns the next URL the controller opened; what names the
// item clicked. The deadline is a hang guard.
func awaitOpened(t *testing.T, opened <-chan string, what string) string {
	t.Helper()
	select {
	case u := <-opened:
		return u
	case <-time.After(hangGuard):
		t.Fatalf("%s opened nothing", what)
		return ""
	}
}

// TestReceivedFiles: Received files opens the agent's folder of received
// files (creating it when no file came yet) as a file:// URL, which the
// desktop's opener shows in the file manager; an agent without such a
// folder gets the reason in the menu instead.
func TestReceivedFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		inbox bool
	}{{"with a folder", true}, {"without a folder", false}} {
		t.Run(tc.name, func(t *testing.T) {
			inbox := ""
			if tc.inbox {
				inbox = filepath.Join(t.TempDir(), "Downloads", agent.InboxFolder)
			}
			a, err := agent.New(agent.Config{RelayURL: "http://127.0.0.1:1", ConfigDir: t.TempDir(),
				Commands: commands.Builtin(quietDesktop{}), Inbox: inbox, SettingsPoll: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			opened := make(chan string, 4)
			ctrl, err := NewController(Config{Agent: a, Poll: 20 * time.Millisecond,
				OpenURL: func(u string) error { opened <- u; return nil }})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }()
			models := make(chan Model, 1000)
			wg.Go(func() { ctrl.Run(ctx, func(m Model) { models <- m }) })

			ctrl.Click(IDReceived)
			if !tc.inbox {
				m := awaitModel(t, ctrl, models, "the reason", func(m Model) bool { return m.Err != "" })
				if !strings.Contains(m.Err, "Received files: no folder for received files") {
					t.Errorf("menu error %q", m.Err)
				}
				if it, _ := find(Items(m), IDError); it.Hidden || it.Title != m.Err {
					t.Errorf("error item %+v", it)
				}
				return
			}
			u := awaitOpened(t, opened, TitleReceived)
			pu, err := url.Parse(u)
			if err != nil || pu.Scheme != "file" || filepath.FromSlash(pu.Path) != inbox {
				t.Fatalf("opened %q, want the file:// URL of %s", u, inbox)
			}
			if fi, err := os.Stat(inbox); err != nil || !fi.IsDir() {
				t.Fatalf("the folder to open does not exist: %v", err)
			}
		})
	}
}
