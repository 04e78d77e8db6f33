package tray

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tether-desktop/tether/agent"
)

// Agent is what the tray may ask of the agent: its verbs, nothing below
// them (no files, no HTTP client). *agent.Agent has it. The methods taking
// a ctx block on the network; all are safe concurrently.
type Agent interface {
	Status() agent.Status
	CommandNames() []string
	UpdateSettings(func(*agent.Settings)) error
	PairingCode(ctx context.Context) (agent.PairingCode, error)
	UnpairAll(ctx context.Context) error
	DeviceInfo(ctx context.Context) (agent.DeviceInfo, error)
	PairedBrowsers(ctx context.Context) ([]agent.PairedBrowser, error)
	UnpairBrowser(ctx context.Context, id string) error
	ActivityPage() (string, error)
	ReceivedFolder() (string, error)
}

var _ Agent = (*agent.Agent)(nil)

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
	// InfoEvery is how often the paired browsers are fetched. Default 30 s.
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
	m.Browsers = slices.Clone(m.Browsers)
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
		m.Commands = append(m.Commands, Command{Name: n, On: slices.Contains(st.Allowed, n), Custom: slices.Contains(st.Custom, n)})
	}
	if m.Code != nil && !m.Now.Before(m.Code.ExpiresAt) {
		m.Code = nil
	}
}
