package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
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

// agentGCPercent is a running agent's GOGC while it is not quiet (quietGC).
// A running agent's live heap is under 1 MB, and the runtime's smallest
// heap goal is 4 MB scaled by GOGC/100: at Go's default of 100 a watched
// agent's heap grows to 4 MB between collections and the pages stay
// resident (anonymous memory 4.6-6.3 MB); at 25 the goal is 1 MB (3.6 MB
// anonymous, steady). docs/BENCHMARKS.md, "The agent's own memory".
const agentGCPercent = 25

// quietSlack is how far the runtime's memory may grow while the agent is
// quiet before it collects (quietGC).
const quietSlack = 4 << 20

// agentGC returns the GC percent for a running agent's quietGC, and false
// when the GOGC or GOMEMLIMIT variable (gogc, memlimit: their values) is
// set: the runtime has applied it, and the agent leaves its collector be.
func agentGC(gogc, memlimit string) (int, bool) {
	if gogc != "" || memlimit != "" {
		return 0, false
	}
	return agentGCPercent, true
}

// quietGC returns the agent's Quiet hook (agent.Config.Quiet). While the
// agent is quiet (nobody watches, nothing under way) the collector is off,
// and a memory limit of what the runtime has in use at that moment plus
// quietSlack stands in for it; otherwise the GC percent is percent and
// there is no limit. Why off: once the runtime has collected it forces a
// collection every 2 minutes while its collector is on (20-30 context
// switches each), so an agent nobody watches woke for those all its life:
// off, an agent at rest after a watch woke 0.26 times a second in all
// instead of 0.52 (docs/BENCHMARKS.md, "The agent at rest"). Quiet, an
// agent makes almost no garbage: the limit collects it when there is
// quietSlack of it.
func quietGC(percent int) func(quiet bool) {
	mem := []metrics.Sample{{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
	return func(quiet bool) {
		if !quiet {
			debug.SetMemoryLimit(math.MaxInt64)
			debug.SetGCPercent(percent)
			return
		}
		// In use: all the runtime holds, less the heap's free pages, which
		// would otherwise take new garbage before the limit saw any (the
		// scavenger gives them back to stay under it).
		metrics.Read(mem)
		inUse := mem[0].Value.Uint64() - mem[1].Value.Uint64() - mem[2].Value.Uint64()
		debug.SetMemoryLimit(int64(inUse) + quietSlack)
		debug.SetGCPercent(-1)
	}
}

// keepGC returns a function that puts back the GC percent and the memory
// limit in force now (runAgent returns with them as it found them).
func keepGC() (restore func()) {
	percent := gcPercent()
	limit := debug.SetMemoryLimit(-1) // a negative limit only reads it
	return func() {
		debug.SetMemoryLimit(limit)
		debug.SetGCPercent(percent)
	}
}

// gcPercent returns the GC percent in force, read by setting it to -1
// (off) for a moment: the runtime has no call that only reads it, and any
// other value could start a collection.
func gcPercent() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}

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
	var quiet func(bool)
	if p, ok := agentGC(os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT")); ok {
		quiet = quietGC(p)
		defer keepGC()()
	}
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log) // for the packages that log without a Config (agent/telemetry)
	if c.unattended {
		c.noTray = true
		body := func(ctx context.Context) error { return c.runHeadlessOrTray(ctx, log, quiet) }
		if ok, err := installer.RunWindowsService(ctx, body); ok {
			return err
		}
		return installer.RunUnattended(ctx, c.installerConfig(), body)
	}
	return c.runHeadlessOrTray(ctx, log, quiet)
}

// runHeadlessOrTray runs the agent until ctx ends (or Quit in the tray): in
// another goroutine with the tray on this one when a desktop session is
// there, else on this goroutine. quiet is the agent's Quiet hook (nil: none).
func (c *cli) runHeadlessOrTray(ctx context.Context, log *slog.Logger, quiet func(bool)) error {
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
		Quiet:       quiet,
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
