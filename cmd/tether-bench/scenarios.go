package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// IdleStep is the idle-agents figure at one number of connections.
type IdleStep struct {
	N              int     `json:"n"`
	RampSeconds    float64 `json:"ramp_seconds"`
	ConnectsPerSec float64 `json:"connects_per_s"`
	RSSBaseBytes   int64   `json:"rss_base_bytes"`
	RSSBytes       int64   `json:"rss_bytes"`
	PerConnBytes   float64 `json:"per_conn_bytes"`
	CPURestPct     float64 `json:"cpu_rest_pct"`     // of one core, over the rest window
	GenCPURestPct  float64 `json:"gen_cpu_rest_pct"` // the load generator over the same window
	Up             int     `json:"up"`
}

// idle connects agents in steps and measures memory and CPU at rest after each.
func idle(ctx context.Context, cfg *Config, t target, pool *agentPool, devs []device) ([]IdleStep, error) {
	m := meter{t.pid()}
	base, err := m.sample()
	if err != nil {
		return nil, err
	}
	var out []IdleStep
	have := 0
	for _, n := range cfg.IdleSteps {
		if n > len(devs) {
			n = len(devs)
		}
		if n <= have {
			continue
		}
		ramp, err := pool.add(ctx, devs[have:n], 64)
		if err != nil {
			return out, fmt.Errorf("connect %d agents: %w", n, err)
		}
		ramp = max(ramp, time.Millisecond)
		cfg.logf("%s: %d agents up in %.1f s", t.name(), n, ramp.Seconds())
		added := n - have
		have = n
		if !sleep(ctx, cfg.Settle) {
			return out, ctx.Err()
		}
		a, err := m.sample()
		if err != nil {
			return out, err
		}
		if !sleep(ctx, cfg.RestWindow) {
			return out, ctx.Err()
		}
		b, err := m.sample()
		if err != nil {
			return out, err
		}
		out = append(out, IdleStep{
			N: n, RampSeconds: ramp.Seconds(), ConnectsPerSec: float64(added) / ramp.Seconds(),
			RSSBaseBytes: base.target.RSS, RSSBytes: b.target.RSS,
			PerConnBytes:  float64(b.target.RSS-base.target.RSS) / float64(n),
			CPURestPct:    cpuPercent(a.target, b.target),
			GenCPURestPct: cpuPercent(a.gen, b.gen),
			Up:            pool.upCount(),
		})
	}
	return out, nil
}

// RestartResult is what happened when the relay restarted under its agents.
type RestartResult struct {
	N                 int          `json:"n"`
	ExitSeconds       float64      `json:"exit_seconds"`      // SIGTERM to exit
	ListeningSeconds  float64      `json:"listening_seconds"` // SIGTERM to listening again
	T50               float64      `json:"t50_s"`             // SIGTERM to 50 % back; -1 if never within the bound
	T99               float64      `json:"t99_s"`
	T100              float64      `json:"t100_s"`
	Back              int          `json:"back"`
	PeakAcceptsPerSec float64      `json:"peak_accepts_per_s"` // most agents back within one second
	RefusedUpgrades   int64        `json:"refused_upgrades"`   // HTTP answers other than 101
	RefusedTCP        int64        `json:"refused_tcp"`        // connection refused (nothing listening)
	OtherDialErrors   int64        `json:"other_dial_errors"`
	MaxAttempts       int64        `json:"max_attempts"` // most dials one agent needed
	Curve             [][2]float64 `json:"curve"`        // seconds since SIGTERM, fraction back
}

