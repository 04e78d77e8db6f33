package tray

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tether-desktop/tether/agent"
)

// Run keeps the model fresh and carries out clicks until ctx ends, calling
// render (from this goroutine only) whenever the model changed, and once at
// the start. It blocks; every goroutine it starts has ended when it returns.
func (c *Controller) Run(ctx context.Context, render func(Model)) {
	ctx, cancel := context.WithCancel(ctx)
	l := &loop{c: c, ctx: ctx, render: render}
	defer l.wg.Wait()
	defer cancel()
	if c.cfg.Autostart != nil {
		l.bg(l.checkAutostart)
	}
	poll := time.NewTicker(c.cfg.Poll)
	defer poll.Stop()
	info := time.NewTicker(c.cfg.InfoEvery)
	defer info.Stop()
	l.fetchInfo()
	l.publish()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			l.poll()
		case <-info.C:
			l.fetchInfo()
		case f := <-c.events:
			l.edit(f)
		case id := <-c.clicks:
			l.click(id)
		}
		l.publish()
	}
}

// loop is one Run of a Controller: the context of its background work, the
// paired-browser fetch in flight and what was last rendered. Only Run's
// goroutine uses it.
type loop struct {
	c      *Controller
	ctx    context.Context
	wg     sync.WaitGroup // background work
	render func(Model)

	infoBusy bool      // a paired-browser fetch is on its way
	lastInfo time.Time // when the last one started

	rendered  bool // render was called at least once
	shown     []Item
	shownIcon string
	shownTip  string
}

// bg runs slow work (network, service manager) off the loop; its result
// comes back as an edit of the model, applied by Run.
func (l *loop) bg(f func(context.Context) func(*Model)) {
	l.wg.Go(func() {
		edit := f(l.ctx)
		select {
		case l.c.events <- edit:
		case <-l.ctx.Done():
		}
	})
}

// edit changes the model under its lock.
func (l *loop) edit(f func(*Model)) {
	l.c.mu.Lock()
	f(&l.c.m)
	l.c.mu.Unlock()
}

// publish renders the model if what it shows changed.
func (l *loop) publish() {
	m := l.c.Model()
	items, icon, tip := Items(m), IconState(m), Tooltip(m)
	if l.rendered && reflect.DeepEqual(items, l.shown) && icon == l.shownIcon && tip == l.shownTip {
		return
	}
	l.rendered = true
	l.shown, l.shownIcon, l.shownTip = items, icon, tip
	l.render(m)
}

// poll copies the agent's status into the model, and fetches the number of
// paired browsers again when it may have changed.
func (l *loop) poll() {
	var before agent.Status
	l.edit(func(m *Model) { before = m.Status; l.c.refreshStatus(m) })
	after := l.c.Model().Status
	connected := func(s agent.Status) bool { return s.State == agent.StateConnected }
	switch {
	case after.Watchers != before.Watchers, connected(after) != connected(before), after.DeviceID != before.DeviceID:
		l.fetchInfo()
	case l.c.Model().Code != nil && time.Since(l.lastInfo) > codeInfoEvery:
		l.fetchInfo() // a browser may redeem the code without watching
	}
}

// fetchInfo asks the agent for the paired browsers (or, from a relay that
// cannot list them, their number), unless a request is on its way or the
// device is not registered.
func (l *loop) fetchInfo() {
	if l.infoBusy || l.c.Model().Status.DeviceID == "" {
		return
	}
	l.infoBusy, l.lastInfo = true, time.Now()
	l.bg(func(ctx context.Context) func(*Model) {
		list, err := l.c.cfg.Agent.PairedBrowsers(ctx)
		if err == nil {
			return func(m *Model) { l.infoBusy = false; m.Browsers, m.Paired = list, len(list) }
		}
		l.c.cfg.Logger.Debug("tray: paired browsers", "err", err)
		d, err := l.c.cfg.Agent.DeviceInfo(ctx)
		return func(m *Model) {
			l.infoBusy = false
			m.Browsers = nil
			if err != nil {
				l.c.cfg.Logger.Debug("tray: paired browsers", "err", err)
				return
			}
			m.Paired = d.PairedBrowsers
		}
	})
}

// fail logs a failed action and returns the edit that shows it.
func (l *loop) fail(what string, err error) func(*Model) {
	l.c.cfg.Logger.Warn("tray: "+what, "err", err)
	return func(m *Model) { m.Busy = ""; m.Err = what + ": " + err.Error() }
}

