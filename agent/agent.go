// Package agent is Tether's desktop agent without its user interface: it
// registers the device with a relay, keeps one outgoing WebSocket to it alive
// (reconnecting with backoff, noticing dead links and sleep), announces what
// the owner allows, streams telemetry while somebody watches, and runs the
// commands it receives through a whitelisting dispatcher, answering each one
// exactly once.
//
// The package has no cgo: the desktop (sound, notifications, screen,
// pointer) arrives through interfaces in Config: commands.Desktop (and
// commands.Controller) for commands, MouseWatcher for mouse events,
// ScreenReporter for the screen size in hello. Mouse events are shared only
// while somebody watches the device and the owner switched sharing on.
//
// Files in the config directory (credentials.json, config.json, status.json)
// are created owner-only and replaced atomically; the helpers that read and
// write them, and the relay's HTTP API (Register, RequestPairingCode,
// UnpairAll), are exported so that the command line can use them without a
// running agent.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tether-desktop/tether/agent/backoff"
	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/agent/telemetry"
	"github.com/tether-desktop/tether/protocol"
)

// Sampler takes one telemetry sample; it must not sleep. *telemetry.Sampler
// implements it.
type Sampler interface {
	Sample(ctx context.Context) (protocol.Telemetry, error)
}

// MouseWatcher reports the pointer's activity for the mouse events the owner
// may share. *desktop.Desktop implements it.
type MouseWatcher interface {
	// WatchMouse calls emit for every move, button press and wheel turn of
	// the pointer (starting with its current position) until ctx ends, and
	// then returns nil; it returns an error at once when it cannot watch
	// (no display). emit is safe to call from any goroutine and never blocks.
	WatchMouse(ctx context.Context, emit func(protocol.MouseEvent)) error
}

// ScreenReporter tells the size of the desktop for hello. *desktop.Desktop
// implements it.
type ScreenReporter interface {
	// Screen returns the desktop's size, or nil when there is no display.
	// It must be cheap: hello is rebuilt every SettingsPoll.
	Screen() *protocol.Screen
}

// Config configures an Agent. Only ConfigDir and one of Desktop or Commands
// are required; every other zero value means the default written beside it.
// Defaults are filled in by New, in one place (Config.complete).
type Config struct {
	// RelayURL is the relay's base URL (http:// or https://). Default: the
	// relay in config.json, else the one in credentials.json, else
	// DefaultRelay.
	RelayURL string
	// ConfigDir holds credentials.json, config.json and status.json. It is
	// created with mode 0700 if missing. Required.
	ConfigDir string
	// Name is the device's display name. Default: the name in config.json,
	// else the host name.
	Name string
	// EnrollToken is sent when registering, if the relay demands one.
	EnrollToken string
	// Version is announced in hello. Default "dev".
	Version string
	// Logger receives the agent's log. Default: discard.
	Logger *slog.Logger

	// HTTPClient makes the HTTP API calls. Default http.DefaultClient, which
	// honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY.
	HTTPClient *http.Client
	// Dialer opens the WebSocket. Default: proxy from the environment and a
	// 15 s handshake timeout.
	Dialer *websocket.Dialer

	// Desktop carries out beep and notify and says which commands cannot
	// run here (hello's "unavailable").
	Desktop commands.Desktop
	// Commands replaces the built-in command set (commands.Builtin(Desktop)).
	// The agent wraps them in a dispatcher that checks config.json.
	Commands []commands.Command
	// Sampler takes telemetry. Default telemetry.NewSampler().
	Sampler Sampler
	// Mouse watches the pointer while somebody watches the device and the
	// owner shares mouse activity. Default: Desktop, if it is a
	// MouseWatcher; nil shares nothing.
	Mouse MouseWatcher
	// Screen tells the desktop's size for hello. Default: Desktop, if it is
	// a ScreenReporter; nil announces no screen.
	Screen ScreenReporter

	// Clock drives the reconnect backoff. Default backoff.Real; tests pass a
	// *backoff.FakeClock.
	Clock backoff.Clock
	// Rand returns numbers in [0,1) for jitter. Default math/rand/v2.Float64.
	Rand func() float64
	// Heartbeat is the interval of the agent's own WebSocket pings. Default 25 s.
	Heartbeat time.Duration
	// DeadAfter is how long the link may stay silent (no frame, no pong)
	// before it is dropped. Default 60 s; raised to 2×Heartbeat if smaller.
	DeadAfter time.Duration
	// TelemetryEvery is the telemetry interval while watched. Default 1 s.
	TelemetryEvery time.Duration
	// SettingsPoll is how often config.json is re-read. Default 2 s.
	SettingsPoll time.Duration
	// MaxConcurrent bounds the commands running at once; beyond it a
	// command is answered rate_limited. Default 8.
	MaxConcurrent int
}

