package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Config is one benchmark run. Zero fields take the defaults of fill, which
// are the full run for a 2-core machine with 20,000 open files per process.
type Config struct {
	Out     string   // output directory for results.json and the plots; default bench-out
	Targets []string // "tether", "socket.io", "py-websockets"; "tether-inproc" runs the relay in this process (for -cpuprofile)

	IdleSteps    []int         // agents held idle, in steps; default 5000, 18000 (the relay takes at most its open-file limit less 1,024: 18,976 here)
	RestWindow   time.Duration // CPU at rest is measured over this; default 10 s
	Settle       time.Duration // wait after a ramp before measuring; default 3 s
	RestartBound time.Duration // the restart scenario gives up after this; default 75 s

	FanAgents    int           // agents streaming telemetry; default 100
	FanClients   int           // clients watching every one of them; default 20
	FanRate      float64       // telemetry per agent per second in the throughput window; default 100
	LoadedRate   float64       // deliveries per second offered while timing round trips under load; default 50,000
	ProbeRate    float64       // round trips per client per second; default 10
	ProbeBurst   bool          // every client probes at the same instant (the pattern of runs before the relay's write batching); default spread evenly over the period
	MessageBytes int           // telemetry frame size; default 200
	Window       time.Duration // each fan-out and round-trip window; default 10 s

	RealAgents  int     // realistic fan-out: agents, each watched by RealClients clients of its own; default 500
	RealClients int     // default 2
	RealMinHz   float64 // the agents' rates spread evenly over [RealMinHz, RealMaxHz]; default 1
	RealMaxHz   float64 // default 150

	Runs      int      // each scenario runs this many times, interleaved across the targets; default 3
	Scenarios []string // which scenarios run: idle, fanout, realistic; default all

	Cluster       int // > 0: run the cluster benchmark (RunCluster) with this many relay nodes instead
	ClusterAgents int // idle agents held across the nodes; default 6,000
	ClusterGens   int // load-generator child processes; default one per 16,000 agents, at least 2
	ClusterVictim int // agents on the last node, the one killed; default an even share
	ClusterWatch  int // of the killed node's devices, this many are followed by a client on node 0; default 500

	AgentRun time.Duration // `tether run --no-tray` is measured this long; default 60 s; negative skips it

	Root         string // module root (bench/peers lives there); default found with go env GOMOD
	RelayBin     string // tether-relay binary; default built with CGO_ENABLED=0 into a temp dir
	AgentBin     string // tether binary; default built with cgo into a temp dir
	Python       string // python3 with websockets; default /usr/bin/python3, then python3 on PATH
	RequirePeers bool   // fail instead of skipping a peer whose runtime is missing
	CPUProfile   string // write a CPU profile of this process (use with tether-inproc)
	MemProfile   string // write a heap profile of this process with the idle agents connected (tether-inproc)
	Log          io.Writer
}