// click carries out one click. Quick edits happen here; slow work goes to bg.
func (l *loop) click(id string) {
	m := l.c.Model()
	l.edit(func(m *Model) { m.Err = "" })
	switch {
	case id == IDPair && m.Busy == "":
		l.edit(func(m *Model) { m.Busy = "getting a pairing code…" })
		l.bg(l.pair)
	case id == IDCode && m.Code != nil:
		l.open(m.Code.URL, "Open the pairing page")
	case id == IDUnpairAll && m.Busy == "":
		l.edit(func(m *Model) { m.Busy = "unpairing…" })
		l.bg(l.unpairAll)
	case id == IDPause, id == IDMouse, id == IDWindow, strings.HasPrefix(id, CommandPrefix):
		if err := l.c.toggleSetting(id); err != nil {
			l.edit(l.fail("Change the settings", err))
			return
		}
		l.edit(l.c.refreshStatus)
	case strings.HasPrefix(id, UnpairPrefix) && m.Busy == "":
		l.edit(func(m *Model) { m.Busy = "unpairing…" })
		pid := strings.TrimPrefix(id, UnpairPrefix)
		l.bg(func(ctx context.Context) func(*Model) { return l.unpairOne(ctx, pid) })
	case id == IDOpenPage:
		l.open(m.Status.Relay, "Open the control page")
	case id == IDActivity: // the recent-activity page, written now
		l.bg(l.openLocal("Recent activity", l.c.cfg.Agent.ActivityPage))
	case id == IDReceived:
		l.bg(l.openLocal(TitleReceived, l.c.cfg.Agent.ReceivedFolder))
	case id == IDAutostart && l.c.cfg.Autostart != nil:
		want := !m.Autostart
		l.bg(func(context.Context) func(*Model) { return l.setAutostart(want) })
	case id == IDQuit:
		l.c.cfg.Quit()
	}
}

// pair gets a pairing code and opens its page. Runs in bg.
func (l *loop) pair(ctx context.Context) func(*Model) {
	p, err := l.c.cfg.Agent.PairingCode(ctx)
	if err != nil {
		return l.fail("Pair a browser", err)
	}
	if err := l.c.cfg.OpenURL(p.URL); err != nil {
		l.c.cfg.Logger.Warn("tray: cannot open the browser", "url", p.URL, "err", err)
	}
	return func(m *Model) { m.Busy = ""; m.Code = &p }
}

// unpairAll forgets every paired browser. Runs in bg.
func (l *loop) unpairAll(ctx context.Context) func(*Model) {
	if err := l.c.cfg.Agent.UnpairAll(ctx); err != nil {
		return l.fail("Unpair all", err)
	}
	return func(m *Model) { m.Busy = ""; m.Paired = 0; m.Browsers = nil; m.Code = nil }
}

// unpairOne forgets the paired browser whose pairing id is id. Runs in bg.
func (l *loop) unpairOne(ctx context.Context, id string) func(*Model) {
	if err := l.c.cfg.Agent.UnpairBrowser(ctx, id); err != nil {
		return l.fail("Unpair", err)
	}
	return func(m *Model) {
		m.Busy = ""
		m.Browsers = slices.DeleteFunc(slices.Clone(m.Browsers), func(b agent.PairedBrowser) bool { return b.ID == id })
		m.Paired = len(m.Browsers)
	}
}

// openLocal opens the local file or folder that locate names (writing or
// creating it) through its file:// URL: a page in the default browser, a
// folder in the file manager; what names the action if it fails. The
// function it returns runs in bg.
func (l *loop) openLocal(what string, locate func() (string, error)) func(context.Context) func(*Model) {
	return func(context.Context) func(*Model) {
		path, err := locate()
		if err != nil {
			return l.fail(what, err)
		}
		if err := l.c.cfg.OpenURL(FileURL(path)); err != nil {
			return l.fail(what, err)
		}
		return func(*Model) {}
	}
}

// open opens url in the browser in bg; what names the action if it fails.
func (l *loop) open(url, what string) {
	l.bg(func(context.Context) func(*Model) {
		if err := l.c.cfg.OpenURL(url); err != nil {
			return l.fail(what, err)
		}
		return func(*Model) {}
	})
}

// checkAutostart reads whether Tether starts at login. Runs in bg.
func (l *loop) checkAutostart(context.Context) func(*Model) {
	on, err := l.c.cfg.Autostart.Installed()
	return func(m *Model) {
		if err != nil {
			l.c.cfg.Logger.Warn("tray: cannot tell whether Tether starts at login", "err", err)
		}
		m.Autostart = on
	}
}

// setAutostart installs or removes the start at login. Runs in bg.
func (l *loop) setAutostart(want bool) func(*Model) {
	var err error
	if want {
		err = l.c.cfg.Autostart.Install()
	} else {
		err = l.c.cfg.Autostart.Uninstall()
	}
	on, ierr := l.c.cfg.Autostart.Installed()
	if err == nil {
		err = ierr
	}
	return func(m *Model) {
		m.Autostart = on
		if err != nil {
			l.fail("Start at login", err)(m)
		}
	}
}

// toggleSetting flips the setting behind a checkbox, from what the agent's
// status shows, and has the agent write and apply it at once.
func (c *Controller) toggleSetting(id string) error {
	st := c.cfg.Agent.Status()
	switch {
	case id == IDPause:
		return c.cfg.Agent.UpdateSettings(func(s *agent.Settings) { s.Paused = !st.Paused })
	case id == IDMouse:
		return c.cfg.Agent.UpdateSettings(func(s *agent.Settings) { s.Mouse = !st.Mouse })
	case id == IDWindow:
		return c.cfg.Agent.UpdateSettings(func(s *agent.Settings) { s.Set(IDWindow, !st.WindowTitle) })
	}
	name := strings.TrimPrefix(id, CommandPrefix)
	if !slices.Contains(c.cfg.Agent.CommandNames(), name) {
		return errors.New("unknown command " + name)
	}
	return c.cfg.Agent.UpdateSettings(func(s *agent.Settings) { s.Set(name, !slices.Contains(st.Allowed, name)) })
}