// Timings that need no configuration.
const (
	handshakeTimeout = 15 * time.Second
	writeWait        = 15 * time.Second      // deadline of one write
	probeWait        = 10 * time.Second      // deadline of the pong after a wake from sleep
	sleepCheck       = 5 * time.Second       // how often the clocks are compared
	sleepJump        = 10 * time.Second      // wall clock ahead of monotonic by this much → slept
	restartWait      = 5 * time.Second       // the first retry after 1012 lies in [0, restartWait)
	statusRefresh    = time.Minute           // status.json is rewritten at least this often
	stableAfter      = 60 * time.Second      // the backoff resets after a link up this long
	unauthorizedWait = 30 * time.Millisecond // pause before registering again after a 401
	moveEvery        = 50 * time.Millisecond // mouse_move events: at most 20 a second
	mouseRetry       = 30 * time.Second      // after the pointer could not be watched
	eventQueueSoft   = 256                   // queued events past which the oldest moves are dropped
)

func (c *Config) complete() error {
	if c.ConfigDir == "" {
		return errors.New("agent: Config.ConfigDir is required")
	}
	if c.Desktop == nil && c.Commands == nil {
		return errors.New("agent: Config needs a Desktop or Commands")
	}
	c.RelayURL = ResolveRelay(c.ConfigDir, c.RelayURL)
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	if c.Dialer == nil {
		c.Dialer = &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: handshakeTimeout}
	}
	if c.Commands == nil {
		c.Commands = commands.Builtin(c.Desktop)
	}
	if c.Sampler == nil {
		c.Sampler = telemetry.NewSampler()
	}
	if m, ok := c.Desktop.(MouseWatcher); ok && c.Mouse == nil {
		c.Mouse = m
	}
	if s, ok := c.Desktop.(ScreenReporter); ok && c.Screen == nil {
		c.Screen = s
	}
	if c.Clock == nil {
		c.Clock = backoff.Real
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 25 * time.Second
	}
	if c.DeadAfter <= 0 {
		c.DeadAfter = 60 * time.Second
	}
	if c.DeadAfter < 2*c.Heartbeat {
		c.DeadAfter = 2 * c.Heartbeat
	}
	if c.TelemetryEvery <= 0 {
		c.TelemetryEvery = time.Second
	}
	if c.SettingsPoll <= 0 {
		c.SettingsPoll = 2 * time.Second
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 8
	}
	return nil
}

// Agent is one running desktop agent. Create it with New, start it with Run;
// Status is safe to call from any goroutine at any time.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	disp     *commands.Dispatcher
	hostname string
	sem      chan struct{} // running commands
	changed  chan struct{} // cap 1: settings changed, re-send hello

	// test hooks
	wallNow    func() time.Time // the wall clock without its monotonic reading
	sleepEvery time.Duration
	probeWait  time.Duration
	moveEvery  time.Duration // least time between two mouse_move events
	mouseRetry time.Duration // wait before watching the pointer again after a failure

	running atomic.Bool

	mu       sync.Mutex
	settings Settings
	status   Status
	seq      uint64 // status version

	fileMu  sync.Mutex
	written uint64 // status version in status.json
	fileErr bool   // a status.json write failed (logged once)
}