func (c *Config) fill() {
	if c.Out == "" {
		c.Out = "bench-out"
	}
	if len(c.Targets) == 0 {
		c.Targets = []string{"tether", "socket.io", "py-websockets"}
	}
	if len(c.IdleSteps) == 0 {
		c.IdleSteps = []int{5000, 18000}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.RestWindow, 10*time.Second)
	def(&c.Settle, 3*time.Second)
	def(&c.RestartBound, 75*time.Second)
	def(&c.Window, 10*time.Second)
	def(&c.AgentRun, 60*time.Second)
	if c.FanAgents <= 0 {
		c.FanAgents = 100
	}
	if c.FanClients <= 0 {
		c.FanClients = 20
	}
	if c.FanRate <= 0 {
		c.FanRate = 250
	}
	if c.RealAgents <= 0 {
		c.RealAgents = 500
	}
	if c.RealClients <= 0 {
		c.RealClients = 2
	}
	if c.RealMinHz <= 0 {
		c.RealMinHz = 1
	}
	if c.RealMaxHz <= 0 {
		c.RealMaxHz = 150
	}
	if c.Runs <= 0 {
		c.Runs = 3
	}
	if len(c.Scenarios) == 0 {
		for _, sc := range scenarios {
			c.Scenarios = append(c.Scenarios, sc.key)
		}
	}
	if c.LoadedRate <= 0 {
		c.LoadedRate = 50000
	}
	if c.ProbeRate <= 0 {
		c.ProbeRate = 10
	}
	if c.MessageBytes <= 0 {
		c.MessageBytes = 200
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
}

func (c *Config) logf(format string, a ...any) {
	fmt.Fprintf(c.Log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

// TargetResult is every figure of one relay.
type TargetResult struct {
	Idle          []IdleStep     `json:"idle"`
	Restart       *RestartResult `json:"restart,omitempty"`
	Fanout        *FanoutResult  `json:"fanout,omitempty"`
	Loaded        *FanoutResult  `json:"loaded,omitempty"` // the fan-out while round trips were timed under load
	RTTIdle       *Latency       `json:"rtt_idle,omitempty"`
	RTTLoaded     *Latency       `json:"rtt_loaded,omitempty"`
	RTTLean       *Latency       `json:"rtt_lean,omitempty"`  // idle, from lean ends (lean.go; Tether only)
	RTTFloor      *Latency       `json:"rtt_floor,omitempty"` // the same hops through a forwarder that only copies bytes
	Real          *RealResult    `json:"realistic,omitempty"`
	SetupSeconds  float64        `json:"setup_seconds"` // registering and pairing through the API
	Error         string         `json:"error,omitempty"`
	ShutdownError string         `json:"shutdown_error,omitempty"`
}

// AgentResult is `tether run --no-tray` against the real relay with one watching client.
type AgentResult struct {
	Seconds      float64 `json:"seconds"`
	RSSBytes     int64   `json:"rss_bytes"`     // at the end
	MaxRSSBytes  int64   `json:"max_rss_bytes"` // largest sampled once a second
	CPUPct       float64 `json:"cpu_pct"`       // of one core
	WakeupsPerS  float64 `json:"wakeups_per_s"` // voluntary context switches, all threads
	InvolPerS    float64 `json:"involuntary_per_s"`
	TelemetryHz  float64 `json:"telemetry_hz"` // what the client received
	Threads      int     `json:"threads"`
	WatchRetries int     `json:"watch_retries"` // client reopened because no telemetry came (see measureAgent)
	Error        string  `json:"error,omitempty"`
}

// Results is the whole run, written to results.json.
type Results struct {
	Date    string  `json:"date"`
	Host    string  `json:"host"`
	CPUs    int     `json:"cpus"`
	Load    string  `json:"load_before"` // /proc/loadavg when the run began
	LoadEnd string  `json:"load_after"`
	Command string  `json:"command"`
	Config  *Config `json:"config"`
	// Runs holds every run of every target: Runs[name][i] is its i-th run
	// of each scenario (the scenarios interleave across the targets).
	Runs    map[string][]*TargetResult `json:"runs"`
	Table   []TableRow                 `json:"table"` // each figure's median, min and max over the runs
	Order   []string                   `json:"order"`
	Skipped map[string]string          `json:"skipped,omitempty"`
	Agent   *AgentResult               `json:"agent,omitempty"`
	Seconds float64                    `json:"seconds"`
}

// Run runs every scenario against every target, writes results.json and the
// plots into cfg.Out, and returns the results. It blocks until done or ctx
// ends; every scenario is bounded in time.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	cfg.fill()
	began := time.Now()
	host, _ := os.Hostname()
	res := &Results{Date: began.Format(time.RFC3339), Host: host, CPUs: runtime.NumCPU(), Load: loadavg(),
		Command: strings.Join(os.Args, " "), Config: &cfg, Runs: map[string][]*TargetResult{}, Skipped: map[string]string{}}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	tmp, err := os.MkdirTemp("", "tether-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := cfg.locate(ctx, tmp); err != nil {
		return nil, err
	}
	src := newSourceAddrs()
	var states []*targetState
	defer func() {
		for _, st := range states {
			st.t.stop()
		}
	}()
	for i, name := range cfg.Targets {
		t, why, err := cfg.target(name, filepath.Join(tmp, fmt.Sprintf("data-%d", i)))
		if err != nil {
			return nil, err
		}
		if t == nil {
			res.Skipped[name] = why
			cfg.logf("%s: skipped: %s", name, why)
			continue
		}
		res.Order = append(res.Order, name)
		for range cfg.Runs {
			res.Runs[name] = append(res.Runs[name], &TargetResult{})
		}
		st := &targetState{t: t}
		if err := st.prepare(ctx, &cfg); err != nil {
			st.err = err
			res.Runs[name][0].Error = err.Error()
			cfg.logf("%s: %v", name, err)
		} else {
			res.Runs[name][0].SetupSeconds = st.setup
		}
		states = append(states, st)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	// Each scenario runs cfg.Runs times, interleaved across the targets
	// (A B C A B C …), so a change in the machine's background load falls on
	// every relay alike; the table shows the median and the spread.
	for _, sc := range scenarios {
		if !slices.Contains(cfg.Scenarios, sc.key) {
			continue
		}
		for rep := range cfg.Runs {
			for _, st := range states {
				if st.err != nil {
					continue
				}
				tr := res.Runs[st.t.name()][rep]
				cfg.logf("%s: %s, run %d of %d", st.t.name(), sc.name, rep+1, cfg.Runs)
				if err := sc.run(ctx, &cfg, st, src, rep, tr); err != nil {
					tr.Error = strings.TrimPrefix(tr.Error+"; "+sc.name+": "+err.Error(), "; ")
					cfg.logf("%s: %s: %v", st.t.name(), sc.name, err)
				}
				quiesce(ctx, &cfg, st.t)
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
			}
		}
	}
	if cfg.AgentRun > 0 {
		res.Agent = runAgent(ctx, &cfg, filepath.Join(tmp, "agent"), src)
	}
	res.Seconds = time.Since(began).Seconds()
	res.LoadEnd = loadavg()
	if err := writeOutputs(&cfg, res); err != nil {
		return res, err
	}
	return res, nil
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

// locate finds the module root and builds the binaries that were not given.
func (c *Config) locate(ctx context.Context, tmp string) error {
	if c.Root == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
			return fmt.Errorf("find the module root (run inside the repository): %v", err)
		}
		c.Root = filepath.Dir(strings.TrimSpace(string(out)))
	}
	build := func(out, pkg, cgo string) error {
		c.logf("building %s (CGO_ENABLED=%s)", pkg, cgo)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = c.Root
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		return nil
	}
	needRelay := c.AgentRun > 0
	for _, t := range c.Targets {
		needRelay = needRelay || t == "tether"
	}
	if c.RelayBin == "" && needRelay {
		c.RelayBin = filepath.Join(tmp, "tether-relay")
		if err := build(c.RelayBin, "./cmd/tether-relay", "0"); err != nil {
			return err
		}
	}
	if c.AgentBin == "" && c.AgentRun > 0 {
		c.AgentBin = filepath.Join(tmp, "tether")
		if err := build(c.AgentBin, "./cmd/tether", "1"); err != nil {
			return err
		}
	}
	return nil
}

// target builds the named target, or says why it is skipped (nil target).
func (c *Config) target(name, data string) (target, string, error) {
	peers := filepath.Join(c.Root, "bench", "peers")
	switch name {
	case "tether":
		return newRelayTarget(c.RelayBin, data), "", nil
	case "tether-inproc":
		return &inprocTarget{data: data}, "", nil
	case "socket.io":
		dir := filepath.Join(peers, "socketio")
		why := ""
		if _, err := exec.LookPath("node"); err != nil {
			why = "node is not installed (scripts/setup --bench)"
		} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io")); err != nil {
			why = "socket.io is not installed (cd bench/peers/socketio && npm ci)"
		}
		if why != "" {
			if c.RequirePeers {
				return nil, "", errors.New("socket.io peer: " + why)
			}
			return nil, why, nil
		}
		return newSocketIOTarget(dir), "", nil
	case "py-websockets":
		py := c.Python
		if py == "" {
			py = findPython()
		}
		if py == "" {
			why := "no python3 with the websockets module (scripts/setup --bench installs python3-websockets)"
			if c.RequirePeers {
				return nil, "", errors.New("py-websockets peer: " + why)
			}
			return nil, why, nil
		}
		return newPythonTarget(py, filepath.Join(peers, "pywebsockets")), "", nil
	}
	return nil, "", fmt.Errorf("unknown target %q (tether, socket.io, py-websockets, tether-inproc)", name)
}

// findPython returns a python3 that imports websockets: Debian's first.
func findPython() string {
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import websockets").Run() == nil {
			return p
		}
	}
	return ""
}

