package tray

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tether-desktop/tether/agent"
)

// Agent is what the tray needs from a running agent; *agent.Agent has it.
type Agent interface {
	Status() agent.Status
	CommandNames() []string
	ConfigDir() string
	HTTPClient() *http.Client
	ApplySettings(agent.Settings) error
}

// Autostart installs or removes the start at login; the installer package
// provides one. Its methods may block briefly (they run the service manager).
type Autostart interface {
	Installed() (bool, error)
	Install() error
	Uninstall() error
}

// Config configures a Controller. Agent is required.
type Config struct {
	Agent Agent
	// OpenURL opens a link in the default browser. Default OpenBrowser.
	// Tests replace it.
	OpenURL func(url string) error
	// Autostart drives "Start at login"; nil hides the item.
	Autostart Autostart
	// Quit is called when "Quit" is clicked. Default: nothing.
	Quit func()
	// Logger receives what goes wrong. Default: discard.
	Logger *slog.Logger
	// Poll is how often the agent's status is read. Default 500 ms.
	Poll time.Duration
	// InfoEvery is how often the paired-browser count is fetched. Default 30 s.
	InfoEvery time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// codeInfoEvery is how often the paired-browser count is fetched while a
// pairing code is shown.
const codeInfoEvery = 5 * time.Second

// Controller keeps a Model of the agent and carries out menu clicks. Create
// it with NewController and start Run; Click and Model are safe from any
// goroutine.
type Controller struct {
	cfg    Config
	clicks chan string
	events chan func(*Model) // results of background work, applied by Run

	mu sync.Mutex
	m  Model
}

// NewController checks cfg and fills in its defaults.
func NewController(cfg Config) (*Controller, error) {
	if cfg.Agent == nil {
		return nil, errors.New("tray: Config.Agent is required")
	}
	if cfg.OpenURL == nil {
		cfg.OpenURL = OpenBrowser
	}
	if cfg.Quit == nil {
		cfg.Quit = func() {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.InfoEvery <= 0 {
		cfg.InfoEvery = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Controller{cfg: cfg, clicks: make(chan string, 16), events: make(chan func(*Model), 16)}
	c.m = Model{Paired: -1, AutostartAvailable: cfg.Autostart != nil}
	c.refreshStatus(&c.m)
	return c, nil
}

// Model returns the current model. Safe concurrently.
func (c *Controller) Model() Model {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.m
	m.Commands = slices.Clone(m.Commands)
	return m
}

// Click queues a click on the item with id; Run carries it out. It never
// blocks: a click beyond 16 waiting ones is dropped.
func (c *Controller) Click(id string) {
	select {
	case c.clicks <- id:
	default:
		c.cfg.Logger.Warn("tray: too many clicks waiting; dropped one", "item", id)
	}
}

// refreshStatus copies the agent's status into m.
func (c *Controller) refreshStatus(m *Model) {
	st := c.cfg.Agent.Status()
	m.Status = st
	m.Now = c.cfg.Now()
	m.Commands = m.Commands[:0:0]
	for _, n := range c.cfg.Agent.CommandNames() {
		m.Commands = append(m.Commands, Command{Name: n, On: slices.Contains(st.Allowed, n)})
	}
	if m.Code != nil && !m.Now.Before(m.Code.ExpiresAt) {
		m.Code = nil
	}
}

// Run keeps the model fresh and carries out clicks until ctx ends, calling
// render (from this goroutine only) whenever the model changed, and once at
// the start. It blocks; every goroutine it starts has ended when it returns.
func (c *Controller) Run(ctx context.Context, render func(Model)) {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// bg runs slow work (network, service manager) off this loop; its
	// result comes back as an edit of the model.
	bg := func(f func(context.Context) func(*Model)) {
		wg.Go(func() {
			edit := f(ctx)
			select {
			case c.events <- edit:
			case <-ctx.Done():
			}
		})
	}
	infoBusy := false
	var lastInfo time.Time
	fetchInfo := func() {
		if infoBusy || c.Model().Status.DeviceID == "" {
			return
		}
		infoBusy, lastInfo = true, time.Now()
		bg(func(ctx context.Context) func(*Model) {
			n, err := c.pairedBrowsers(ctx)
			return func(m *Model) {
				infoBusy = false
				if err != nil {
					c.cfg.Logger.Debug("tray: paired browsers", "err", err)
					return
				}
				m.Paired = n
			}
		})
	}
	if c.cfg.Autostart != nil {
		bg(func(context.Context) func(*Model) {
			on, err := c.cfg.Autostart.Installed()
			return func(m *Model) {
				if err != nil {
					c.cfg.Logger.Warn("tray: cannot tell whether Tether starts at login", "err", err)
				}
				m.Autostart = on
			}
		})
	}

	poll := time.NewTicker(c.cfg.Poll)
	defer poll.Stop()
	info := time.NewTicker(c.cfg.InfoEvery)
	defer info.Stop()

	var shown []Item
	var shownIcon, shownTip string
	first := true
	publish := func() {
		m := c.Model()
		items, icon, tip := Items(m), IconState(m), Tooltip(m)
		if first || !reflect.DeepEqual(items, shown) || icon != shownIcon || tip != shownTip {
			first = false
			shown, shownIcon, shownTip = items, icon, tip
			render(m)
		}
	}
	edit := func(f func(*Model)) {
		c.mu.Lock()
		f(&c.m)
		c.mu.Unlock()
	}
	fetchInfo()
	publish()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			var before agent.Status
			edit(func(m *Model) { before = m.Status; c.refreshStatus(m) })
			after := c.Model().Status
			if after.Watchers != before.Watchers || (after.State == agent.StateConnected) != (before.State == agent.StateConnected) ||
				after.DeviceID != before.DeviceID {
				fetchInfo()
			} else if c.Model().Code != nil && time.Since(lastInfo) > codeInfoEvery {
				fetchInfo() // a browser may redeem the code without watching
			}
		case <-info.C:
			fetchInfo()
		case f := <-c.events:
			edit(f)
		case id := <-c.clicks:
			c.click(ctx, id, edit, bg, fetchInfo)
		}
		publish()
	}
}

// click carries out one click. Quick edits happen here; slow work goes to bg.
func (c *Controller) click(ctx context.Context, id string, edit func(func(*Model)), bg func(func(context.Context) func(*Model)), fetchInfo func()) {
	m := c.Model()
	edit(func(m *Model) { m.Err = "" })
	fail := func(what string, err error) func(*Model) {
		c.cfg.Logger.Warn("tray: "+what, "err", err)
		return func(m *Model) { m.Busy = ""; m.Err = what + ": " + err.Error() }
	}
	switch {
	case id == IDPair:
		if m.Busy != "" {
			return
		}
		edit(func(m *Model) { m.Busy = "getting a pairing code…" })
		bg(func(ctx context.Context) func(*Model) {
			creds, err := agent.LoadCredentials(c.cfg.Agent.ConfigDir())
			if err != nil {
				return fail("Pair a browser", errors.New("this computer is not registered with the relay yet"))
			}
			p, err := agent.RequestPairingCode(ctx, c.cfg.Agent.HTTPClient(), creds)
			if err != nil {
				return fail("Pair a browser", err)
			}
			if err := c.cfg.OpenURL(p.URL); err != nil {
				c.cfg.Logger.Warn("tray: cannot open the browser", "url", p.URL, "err", err)
			}
			return func(m *Model) { m.Busy = ""; m.Code = &p }
		})
	case id == IDCode:
		if m.Code != nil {
			url := m.Code.URL
			bg(func(context.Context) func(*Model) {
				if err := c.cfg.OpenURL(url); err != nil {
					return fail("Open the pairing page", err)
				}
				return func(*Model) {}
			})
		}
	case id == IDUnpairAll:
		if m.Busy != "" {
			return
		}
		edit(func(m *Model) { m.Busy = "unpairing…" })
		bg(func(ctx context.Context) func(*Model) {
			creds, err := agent.LoadCredentials(c.cfg.Agent.ConfigDir())
			if err == nil {
				err = agent.UnpairAll(ctx, c.cfg.Agent.HTTPClient(), creds)
			}
			if err != nil {
				return fail("Unpair all", err)
			}
			return func(m *Model) { m.Busy = ""; m.Paired = 0; m.Code = nil }
		})
	case id == IDPause, id == IDMouse, strings.HasPrefix(id, CommandPrefix):
		if err := c.toggleSetting(id); err != nil {
			edit(fail("Change the settings", err))
			return
		}
		edit(c.refreshStatus)
	case id == IDOpenPage:
		relay := m.Status.Relay
		bg(func(context.Context) func(*Model) {
			if err := c.cfg.OpenURL(relay); err != nil {
				return fail("Open the control page", err)
			}
			return func(*Model) {}
		})
	case id == IDAutostart && c.cfg.Autostart != nil:
		want := !m.Autostart
		bg(func(context.Context) func(*Model) {
			var err error
			if want {
				err = c.cfg.Autostart.Install()
			} else {
				err = c.cfg.Autostart.Uninstall()
			}
			on, ierr := c.cfg.Autostart.Installed()
			if err == nil {
				err = ierr
			}
			return func(m *Model) {
				m.Autostart = on
				if err != nil {
					fail("Start at login", err)(m)
				}
			}
		})
	case id == IDQuit:
		c.cfg.Quit()
	}
}

// toggleSetting flips the setting behind a checkbox in config.json and has
// the agent apply it at once.
func (c *Controller) toggleSetting(id string) error {
	s, err := agent.LoadSettings(c.cfg.Agent.ConfigDir())
	if err != nil {
		return err
	}
	st := c.cfg.Agent.Status()
	switch {
	case id == IDPause:
		s.Paused = !st.Paused
	case id == IDMouse:
		s.Mouse = !st.Mouse
	default:
		name := strings.TrimPrefix(id, CommandPrefix)
		if !slices.Contains(c.cfg.Agent.CommandNames(), name) {
			return errors.New("unknown command " + name)
		}
		s.Set(name, !slices.Contains(st.Allowed, name))
	}
	return c.cfg.Agent.ApplySettings(s)
}

func (c *Controller) pairedBrowsers(ctx context.Context) (int, error) {
	creds, err := agent.LoadCredentials(c.cfg.Agent.ConfigDir())
	if err != nil {
		return 0, err
	}
	d, err := agent.FetchDeviceInfo(ctx, c.cfg.Agent.HTTPClient(), creds)
	if err != nil {
		return 0, err
	}
	return d.PairedBrowsers, nil
}
