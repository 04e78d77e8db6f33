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
// running agent. A running agent reads config.json through one watcher and
// writes status.json through one writer; a user interface (the tray) asks
// the agent's verbs (PairingCode, UnpairAll, DeviceInfo, UpdateSettings)
// and touches neither the files nor the relay itself.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tether-desktop/tether/agent/backoff"
	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/agent/telemetry"
)

// Agent is one running desktop agent. Create it with New, start it with Run;
// Status and the verbs (PairingCode, UnpairAll, DeviceInfo, UpdateSettings,
// …) are safe to call from any goroutine at any time.
//
// Its parts, each in its own file: the state (settings, hello, status, with
// a change broadcast), the settings watcher (config.json), the status writer
// (status.json), the dialer and the link (one connection to the relay), and
// the runner (commands through the dispatcher).
type Agent struct {
	cfg    Config
	log    *slog.Logger
	state  *state
	desc   *describer
	watch  *settingsWatcher
	runner *runner
	dial   *dialer

	// test hooks, copied into each link
	wallNow    func() time.Time // the wall clock without its monotonic reading
	sleepEvery time.Duration    // how often the clocks are compared when the kernel does not tell of a wake
	clockWatch bool             // ask the kernel to tell of a wake from sleep (watchClock)
	kernelWake atomic.Bool      // it does, for the running Run: no periodic comparison
	probeWait  time.Duration
	moveEvery  time.Duration                    // least time between two mouse_move events
	mouseRetry time.Duration                    // wait before watching the pointer again after a failure
	statusFile func(dir string, s Status) error // writes status.json

	running atomic.Bool
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
	set, err := LoadSettings(cfg.ConfigDir)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	st := Status{State: StateConnecting, Since: time.Now(), Relay: cfg.RelayURL, PID: os.Getpid()}
	if c, err := LoadCredentials(cfg.ConfigDir); err == nil && c.Valid(cfg.RelayURL) {
		st.DeviceID = c.DeviceID
	}
	state := newState(set, Status{})
	state.onQuiet = cfg.Quiet
	if cfg.Sampler == nil {
		opts := telemetry.Options{ShareWindow: func() bool {
			return state.currentSettings().Allowed(telemetry.WindowTitle, false)
		}}
		opts.Idle, _ = cfg.Desktop.(telemetry.IdleSource)
		opts.Window, _ = cfg.Desktop.(telemetry.WindowSource)
		cfg.Sampler = telemetry.NewSamplerWith(opts)
	}
	var disp *commands.Dispatcher
	allowed := func(name string) bool { return state.currentSettings().Allowed(name, disp.DefaultOn(name)) }
	disp = commands.NewDispatcher(cfg.Commands, allowed, state.paused)
	host, _ := os.Hostname()
	desc := &describer{disp: disp, screen: cfg.Screen, name: cfg.Name, hostname: host, version: cfg.Version}
	desc.avail, _ = cfg.Desktop.(Availability)
	desc.fillStatus(&st, set)
	state.update(func(s *Status) { *s = st })
	return &Agent{
		cfg:   cfg,
		log:   cfg.Logger,
		state: state,
		desc:  desc,
		watch: &settingsWatcher{dir: cfg.ConfigDir, log: cfg.Logger, state: state, desc: desc,
			recheck: desktopRecheck},
		runner: newRunner(cfg, disp),
		dial: &dialer{hc: cfg.HTTPClient, ws: cfg.Dialer, dir: cfg.ConfigDir, relay: cfg.RelayURL,
			enrollToken: cfg.EnrollToken, version: cfg.Version},
		wallNow:    func() time.Time { return time.Now().Round(0) },
		sleepEvery: sleepCheck,
		clockWatch: clockWatchAvailable,
		probeWait:  probeWait,
		moveEvery:  moveEvery,
		mouseRetry: mouseRetry,
		statusFile: writeStatus,
	}, nil
}

// Status returns a snapshot of the agent's state. Safe concurrently; it does
// not block on the network.
func (a *Agent) Status() Status {
	st, _ := a.state.snapshot()
	return st
}

// name returns the display name: Config.Name, config.json's name, the host name.
func (a *Agent) name() string { return a.desc.displayName(a.state.currentSettings()) }