// targetState is one target kept running through the whole run, with the
// devices and sessions every scenario uses.
type targetState struct {
	t       target
	devs    []device  // enough for the largest idle step
	fanDevs []device  // the fan-out's agents (the first devices)
	fanSess session   // one session watching every fan-out agent
	leanDev device    // the lean round trip's agent (a device of its own)
	leanSes session   // and its client's session
	real    []session // the realistic fan-out: one session per agent
	setup   float64   // seconds spent registering and pairing
	started bool      // the relay was (re)started by a scenario since it last ran the idle one
	err     error     // preparing failed: no scenario runs
}

// prepare starts the target and registers and pairs what the scenarios need.
func (st *targetState) prepare(ctx context.Context, cfg *Config) error {
	t := st.t
	cfg.logf("%s: starting", t.name())
	if err := t.start(ctx); err != nil {
		return err
	}
	st.started = true
	most := max(cfg.FanAgents, slices.Max(cfg.IdleSteps), cfg.RealAgents)
	setup := time.Now()
	devs, err := t.devices(ctx, most+1)
	if err != nil {
		return err
	}
	st.devs, st.leanDev = devs[:most], devs[most]
	if st.leanSes, err = t.session(ctx, []device{st.leanDev}); err != nil {
		return err
	}
	st.fanDevs = devs[:min(cfg.FanAgents, len(devs))]
	if st.fanSess, err = t.session(ctx, st.fanDevs); err != nil {
		return err
	}
	if st.real, err = realSessions(ctx, t, devs[:min(cfg.RealAgents, len(devs))]); err != nil {
		return err
	}
	st.setup = time.Since(setup).Seconds()
	cfg.logf("%s: %d devices registered, %d paired in one session and %d in sessions of their own in %.1f s",
		t.name(), len(devs), len(st.fanDevs), len(st.real), st.setup)
	return nil
}