// restart sends SIGTERM to the relay with every agent of pool connected and
// follows them back.
func restart(ctx context.Context, cfg *Config, t target, pool *agentPool) (*RestartResult, error) {
	agents := pool.list()
	r := &RestartResult{N: len(agents)}
	before := struct{ up, tcp, other int64 }{pool.stats.refusedUpgrade.Load(), pool.stats.refusedTCP.Load(), pool.stats.otherErr.Load()}
	pool.restart.Store(true)
	defer pool.restart.Store(false)
	t0 := time.Now()
	exited, listening, err := t.restart(ctx)
	if err != nil {
		return nil, fmt.Errorf("restart %s: %w", t.name(), err)
	}
	r.ExitSeconds, r.ListeningSeconds = exited.Sub(t0).Seconds(), listening.Sub(t0).Seconds()
	deadline := t0.Add(cfg.RestartBound)
	backAt := func() []float64 {
		var ts []float64
		for _, a := range agents {
			if up := a.lastUp.Load(); up > t0.UnixNano() && a.conn.Load() != nil {
				ts = append(ts, float64(up-t0.UnixNano())/1e9)
			}
		}
		return ts
	}
	for time.Now().Before(deadline) && len(backAt()) < len(agents) {
		if !sleep(ctx, 100*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
	ts := backAt()
	slices.Sort(ts)
	r.Back = len(ts)
	at := func(frac float64) float64 {
		k := int(math.Ceil(frac*float64(len(agents)))) - 1
		if k < 0 || k >= len(ts) {
			return -1
		}
		return ts[k]
	}
	r.T50, r.T99, r.T100 = at(0.5), at(0.99), at(1)
	for i, j := 0, 0; i < len(ts); i++ { // most arrivals in any one-second window
		for ts[i]-ts[j] > 1 {
			j++
		}
		r.PeakAcceptsPerSec = max(r.PeakAcceptsPerSec, float64(i-j+1))
	}
	r.RefusedUpgrades = pool.stats.refusedUpgrade.Load() - before.up
	r.RefusedTCP = pool.stats.refusedTCP.Load() - before.tcp
	r.OtherDialErrors = pool.stats.otherErr.Load() - before.other
	for _, a := range agents {
		if a.lastUp.Load() > t0.UnixNano() {
			r.MaxAttempts = max(r.MaxAttempts, a.needed.Load())
		} else {
			r.MaxAttempts = max(r.MaxAttempts, a.attempts.Load())
		}
	}
	r.Curve = [][2]float64{{0, 0}}
	step := max(1, len(ts)/200)
	for i := 0; i < len(ts); i += step {
		r.Curve = append(r.Curve, [2]float64{ts[i], float64(i+1) / float64(len(agents))})
	}
	if len(ts) > 0 {
		r.Curve = append(r.Curve, [2]float64{ts[len(ts)-1], float64(len(ts)) / float64(len(agents))})
	}
	return r, nil
}

// FanoutResult is telemetry fan-out over one window.
type FanoutResult struct {
	Agents          int     `json:"agents"`
	Clients         int     `json:"clients"`
	RateHz          float64 `json:"rate_hz"`             // telemetry per agent per second
	OfferedPerSec   float64 `json:"offered_per_s"`       // deliveries the agents ask for: agents × rate × clients
	DeliveredPerSec float64 `json:"delivered_per_s"`     // telemetry frames the clients received
	SentPerSec      float64 `json:"sent_per_s"`          // frames the agents managed to send
	CPUPct          float64 `json:"cpu_pct"`             // relay, % of one core
	GenCPUPct       float64 `json:"gen_cpu_pct"`         // load generator
	RSSBytes        int64   `json:"rss_bytes"`           // relay at the end of the window
	MsgsPerCPUSec   float64 `json:"delivered_per_cpu_s"` // delivered per second of relay CPU
}

// Latency summarises command round trips.
type Latency struct {
	N       int       `json:"n"`
	Errors  int       `json:"errors"`
	P50us   float64   `json:"p50_us"`
	P99us   float64   `json:"p99_us"`
	MaxUs   float64   `json:"max_us"`
	Samples []float64 `json:"-"` // sorted, µs, for the plot
}

func summarise(samples []float64, errs int) *Latency {
	slices.Sort(samples)
	l := &Latency{N: len(samples), Errors: errs, Samples: samples}
	if len(samples) > 0 {
		q := func(p float64) float64 { return samples[min(len(samples)-1, int(p*float64(len(samples))))] }
		l.P50us, l.P99us, l.MaxUs = q(0.5), q(0.99), samples[len(samples)-1]
	}
	return l
}

// fanRig is a set of agents streaming telemetry to clients that all watch
// every one of them, used for fan-out and round trips.
type fanRig struct {
	t       target
	agents  *agentPool
	clients []*simClient
	devs    []device
	frame   []byte
}

func newFanRig(ctx context.Context, cfg *Config, t target, src *sourceAddrs, devs []device, s session) (*fanRig, error) {
	r := &fanRig{t: t, devs: devs, frame: t.wire().telemetry(telemetryEnvelope(cfg.MessageBytes))}
	r.agents = &agentPool{w: t.wire(), addr: t.addr, src: src}
	if _, err := r.agents.add(ctx, devs, 32); err != nil {
		r.close()
		return nil, err
	}
	var st dialStats
	for i := 0; i < cfg.FanClients; i++ {
		c, err := dialClient(ctx, t.wire(), t.addr(), src, s, &st)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
		r.clients = append(r.clients, c)
	}
	sleep(ctx, min(time.Second, cfg.Window/2)) // presence and watch settle
	return r, nil
}

func (r *fanRig) close() {
	for _, c := range r.clients {
		c.close()
	}
	r.agents.close()
}

func (r *fanRig) delivered() int64 {
	var n int64
	for _, c := range r.clients {
		n += c.telemetry.Load()
	}
	return n
}

// stream makes every agent send telemetry at rate Hz until ctx ends, and
// counts the frames sent.
func (r *fanRig) stream(ctx context.Context, rate float64, sent *sync.WaitGroup, count *atomic.Int64) {
	period := time.Duration(float64(time.Second) / rate)
	for i, a := range r.agents.list() {
		sent.Go(func() {
			// Spread the agents' phases over one period.
			if !sleep(ctx, period*time.Duration(i)/time.Duration(len(r.devs))) {
				return
			}
			tk := time.NewTicker(period)
			defer tk.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tk.C:
				}
				if c := a.conn.Load(); c != nil && c.write(r.frame) == nil {
					count.Add(1)
				}
			}
		})
	}
}