// Run connects to the relay and keeps the device online until ctx ends. It
// blocks; it returns nil when ctx is cancelled, and an error only if it cannot
// start (Run called twice at once). Every goroutine it starts has ended when
// it returns, and status.json says stopped.
func (a *Agent) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("agent: Run is already running")
	}
	defer a.running.Store(false)

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup // settings watcher, status writer and running commands
	status := &statusWriter{dir: a.cfg.ConfigDir, log: a.log, state: a.state, write: a.statusFile}
	defer func() {
		cancel()
		wg.Wait()
		a.runner.disp.Wait() // handlers that outlived their timeout
		a.state.update(func(s *Status) {
			s.State = StateStopped
			s.Watchers = 0
			s.NextRetry = time.Time{}
		})
		status.flush()
	}()
	a.watch.reload()
	wg.Go(func() { a.watch.run(ctx, a.cfg.SettingsPoll) })
	wg.Go(func() { status.run(ctx) })
	if a.clockWatch {
		if cw, err := watchClock(); err != nil {
			a.log.Debug("comparing the clocks to notice sleep", "every", a.sleepEvery, "reason", err)
		} else {
			defer a.kernelWake.Store(false)
			defer cw.close() // Run returns after its links ended
			a.kernelWake.Store(true)
			wg.Go(func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-cw.jumped():
						a.state.clockJumped()
					}
				}
			})
		}
	}

	bo := backoff.New(backoff.Policy{
		Base: time.Second, Max: 60 * time.Second, StableAfter: stableAfter,
		Rand: a.cfg.Rand, Clock: a.cfg.Clock,
	})
	a.log.Info("agent starting", "relay", a.cfg.RelayURL, "name", a.name(), "version", a.cfg.Version)
	unauthorized := 0 // 401s in a row on /ws/agent
	for {
		a.state.update(func(s *Status) { s.State = StateConnecting; s.NextRetry = time.Time{} })
		err := a.connect(ctx, bo, &wg)
		if ctx.Err() != nil {
			return nil
		}
		var delay time.Duration
		delay, unauthorized = a.retryDelay(err, bo, unauthorized)
		state := StateOffline
		if IsUnauthorized(err) {
			state = StateUnauthorized
		}
		next := a.cfg.Clock.Now().Add(delay)
		a.state.update(func(s *Status) {
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

// retryDelay says how long to wait before connecting again after err, given
// the 401s in a row so far, and returns the new count of them.
func (a *Agent) retryDelay(err error, bo *backoff.Backoff, unauthorized int) (time.Duration, int) {
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, errTokenRefused):
		if err := RemoveCredentials(a.cfg.ConfigDir); err != nil {
			a.log.Error("cannot forget refused credentials", "err", err)
		}
		a.log.Warn("the relay no longer knows this device; registering again")
		if unauthorized > 0 {
			return bo.Next(), unauthorized + 1
		}
		return unauthorizedWait, 1
	case errors.As(err, &ce) && ce.Code == websocket.CloseServiceRestart:
		delay := time.Duration(a.cfg.Rand() * float64(restartWait))
		a.log.Info("relay is restarting", "retry_in", delay.Round(time.Millisecond))
		return delay, 0
	default:
		if errors.As(err, &ce) && ce.Code == closeReplaced {
			a.log.Warn("another agent with this device's identity connected to the relay")
		}
		delay := bo.Next()
		a.log.Info("disconnected from relay", "err", err, "retry_in", delay.Round(time.Millisecond))
		return delay, 0
	}
}

// connect opens one link (registering first if needed), says hello and
// serves it until it ends. It returns why it ended: errTokenRefused, a
// *websocket.CloseError from the relay, a dial or I/O error, or ctx's error.
// Command goroutines it starts are added to cmds.
func (a *Agent) connect(ctx context.Context, bo *backoff.Backoff, cmds *sync.WaitGroup) error {
	o, err := a.dial.open(ctx, Device{Name: a.name(), OS: runtime.GOOS}, a.cfg.DeadAfter)
	if err != nil {
		return err
	}
	if o.registered {
		a.log.Info("registered with relay", "relay", o.creds.Relay, "device_id", o.creds.DeviceID)
	}
	a.state.update(func(s *Status) { s.DeviceID = o.creds.DeviceID })
	a.watch.refreshHello()
	l := newLink(a.linkConfig(), o, ctx, cmds)
	if err := l.greet(); err != nil {
		return err
	}
	bo.Connected()
	defer bo.Disconnected()
	a.state.update(func(s *Status) {
		s.State = StateConnected
		s.LastError = ""
		s.NextRetry = time.Time{}
		s.Watchers = 0
	})
	a.log.Info("connected to relay", "relay", o.creds.Relay, "device_id", o.creds.DeviceID)
	return l.serve(ctx)
}

// linkConfig is what the agent's links share.
func (a *Agent) linkConfig() linkConfig {
	return linkConfig{
		log: a.log, state: a.state, runner: a.runner, sampler: a.cfg.Sampler, pointer: a.cfg.Mouse,
		heartbeat: a.cfg.Heartbeat, deadAfter: a.cfg.DeadAfter, telemetryEvery: a.cfg.TelemetryEvery,
		sleepEvery: a.linkSleepEvery(), probeWait: a.probeWait, moveEvery: a.moveEvery, mouseRetry: a.mouseRetry,
		wallNow: a.wallNow,
	}
}

// linkSleepEvery is how often a link compares the clocks: never when the
// kernel tells of a wake from sleep.
func (a *Agent) linkSleepEvery() time.Duration {
	if a.kernelWake.Load() {
		return 0
	}
	return a.sleepEvery
}

// closeReplaced is the relay's close code for "a newer connection of the same
// device took over".
const closeReplaced = 4001

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