// quiesce waits until t's relay has stopped working off the scenario
// before (a relay that buffers, Socket.IO or Python, may drain an
// overload's backlog for long after its sockets closed, and would steal the
// next relay's CPU): until it uses under 5 % of a core over half a second,
// for at most 60 s.
func quiesce(ctx context.Context, cfg *Config, t target) {
	start := time.Now()
	prev, err := readProc(t.pid())
	for err == nil && time.Since(start) < 60*time.Second {
		if !sleep(ctx, 500*time.Millisecond) {
			return
		}
		cur, e := readProc(t.pid())
		if e != nil {
			return
		}
		if cpuPercent(prev, cur) < 5 {
			if d := time.Since(start); d > time.Second {
				cfg.logf("%s: busy for %.1f s after the scenario", t.name(), d.Seconds())
			}
			return
		}
		prev = cur
	}
	cfg.logf("%s: still busy 60 s after the scenario", t.name())
}

// scenario is one part of the run, repeated cfg.Runs times per target.
type scenario struct {
	key  string // for -scenarios
	name string
	run  func(ctx context.Context, cfg *Config, st *targetState, src *sourceAddrs, rep int, tr *TargetResult) error
}

var scenarios = []scenario{
	{"idle", "idle agents and restart", runIdle},
	{"fanout", "fan-out and round trips", runFanout},
	{"realistic", "realistic fan-out", runRealistic},
}