// New checks cfg, fills in its defaults and reads config.json. It does not
// touch the network.
func New(cfg Config) (*Agent, error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	if err := privateConfigDir(cfg.ConfigDir, cfg.Logger); err != nil {
		return nil, fmt.Errorf("agent: create config dir: %w", err)
	}
	s, err := LoadSettings(cfg.ConfigDir)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	host, _ := os.Hostname()
	a := &Agent{
		cfg:        cfg,
		log:        cfg.Logger,
		hostname:   host,
		sem:        make(chan struct{}, cfg.MaxConcurrent),
		changed:    make(chan struct{}, 1),
		wallNow:    func() time.Time { return time.Now().Round(0) },
		sleepEvery: sleepCheck,
		probeWait:  probeWait,
		moveEvery:  moveEvery,
		mouseRetry: mouseRetry,
		settings:   s,
	}
	a.disp = commands.NewDispatcher(cfg.Commands, a.allowed, a.paused)
	a.status = Status{State: StateConnecting, Since: time.Now(), Relay: cfg.RelayURL, PID: os.Getpid()}
	if c, err := LoadCredentials(cfg.ConfigDir); err == nil && c.Valid(cfg.RelayURL) {
		a.status.DeviceID = c.DeviceID
	}
	a.fillSettingsStatus(&a.status)
	return a, nil
}

// allowed reports whether the owner switched command name on. Safe
// concurrently; called by the dispatcher.
func (a *Agent) allowed(name string) bool {
	a.mu.Lock()
	s := a.settings
	a.mu.Unlock()
	return s.Allowed(name, a.disp.DefaultOn(name))
}

func (a *Agent) paused() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.settings.Paused
}

// name returns the display name: Config.Name, config.json's name, the host name.
func (a *Agent) name() string {
	if a.cfg.Name != "" {
		return a.cfg.Name
	}
	a.mu.Lock()
	n := a.settings.Name
	a.mu.Unlock()
	if n != "" {
		return n
	}
	if a.hostname != "" {
		return a.hostname
	}
	return "desktop"
}

// Status returns a snapshot of the agent's state. Safe concurrently; it does
// not block on the network.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.status
	s.Allowed = slices.Clone(s.Allowed)
	s.Unavailable = maps.Clone(s.Unavailable)
	return s
}

// mouseShared reports whether the owner shares mouse activity. Safe concurrently.
func (a *Agent) mouseShared() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.settings.Mouse
}

// update changes the status under the lock and writes status.json. Writes
// happen in order: an older snapshot never overwrites a newer one.
func (a *Agent) update(f func(*Status)) {
	a.mu.Lock()
	old := a.status.State
	f(&a.status)
	now := time.Now()
	if a.status.State != old {
		a.status.Since = now
	}
	a.status.Updated = now
	a.seq++
	seq, snap := a.seq, a.status
	snap.Allowed = slices.Clone(snap.Allowed)
	a.mu.Unlock()

	a.fileMu.Lock()
	defer a.fileMu.Unlock()
	if seq <= a.written {
		return
	}
	a.written = seq
	if err := writeStatus(a.cfg.ConfigDir, snap); err != nil {
		if !a.fileErr {
			a.log.Warn("cannot write status file", "err", err)
		}
		a.fileErr = true
	} else {
		a.fileErr = false
	}
}

// fillSettingsStatus copies what the settings decide into s. Caller holds a.mu
// or owns s.
func (a *Agent) fillSettingsStatus(s *Status) {
	set := a.settings
	on := map[string]bool{}
	for _, n := range a.disp.Names() {
		on[n] = set.Allowed(n, a.disp.DefaultOn(n))
	}
	s.Allowed = sortedTrue(on)
	s.Paused = set.Paused
	s.Mouse = set.Mouse
	s.Name = set.Name
	if a.cfg.Name != "" {
		s.Name = a.cfg.Name
	} else if s.Name == "" {
		s.Name = a.hostname
	}
}

// hello describes the device as it is now.
func (a *Agent) hello() protocol.Hello {
	specs := a.disp.Specs()
	if specs == nil {
		specs = []protocol.CommandSpec{}
	}
	h := protocol.Hello{
		Name:     a.name(),
		OS:       runtime.GOOS,
		Arch:     runtime.GOARCH,
		Hostname: a.hostname,
		Version:  a.cfg.Version,
		Commands: specs,
		Paused:   a.paused(),
	}
	if u := a.disp.Unavailable(); len(u) > 0 {
		h.Unavailable = u
	}
	if a.cfg.Screen != nil {
		h.Screen = a.cfg.Screen.Screen()
	}
	return h
}