// probe runs command round trips from every client, each one at a time at
// rate per second, until ctx ends. The clients' probes are spread evenly over
// the period (client i starts i/N of a period late), like independent users;
// with burst they all fire at the same instant, so each round trip also waits
// behind the others of its burst.
func (r *fanRig) probe(ctx context.Context, rate float64, burst bool) *Latency {
	var mu sync.Mutex
	var samples []float64
	errs := 0
	var wg sync.WaitGroup
	period := time.Duration(float64(time.Second) / rate)
	for i, c := range r.clients {
		wg.Go(func() {
			if !burst && !sleep(ctx, period*time.Duration(i)/time.Duration(len(r.clients))) {
				return
			}
			tk := time.NewTicker(period)
			defer tk.Stop()
			for k := i; ; k++ {
				select {
				case <-ctx.Done():
					return
				case <-tk.C:
				}
				d, err := c.roundTrip(r.devs[k%len(r.devs)].ID, 5*time.Second)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					samples = append(samples, float64(d)/float64(time.Microsecond))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return summarise(samples, errs)
}

// window streams at rate Hz per agent for cfg.Window (after a one-second
// warm-up), optionally probing round trips meanwhile, and measures.
func (r *fanRig) window(ctx context.Context, cfg *Config, rate float64, probeRate float64) (*FanoutResult, *Latency, error) {
	m := meter{r.t.pid()}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var sent atomic.Int64
	if rate > 0 {
		r.stream(sctx, rate, &wg, &sent)
	}
	defer func() { stop(); wg.Wait() }()
	warm := min(time.Second, cfg.Window/2)
	if !sleep(ctx, warm) {
		return nil, nil, ctx.Err()
	}
	var lat *Latency
	pctx, pstop := context.WithTimeout(ctx, cfg.Window)
	defer pstop()
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		if probeRate > 0 {
			lat = r.probe(pctx, probeRate, cfg.ProbeBurst)
		}
	}()
	a, err := m.sample()
	if err != nil {
		return nil, nil, err
	}
	d0, s0 := r.delivered(), sent.Load()
	<-pctx.Done()
	b, err := m.sample()
	if err != nil {
		return nil, nil, err
	}
	d1, s1 := r.delivered(), sent.Load()
	<-probed
	secs := b.target.At.Sub(a.target.At).Seconds()
	f := &FanoutResult{
		Agents: len(r.devs), Clients: len(r.clients), RateHz: rate,
		OfferedPerSec:   rate * float64(len(r.devs)*len(r.clients)),
		DeliveredPerSec: float64(d1-d0) / secs, SentPerSec: float64(s1-s0) / secs,
		CPUPct: cpuPercent(a.target, b.target), GenCPUPct: cpuPercent(a.gen, b.gen), RSSBytes: b.target.RSS,
	}
	if cpu := (b.target.CPU - a.target.CPU).Seconds(); cpu > 0 {
		f.MsgsPerCPUSec = float64(d1-d0) / cpu
	}
	stop()
	wg.Wait()
	sleep(ctx, warm) // let queues drain before the next window
	return f, lat, nil
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
