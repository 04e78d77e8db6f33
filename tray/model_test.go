package tray

import (
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/assets"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.Local)

func model(edit func(*Model)) Model {
	m := Model{
		Status: agent.Status{State: agent.StateConnected, Relay: "https://relay.example.com", DeviceID: "d_1",
			Allowed: []string{"beep"}},
		Commands: []Command{{Name: "beep", On: true}, {Name: "notify"}, {Name: "screenshot"}},
		Paired:   2, Now: now, AutostartAvailable: true,
	}
	if edit != nil {
		edit(&m)
	}
	return m
}

func find(items []Item, id string) (Item, bool) {
	for _, it := range items {
		if it.ID == id {
			return it, true
		}
		if c, ok := find(it.Children, id); ok {
			return c, true
		}
	}
	return Item{}, false
}

func TestStatusLineIconAndTooltip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		edit       func(*Model)
		line, icon string
	}{
		{"connected", nil, "Connected to relay.example.com", assets.IconConnected},
		{"reconnecting with a countdown", func(m *Model) {
			m.Status.State, m.Status.NextRetry = agent.StateOffline, now.Add(8*time.Second)
		}, "Reconnecting in 8 s…", assets.IconOffline},
		{"reconnecting now", func(m *Model) { m.Status.State, m.Status.NextRetry = agent.StateOffline, now.Add(-time.Second) },
			"Reconnecting…", assets.IconOffline},
		{"connecting", func(m *Model) { m.Status.State = agent.StateConnecting }, "Connecting to relay.example.com…", assets.IconOffline},
		{"not registered", func(m *Model) { m.Status.State, m.Status.DeviceID = agent.StateConnecting, "" },
			"Not registered (registering with relay.example.com…)", assets.IconOffline},
		{"refused", func(m *Model) { m.Status.State = agent.StateUnauthorized }, "Not registered: relay.example.com refused this computer", assets.IconError},
		{"stopped", func(m *Model) { m.Status.State = agent.StateStopped }, "Stopped", assets.IconError},
		{"paused wins", func(m *Model) { m.Status.Paused = true }, "Connected to relay.example.com", assets.IconPaused},
		{"zero model", func(m *Model) { *m = Model{} }, "Not registered (registering with …)", assets.IconOffline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := model(tc.edit)
			if got := StatusLine(m); got != tc.line {
				t.Errorf("status line %q, want %q", got, tc.line)
			}
			if got := IconState(m); got != tc.icon {
				t.Errorf("icon %q, want %q", got, tc.icon)
			}
			if tip := Tooltip(m); !strings.HasPrefix(tip, "Tether: "+tc.line) || strings.Contains(tip, "paused") != m.Status.Paused {
				t.Errorf("tooltip %q", tip)
			}
			if it, _ := find(Items(m), IDStatus); it.Title != tc.line || !it.Disabled {
				t.Errorf("status item %+v", it)
			}
		})
	}
}