// reloadSettings re-reads config.json and reports whether it changed. A file
// that cannot be read or parsed keeps the previous settings (and is logged).
func (a *Agent) reloadSettings() bool {
	s, err := LoadSettings(a.cfg.ConfigDir)
	if err != nil {
		a.log.Warn("cannot read settings; keeping the previous ones", "err", err)
		return false
	}
	a.mu.Lock()
	same := reflect.DeepEqual(normalized(s), normalized(a.settings))
	a.settings = s
	a.mu.Unlock()
	return !same
}

func normalized(s Settings) Settings {
	if len(s.Commands) == 0 {
		s.Commands = nil
	}
	return s
}

// watchSettings polls config.json until ctx ends, and keeps status.json
// fresh. Owned by Run.
func (a *Agent) watchSettings(ctx context.Context) {
	poll := time.NewTicker(a.cfg.SettingsPoll)
	defer poll.Stop()
	refresh := time.NewTicker(statusRefresh)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			if !a.reloadSettings() {
				continue
			}
			a.log.Info("settings changed", "allowed", a.Status().Allowed)
			a.update(func(s *Status) { a.fillSettingsStatus(s) })
			select {
			case a.changed <- struct{}{}:
			default:
			}
		case <-refresh.C:
			a.update(func(*Status) {})
		}
	}
}

// Run connects to the relay and keeps the device online until ctx ends. It
// blocks; it returns nil when ctx is cancelled, and an error only if it cannot
// start (Run called twice at once). Every goroutine it starts has ended when
// it returns.
func (a *Agent) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("agent: Run is already running")
	}
	defer a.running.Store(false)

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup // settings watcher and running commands
	defer func() {
		cancel()
		wg.Wait()
		a.disp.Wait() // handlers that outlived their timeout
		a.update(func(s *Status) {
			s.State = StateStopped
			s.Watchers = 0
			s.NextRetry = time.Time{}
		})
	}()
	wg.Go(func() { a.watchSettings(ctx) })

	bo := backoff.New(backoff.Policy{
		Base: time.Second, Max: 60 * time.Second, StableAfter: stableAfter,
		Rand: a.cfg.Rand, Clock: a.cfg.Clock,
	})
	a.log.Info("agent starting", "relay", a.cfg.RelayURL, "name", a.name(), "version", a.cfg.Version)
	unauthorized := 0 // 401s in a row on /ws/agent
	for {
		a.update(func(s *Status) { s.State = StateConnecting; s.NextRetry = time.Time{} })
		err := a.session(ctx, bo, &wg)
		if ctx.Err() != nil {
			return nil
		}
		var delay time.Duration
		var ce *websocket.CloseError
		switch {
		case errors.Is(err, errTokenRefused):
			unauthorized++
			if err := RemoveCredentials(a.cfg.ConfigDir); err != nil {
				a.log.Error("cannot forget refused credentials", "err", err)
			}
			a.log.Warn("the relay no longer knows this device; registering again")
			if unauthorized > 1 {
				delay = bo.Next()
			} else {
				delay = unauthorizedWait
			}
		case errors.As(err, &ce) && ce.Code == websocket.CloseServiceRestart:
			unauthorized = 0
			delay = time.Duration(a.cfg.Rand() * float64(restartWait))
			a.log.Info("relay is restarting", "retry_in", delay.Round(time.Millisecond))
		default:
			unauthorized = 0
			if errors.As(err, &ce) && ce.Code == closeReplaced {
				a.log.Warn("another agent with this device's identity connected to the relay")
			}
			delay = bo.Next()
			a.log.Info("disconnected from relay", "err", err, "retry_in", delay.Round(time.Millisecond))
		}
		state := StateOffline
		if IsUnauthorized(err) {
			state = StateUnauthorized
		}
		next := a.cfg.Clock.Now().Add(delay)
		a.update(func(s *Status) {
			s.State = state
			s.Watchers = 0
			s.LastError = errString(err)
			s.NextRetry = next
		})
		if bo.Wait(ctx, delay) != nil {
			return nil
		}
	}
}

// closeReplaced is the relay's close code for "a newer connection of the same
// device took over".
const closeReplaced = 4001

// errTokenRefused means /ws/agent answered 401: the device token is unknown.
var errTokenRefused = errors.New("relay refused the device token")

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
