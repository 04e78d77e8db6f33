package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/agent/control"
	"github.com/tether-desktop/tether/agent/desktop"
	"github.com/tether-desktop/tether/installer"
	"github.com/tether-desktop/tether/tray"
)

// agentProcs is the GOMAXPROCS of a running agent: 1 unless the GOMAXPROCS
// variable says otherwise (env is its value). The agent waits on the network
// nearly all the time; with one P the runtime does not wake idle threads
// to steal the little work there is, nor re-read the CPU limits every
// second (a GOMAXPROCS set by the program turns that off). Measured on
// `tether run --no-tray` watched at 1 Hz: 22.8 wakeups/s with the default
// (2 here), 18.7 with 1 (docs/BENCHMARKS.md).
func agentProcs(env string) int {
	if n, err := strconv.Atoi(env); err == nil && n > 0 {
		return n
	}
	return 1
}

// agentGCPercent is a running agent's GOGC once the runtime has collected
// for the first time, unless the GOGC variable is set (agentGC,
// lowerGCOnceCollecting). A running agent's live heap is under 1 MB, and
// the runtime's smallest heap goal is 4 MB scaled by GOGC/100: at Go's
// default of 100 a watched agent's heap grows to 4 MB between collections
// and the pages stay resident (anonymous memory 4.6-6.3 MB); at 25 the goal
// is 1 MB (3.6 MB anonymous, steady). But the runtime also forces a
// collection every 2 minutes once one has run (~30 context switches each),
// and at 25 from the start the agent collected at once: an agent nobody
// watches, which at 100 never fills its 4 MB and never collects, then woke
// for those all its life (docs/BENCHMARKS.md, "The agent's own memory").
// So the agent runs at Go's default until the first collection, and at 25
// from then on, when it pays for the forced ones anyway.
const agentGCPercent = 25

// agentGC returns the GC percent a running agent sets after its first
// collection, and false when the GOGC variable (env is its value) is set,
// which the runtime has applied.
func agentGC(env string) (int, bool) {
	if env != "" {
		return 0, false
	}
	return agentGCPercent, true
}

// lowerGCOnceCollecting sets the GC percent to percent when the runtime's
// next collection has run (from the finalizer of an object nothing
// holds), and returns at once.
func lowerGCOnceCollecting(percent int) {
	runtime.SetFinalizer(&gcSentinel{}, func(*gcSentinel) { debug.SetGCPercent(percent) })
}

// gcSentinel is the object whose finalizer lowerGCOnceCollecting sets. It
// holds a pointer so that it is not one of the tiny allocations the runtime
// packs together, which may never be finalized.
type gcSentinel struct{ _ *byte }

// deviceName is the name used when this command has to register the device.
func (c *cli) deviceName() string {
	if s, err := agent.LoadSettings(c.configDir); err == nil && s.Name != "" {
		return s.Name
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "desktop"
}

func (c *cli) runAgent(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	if c.autostart && !c.autostartWanted() {
		return nil
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(agentProcs(os.Getenv("GOMAXPROCS"))))
	if p, ok := agentGC(os.Getenv("GOGC")); ok {
		lowerGCOnceCollecting(p)
	}
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log) // for the packages that log without a Config (agent/telemetry)
	if c.unattended {
		c.noTray = true
		body := func(ctx context.Context) error { return c.runHeadlessOrTray(ctx, log) }
		if ok, err := installer.RunWindowsService(ctx, body); ok {
			return err
		}
		return installer.RunUnattended(ctx, c.installerConfig(), body)
	}
	return c.runHeadlessOrTray(ctx, log)
}

// runHeadlessOrTray runs the agent until ctx ends (or Quit in the tray): in
// another goroutine with the tray on this one when a desktop session is
// there, else on this goroutine.
func (c *cli) runHeadlessOrTray(ctx context.Context, log *slog.Logger) error {
	useTray := !c.noTray
	if useTray {
		if err := tray.SessionBusAvailable(); err != nil {
			log.Info("no tray icon; running headless", "reason", err)
			useTray = false
		}
	}
	desk := desktop.New(log)
	defer desk.Close()
	a, err := agent.New(agent.Config{
		RelayURL:    c.relay,
		ConfigDir:   c.configDir,
		Name:        c.name,
		EnrollToken: c.enrollToken,
		HTTPClient:  c.http,
		Dialer:      c.dialer,
		Version:     version,
		Logger:      log,
		Desktop:     desk,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.serveControl(a, cancel, log)()
	defer watchEndSession(cancel, log)()
	if !useTray {
		if err := a.Run(ctx); err != nil {
			return err
		}
		log.Info("agent stopped")
		return nil
	}

	tc := tray.Config{Agent: a, Quit: cancel, Logger: log}
	if in, err := installer.New(c.installerConfig()); err == nil {
		tc.Autostart = in
	} else {
		log.Warn("Start at login is not available", "err", err)
	}
	ctrl, err := tray.NewController(tc)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx) }() // owned here: waited for below
	trayErr := tray.Run(ctx, ctrl)     // on this goroutine: macOS wants the main thread
	if trayErr != nil {
		log.Warn("tray stopped", "err", trayErr)
		if ctx.Err() == nil {
			<-ctx.Done() // keep running headless until asked to stop
		}
	}
	cancel()
	err = <-errc
	log.Info("agent stopped")
	return err
}

// serveControl serves the local control channel (agent/control) while the
// agent runs: `tether status` asks it, and `tether stop` cancels the agent
// through stop. It returns the function that closes it. Without the channel
// the agent still runs (the CLI then falls back to status.json).
func (c *cli) serveControl(a *agent.Agent, stop context.CancelFunc, log *slog.Logger) (closeIt func()) {
	if err := os.MkdirAll(c.configDir, 0o700); err != nil {
		log.Warn("no control channel", "err", err)
		return func() {}
	}
	srv, err := control.Listen(c.configDir, control.Handlers{
		Status: func() any { return a.Status() },
		Stop: func() {
			log.Info("asked to stop on the control channel")
			stop()
		},
	})
	if err != nil {
		log.Warn("no control channel: tether stop and status fall back to the process id and status.json", "err", err)
		return func() {}
	}
	done := make(chan struct{})
	go func() { // owned here: closeIt waits for it
		defer close(done)
		if err := srv.Serve(); err != nil {
			log.Warn("control channel stopped", "err", err)
		}
	}()
	return func() { srv.Close(); <-done }
}

// autostartWanted reports whether the packaged autostart entry should start
// the agent: only for a user who set Tether up (a config directory with
// credentials or settings), and not when a systemd user unit of Tether is
// enabled (it starts the agent itself).
func (c *cli) autostartWanted() bool {
	_, errC := os.Stat(filepath.Join(c.configDir, agent.CredentialsFile))
	_, errS := os.Stat(filepath.Join(c.configDir, agent.SettingsFile))
	if errC != nil && errS != nil {
		return false
	}
	in, err := installer.New(installer.Config{Exe: "/usr/bin/tether", Target: installer.SystemdUser})
	if err != nil {
		return true
	}
	wants := filepath.Join(filepath.Dir(in.Path()), "graphical-session.target.wants", installer.UnitName)
	_, err = os.Lstat(wants)
	return err != nil
}