func TestItems(t *testing.T) {
	code := &agent.PairingCode{Code: "ABCD-2345", URL: "https://relay.example.com/pair?code=ABCD-2345", ExpiresAt: now.Add(10 * time.Minute)}
	for _, tc := range []struct {
		name  string
		edit  func(*Model)
		check func(t *testing.T, items []Item)
	}{
		{"every item in order", nil, func(t *testing.T, items []Item) {
			var ids []string
			for _, it := range items {
				ids = append(ids, it.ID)
			}
			want := "status error sep1 pair code paired unpair_all sep2 pause mouse window_title commands sep3 open_page activity received_files autostart quit"
			if strings.Join(ids, " ") != want {
				t.Errorf("ids %q", strings.Join(ids, " "))
			}
		}},
		{"commands are checkboxes", nil, func(t *testing.T, items []Item) {
			cmds, _ := find(items, IDCommands)
			if len(cmds.Children) != 3 {
				t.Fatalf("children %+v", cmds.Children)
			}
			for i, want := range []struct {
				title string
				on    bool
			}{{"Beep", true}, {"Show notifications", false}, {"Take screenshots", false}} {
				c := cmds.Children[i]
				if c.Title != want.title || c.Checked != want.on || !c.Checkable || c.ID != CommandPrefix+model(nil).Commands[i].Name {
					t.Errorf("child %d: %+v", i, c)
				}
			}
		}},
		{"custom commands are marked", func(m *Model) {
			m.Commands = append(m.Commands, Command{Name: "backup", On: true, Custom: true})
		}, func(t *testing.T, items []Item) {
			cmds, _ := find(items, IDCommands)
			c := cmds.Children[len(cmds.Children)-1]
			if c.ID != CommandPrefix+"backup" || c.Title != "backup (custom)" || !c.Checked || !strings.Contains(c.Tooltip, "custom-commands.json") {
				t.Errorf("custom item %+v", c)
			}
		}},
		{"paired count and unpair", nil, func(t *testing.T, items []Item) {
			if it, _ := find(items, IDPaired); it.Title != "Paired browsers: 2" {
				t.Errorf("%+v", it)
			}
			if it, _ := find(items, IDUnpairAll); it.Disabled {
				t.Errorf("unpair all disabled with 2 paired")
			}
		}},
		{"paired browsers each with Unpair", func(m *Model) {
			seen := now.Add(-time.Hour)
			m.Browsers = []agent.PairedBrowser{
				{ID: "p_1", Name: "Chrome on Android", Address: "203.0.113.9", PairedAt: now.AddDate(0, 0, -3), LastSeen: &seen},
				{ID: "p_2", Name: "curl", PairedAt: now.Add(-time.Minute)},
			}
		}, func(t *testing.T, items []Item) {
			paired, _ := find(items, IDPaired)
			if paired.Disabled || len(paired.Children) != 2 {
				t.Fatalf("paired submenu %+v", paired)
			}
			b := paired.Children[0]
			wantTitle := "Chrome on Android (seen at " + now.Add(-time.Hour).Format("15:04") + ")"
			if b.ID != BrowserPrefix+"p_1" || b.Title != wantTitle || len(b.Children) != 2 {
				t.Fatalf("browser item %+v, want title %q", b, wantTitle)
			}
			info, unpair := b.Children[0], b.Children[1]
			if !info.Disabled || info.Title != "Paired on "+now.AddDate(0, 0, -3).Format("2 Jan 2006")+" from 203.0.113.9" {
				t.Errorf("info line %+v", info)
			}
			if unpair.ID != UnpairPrefix+"p_1" || unpair.Title != TitleUnpair || unpair.Disabled {
				t.Errorf("unpair item %+v", unpair)
			}
			if c := paired.Children[1]; c.Title != "curl (never seen since pairing)" {
				t.Errorf("second browser %+v", c)
			}
		}},
		{"browsers unknown: count only", nil, func(t *testing.T, items []Item) {
			if it, _ := find(items, IDPaired); !it.Disabled || len(it.Children) != 0 || it.Title != "Paired browsers: 2" {
				t.Errorf("%+v", it)
			}
		}},
		{"recent activity", nil, func(t *testing.T, items []Item) {
			if it, _ := find(items, IDActivity); it.Title != TitleActivity || it.Disabled || it.Hidden {
				t.Errorf("%+v", it)
			}
		}},
		{"received files", nil, func(t *testing.T, items []Item) {
			if it, _ := find(items, IDReceived); it.Title != TitleReceived || it.Disabled || it.Hidden {
				t.Errorf("%+v", it)
			}
		}},
		{"nobody paired", func(m *Model) { m.Paired = 0 }, func(t *testing.T, items []Item) {
			if it, _ := find(items, IDUnpairAll); !it.Disabled {
				t.Errorf("unpair all enabled with nobody paired")
			}
		}},
		{"count unknown", func(m *Model) { m.Paired = -1 }, func(t *testing.T, items []Item) {
			if it, _ := find(items, IDPaired); it.Title != "Paired browsers: …" {
				t.Errorf("%+v", it)
			}
		}},
		{"no code: hidden", nil, func(t *testing.T, items []Item) {
			if it, _ := find(items, IDCode); !it.Hidden {
				t.Errorf("%+v", it)
			}
		}},
		{"live code shown", func(m *Model) { m.Code = code }, func(t *testing.T, items []Item) {
			it, _ := find(items, IDCode)
			want := "Code: ABCD-2345 (until " + code.ExpiresAt.Local().Format("15:04") + ")"
			if it.Hidden || it.Title != want || !strings.Contains(it.Tooltip, code.URL) {
				t.Errorf("%+v", it)
			}
		}},
		{"expired code hidden", func(m *Model) { m.Code = code; m.Now = code.ExpiresAt }, func(t *testing.T, items []Item) {
			if it, _ := find(items, IDCode); !it.Hidden {
				t.Errorf("%+v", it)
			}
		}},
		{"unregistered: no pairing", func(m *Model) { m.Status.DeviceID = "" }, func(t *testing.T, items []Item) {
			if it, _ := find(items, IDPair); !it.Disabled {
				t.Errorf("%+v", it)
			}
		}},
		{"busy", func(m *Model) { m.Busy = "getting a pairing code…" }, func(t *testing.T, items []Item) {
			pair, _ := find(items, IDPair)
			st, _ := find(items, IDStatus)
			if !pair.Disabled || !strings.HasSuffix(st.Title, " · getting a pairing code…") {
				t.Errorf("%+v %+v", pair, st)
			}
		}},
		{"error shown", func(m *Model) { m.Err = "Pair a browser: relay answered 503" }, func(t *testing.T, items []Item) {
			if it, _ := find(items, IDError); it.Hidden || it.Title != "Pair a browser: relay answered 503" {
				t.Errorf("%+v", it)
			}
		}},
		{"pause and mouse ticks", func(m *Model) { m.Status.Paused, m.Status.Mouse = true, true }, func(t *testing.T, items []Item) {
			p, _ := find(items, IDPause)
			mo, _ := find(items, IDMouse)
			if !p.Checked || !mo.Checked || !p.Checkable || !mo.Checkable {
				t.Errorf("%+v %+v", p, mo)
			}
			if w, _ := find(items, IDWindow); w.Checked || !w.Checkable {
				t.Errorf("window title shared by default: %+v", w)
			}
		}},
		{"window title ticks", func(m *Model) { m.Status.WindowTitle = true }, func(t *testing.T, items []Item) {
			if w, _ := find(items, IDWindow); !w.Checked || w.Title != TitleWindow {
				t.Errorf("%+v", w)
			}
		}},
		{"autostart", func(m *Model) { m.Autostart = true }, func(t *testing.T, items []Item) {
			if it, _ := find(items, IDAutostart); !it.Checked || it.Hidden {
				t.Errorf("%+v", it)
			}
		}},
		{"autostart unavailable", func(m *Model) { m.AutostartAvailable = false }, func(t *testing.T, items []Item) {
			if it, _ := find(items, IDAutostart); !it.Hidden {
				t.Errorf("%+v", it)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, Items(model(tc.edit))) })
	}
}

func TestItemsKeepTheirShape(t *testing.T) {
	// A binding creates items once: every model must give the same ids.
	shape := func(items []Item) string {
		var b strings.Builder
		var walk func([]Item)
		walk = func(its []Item) {
			for _, it := range its {
				b.WriteString(it.ID + "(")
				walk(it.Children)
				b.WriteString(")")
			}
		}
		walk(items)
		return b.String()
	}
	base := shape(Items(model(nil)))
	for _, e := range []func(*Model){
		func(m *Model) { m.Status.State = agent.StateOffline },
		func(m *Model) { m.Code = &agent.PairingCode{Code: "X", ExpiresAt: now.Add(time.Minute)} },
		func(m *Model) { m.Err, m.Busy, m.Paired = "x", "y", -1 },
	} {
		if got := shape(Items(model(e))); got != base {
			t.Errorf("shape changed:\n%s\n%s", got, base)
		}
	}
}