// runIdle holds idle agents in steps, then restarts the relay under all of
// them. Each run starts on a fresh relay process, so its memory baseline is
// not a heap grown by the run before.
func runIdle(ctx context.Context, cfg *Config, st *targetState, src *sourceAddrs, rep int, tr *TargetResult) error {
	t := st.t
	if !st.started {
		if _, _, err := t.restart(ctx); err != nil {
			return fmt.Errorf("fresh relay: %w", err)
		}
		sleep(ctx, cfg.Settle)
	}
	st.started = false
	pool := &agentPool{w: t.wire(), addr: t.addr, src: src}
	pctx, stopPing := context.WithCancel(ctx)
	go pool.pinger(pctx, 25*time.Second)
	var err error
	tr.Idle, err = idle(ctx, cfg, t, pool, st.devs)
	if err == nil && cfg.MemProfile != "" && rep == 0 {
		if f, ferr := os.Create(cfg.MemProfile); ferr == nil {
			runtime.GC()
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	if err == nil {
		cfg.logf("%s: restarting under %d agents", t.name(), len(pool.list()))
		tr.Restart, err = restart(ctx, cfg, t, pool)
	}
	stopPing()
	pool.close()
	if err != nil {
		return err
	}
	cfg.logf("%s: %d/%d back; t50 %.1f s, t99 %.1f s, t100 %.1f s", t.name(), tr.Restart.Back, tr.Restart.N, tr.Restart.T50, tr.Restart.T99, tr.Restart.T100)
	sleep(ctx, cfg.Settle)
	return nil
}

// runFanout times round trips idle and under load, then offers more
// telemetry than the relay can deliver.
func runFanout(ctx context.Context, cfg *Config, st *targetState, src *sourceAddrs, _ int, tr *TargetResult) error {
	t := st.t
	rig, err := newFanRig(ctx, cfg, t, src, st.fanDevs, st.fanSess)
	if err != nil {
		return fmt.Errorf("fan-out: %w", err)
	}
	defer rig.close()
	if _, tr.RTTIdle, err = rig.window(ctx, cfg, 0, cfg.ProbeRate); err != nil {
		return err
	}
	cfg.logf("%s: round trip idle p50 %.0f µs p99 %.0f µs", t.name(), tr.RTTIdle.P50us, tr.RTTIdle.P99us)
	if _, ok := t.wire().(tetherWire); ok {
		// As often as the probes above, one at a time from as many lean
		// client sockets; then the floor.
		n, window := cfg.FanClients, min(cfg.Window, 5*time.Second)
		rate := cfg.ProbeRate * float64(n)
		if tr.RTTLean, err = leanRoundTrips(ctx, false, t.addr(), st.leanDev, st.leanSes.Token, n, rate, window); err != nil {
			return err
		}
		if tr.RTTFloor, err = leanRoundTrips(ctx, true, "", device{}, "", 1, rate, window); err != nil {
			return err
		}
		cfg.logf("%s: round trip idle from lean ends p50 %.0f µs p99 %.0f µs; the floor (4 hops through a forwarder) p50 %.0f µs p99 %.0f µs",
			t.name(), tr.RTTLean.P50us, tr.RTTLean.P99us, tr.RTTFloor.P50us, tr.RTTFloor.P99us)
	}
	// Round trips under load before the overload window: a relay that buffers
	// instead of coalescing (Socket.IO) drains an overload's backlog for long
	// after it, which would be timed as the loaded round trip.
	loadedHz := cfg.LoadedRate / float64(len(st.fanDevs)*cfg.FanClients)
	if tr.Loaded, tr.RTTLoaded, err = rig.window(ctx, cfg, loadedHz, cfg.ProbeRate); err != nil {
		return err
	}
	cfg.logf("%s: round trip under %.0f msg/s p50 %.0f µs p99 %.0f µs", t.name(), tr.Loaded.DeliveredPerSec, tr.RTTLoaded.P50us, tr.RTTLoaded.P99us)
	if tr.Fanout, _, err = rig.window(ctx, cfg, cfg.FanRate, 0); err != nil {
		return err
	}
	cfg.logf("%s: fan-out %.0f delivered/s (offered %.0f), relay CPU %.0f %%, %.0f per relay CPU-second", t.name(),
		tr.Fanout.DeliveredPerSec, tr.Fanout.OfferedPerSec, tr.Fanout.CPUPct, tr.Fanout.MsgsPerCPUSec)
	return nil
}

// runRealistic runs the realistic fan-out (each agent watched by clients of its own).
func runRealistic(ctx context.Context, cfg *Config, st *targetState, src *sourceAddrs, _ int, tr *TargetResult) error {
	r, err := realistic(ctx, cfg, st.t, src, st.devs, st.real)
	if err != nil {
		return err
	}
	tr.Real = r
	cfg.logf("%s: realistic: %.0f in/s → %.0f delivered/s of %.0f offered, relay CPU %.0f %%, delivery p50 %.0f µs p99 %.0f µs",
		st.t.name(), r.SentPerSec, r.DeliveredPerSec, r.OfferedPerSec, r.CPUPct, r.P50us, r.P99us)
	return nil
}

// runAgent measures the real agent, `tether run --no-tray`, at its default
// 1 Hz telemetry against a real relay with one watching client.
func runAgent(ctx context.Context, cfg *Config, dir string, src *sourceAddrs) *AgentResult {
	r := &AgentResult{}
	if err := measureAgent(ctx, cfg, dir, src, r); err != nil {
		r.Error = err.Error()
		cfg.logf("agent: %v", err)
	}
	return r
}

func measureAgent(ctx context.Context, cfg *Config, dir string, src *sourceAddrs, r *AgentResult) error {
	rt := newRelayTarget(cfg.RelayBin, filepath.Join(dir, "relay-data"))
	if err := rt.start(ctx); err != nil {
		return err
	}
	defer rt.stop()
	home, confDir := filepath.Join(dir, "home"), filepath.Join(dir, "config")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	relayURL := "http://" + rt.addr()
	env := []string{"HOME=" + home, "DISPLAY=", "WAYLAND_DISPLAY=", "DBUS_SESSION_BUS_ADDRESS=", "TETHER_CONFIG_DIR=", "TETHER_RELAY=", "TETHER_AGENT_RELAY=",
		"TETHER_ENROLL_TOKEN=" + benchEnrollToken}
	cfg.logf("agent: starting tether run --no-tray")
	p, _, err := startProcess(ctx, "tether", "", env, cfg.AgentBin, "--config-dir", confDir, "--relay", relayURL, "run", "--no-tray")
	if err != nil {
		return err
	}
	defer p.stop(syscall.SIGTERM, 15*time.Second)
	var code struct{ Code string }
	for deadline := time.Now().Add(30 * time.Second); ; {
		cmd := exec.CommandContext(ctx, cfg.AgentBin, "--config-dir", confDir, "--relay", relayURL, "pair", "--json")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err == nil && json.Unmarshal(out, &code) == nil && code.Code != "" {
			break
		}
		if err := p.exitErr(); err != nil {
			return fmt.Errorf("agent exited: %v\n%s", err, p.log.String())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no pairing code from the agent within 30 s: %v\n%s", err, p.log.String())
		}
		sleep(ctx, 200*time.Millisecond)
	}
	var paired struct {
		SessionToken string `json:"session_token"`
		DeviceID     string `json:"device_id"`
	}
	hc := sourceClient(60000)
	if err := rt.api.post(ctx, hc, "/api/v1/pairings", "", map[string]string{"code": code.Code}, 201, &paired); err != nil {
		return err
	}
	var st dialStats
	c, err := dialClient(ctx, tetherWire{}, rt.addr(), src, session{Token: paired.SessionToken}, &st)
	if err != nil {
		return err
	}
	defer func() { c.close() }()
	// The agent hears watch=1 and starts streaming: wait for the first sample.
	// Seen about once in four tiny runs: no sample at all after the client
	// opened. That is recorded (WatchRetries) and the client reopened once.
	for deadline := time.Now().Add(15 * time.Second); c.telemetry.Load() == 0; {
		if time.Now().After(deadline) {
			if r.WatchRetries > 0 {
				return fmt.Errorf("no telemetry from the agent within 15 s of watching, twice\n%s", p.log.String())
			}
			r.WatchRetries++
			cfg.logf("agent: no telemetry within 15 s of watching; reopening the client once")
			c.close()
			if c, err = dialClient(ctx, tetherWire{}, rt.addr(), src, session{Token: paired.SessionToken}, &st); err != nil {
				return err
			}
			deadline = time.Now().Add(15 * time.Second)
		}
		if !sleep(ctx, 50*time.Millisecond) {
			return ctx.Err()
		}
	}
	a, err := readProc(p.pid())
	if err != nil {
		return err
	}
	t0 := c.telemetry.Load()
	end := time.Now().Add(cfg.AgentRun)
	for time.Now().Before(end) {
		if !sleep(ctx, min(time.Second, time.Until(end))) {
			return ctx.Err()
		}
		s, err := readProc(p.pid())
		if err != nil {
			return err
		}
		r.MaxRSSBytes = max(r.MaxRSSBytes, s.RSS)
	}
	b, err := readProc(p.pid())
	if err != nil {
		return err
	}
	secs := b.At.Sub(a.At).Seconds()
	r.Seconds = secs
	r.RSSBytes = b.RSS
	r.MaxRSSBytes = max(r.MaxRSSBytes, b.RSS)
	r.CPUPct = cpuPercent(a, b)
	r.WakeupsPerS = float64(b.VolCtx-a.VolCtx) / secs
	r.InvolPerS = float64(b.InvolCtx-a.InvolCtx) / secs
	r.TelemetryHz = float64(c.telemetry.Load()-t0) / secs
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", p.pid()))
	r.Threads = len(tasks)
	cfg.logf("agent: RSS %.1f MB, CPU %.2f %%, %.1f wakeups/s, %.2f telemetry/s", float64(r.RSSBytes)/1e6, r.CPUPct, r.WakeupsPerS, r.TelemetryHz)
	return nil
}
