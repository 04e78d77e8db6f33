package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// RealResult is the realistic fan-out (issue 15): many agents, each watched
// by a few browsers of its own, each agent at its own rate.
type RealResult struct {
	Agents          int     `json:"agents"`
	ClientsPerAgent int     `json:"clients_per_agent"`
	MinHz           float64 `json:"min_hz"`
	MaxHz           float64 `json:"max_hz"`
	OfferedInPerSec float64 `json:"offered_in_per_s"`  // frames the agents are asked to send
	OfferedPerSec   float64 `json:"offered_out_per_s"` // deliveries that asks for
	SentPerSec      float64 `json:"sent_per_s"`        // frames the agents managed to send
	DeliveredPerSec float64 `json:"delivered_per_s"`
	CPUPct          float64 `json:"cpu_pct"`     // relay, % of one core
	GenCPUPct       float64 `json:"gen_cpu_pct"` // load generator
	MsgsPerCPUSec   float64 `json:"delivered_per_cpu_s"`
	P50us           float64 `json:"delivery_p50_us"` // agent's write → client's read
	P99us           float64 `json:"delivery_p99_us"`
	MaxUs           float64 `json:"delivery_max_us"`
	Samples         int     `json:"samples"`
}

// realRate is agent i's telemetry rate out of n: spread evenly over
// [lo, hi] Hz, so the mix holds idle-ish desktops and busy ones.
func realRate(i, n int, lo, hi float64) float64 {
	if n <= 1 {
		return hi
	}
	return lo + (hi-lo)*float64(i)/float64(n-1)
}

// stampedTelemetry is a telemetry envelope of about size bytes carrying its
// send time (Unix ns) in data.sent_ns, which the clients read back.
func stampedTelemetry(size int, sentNs int64) []byte {
	head := `{"type":"telemetry","ts":"` + time.Unix(0, sentNs).UTC().Format("2006-01-02T15:04:05.000Z") +
		`","data":{"cpu_percent":12.5,"mem_percent":41.0,"sent_ns":` + strconv.FormatInt(sentNs, 10) + `,"pad":"`
	tail := `"}}`
	n := max(0, size-len(head)-len(tail))
	b := make([]byte, 0, len(head)+n+len(tail))
	b = append(b, head...)
	for range n {
		b = append(b, 'x')
	}
	return append(b, tail...)
}

var sentKey = []byte(`"sent_ns":`)

// sentNs reads data.sent_ns back from a delivered frame (any wire), or 0.
func sentNs(frame []byte) int64 {
	i := bytes.Index(frame, sentKey)
	if i < 0 {
		return 0
	}
	var v int64
	rest := bytes.TrimLeft(frame[i+len(sentKey):], " ") // Python's json.dumps writes ": "
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + int64(c-'0')
	}
	return v
}

// realSessions gives each of devs a session of its own (on Tether's relay a
// pairing of that device alone).
func realSessions(ctx context.Context, t target, devs []device) ([]session, error) {
	out := make([]session, len(devs))
	for i, d := range devs {
		s, err := t.session(ctx, []device{d})
		if err != nil {
			return nil, fmt.Errorf("session of device %d: %w", i, err)
		}
		out[i] = s
	}
	return out, nil
}

// realistic runs the realistic fan-out once: cfg.RealAgents agents at
// cfg.RealMinHz…cfg.RealMaxHz, each watched by cfg.RealClients clients of its
// own session; delivery latency is timed from the agent's write to the
// client's read.
func realistic(ctx context.Context, cfg *Config, t target, src *sourceAddrs, devs []device, sess []session) (*RealResult, error) {
	n := min(len(devs), len(sess))
	pool := &agentPool{w: t.wire(), addr: t.addr, src: src}
	defer pool.close()
	if _, err := pool.add(ctx, devs[:n], 32); err != nil {
		return nil, fmt.Errorf("realistic: agents: %w", err)
	}
	var clients []*simClient
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	var st dialStats
	for i := range n {
		for range cfg.RealClients {
			c, err := dialClient(ctx, t.wire(), t.addr(), src, sess[i], &st, func(c *simClient) { c.lat = &latencyRecorder{} })
			if err != nil {
				return nil, fmt.Errorf("realistic: client of device %d: %w", i, err)
			}
			clients = append(clients, c)
		}
	}
	sleep(ctx, min(time.Second, cfg.Window/2)) // presence and watch settle

	r := &RealResult{Agents: n, ClientsPerAgent: cfg.RealClients, MinHz: cfg.RealMinHz, MaxHz: cfg.RealMaxHz}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var sent atomic.Int64
	w := t.wire()
	for i, a := range pool.list() {
		hz := realRate(i, n, cfg.RealMinHz, cfg.RealMaxHz)
		r.OfferedInPerSec += hz
		period := time.Duration(float64(time.Second) / hz)
		wg.Go(func() {
			if !sleep(sctx, time.Duration(float64(period)*float64(i%97)/97)) { // spread phases
				return
			}
			tk := time.NewTicker(period)
			defer tk.Stop()
			for {
				select {
				case <-sctx.Done():
					return
				case <-tk.C:
				}
				if c := a.conn.Load(); c != nil && c.write(w.telemetry(stampedTelemetry(cfg.MessageBytes, time.Now().UnixNano()))) == nil {
					sent.Add(1)
				}
			}
		})
	}
	defer func() { stop(); wg.Wait() }()
	r.OfferedPerSec = r.OfferedInPerSec * float64(cfg.RealClients)
	warm := min(time.Second, cfg.Window/2)
	if !sleep(ctx, warm) {
		return nil, ctx.Err()
	}
	m := meter{t.pid()}
	a, err := m.sample()
	if err != nil {
		return nil, err
	}
	var d0 int64
	for _, c := range clients {
		d0 += c.telemetry.Load()
		c.lat.start()
	}
	s0 := sent.Load()
	if !sleep(ctx, cfg.Window) {
		return nil, ctx.Err()
	}
	b, err := m.sample()
	if err != nil {
		return nil, err
	}
	var d1 int64
	var samples []float64
	for _, c := range clients {
		d1 += c.telemetry.Load()
		samples = append(samples, c.lat.stop()...)
	}
	s1 := sent.Load()
	secs := b.target.At.Sub(a.target.At).Seconds()
	r.DeliveredPerSec = float64(d1-d0) / secs
	r.SentPerSec = float64(s1-s0) / secs
	r.CPUPct, r.GenCPUPct = cpuPercent(a.target, b.target), cpuPercent(a.gen, b.gen)
	if cpu := (b.target.CPU - a.target.CPU).Seconds(); cpu > 0 {
		r.MsgsPerCPUSec = float64(d1-d0) / cpu
	}
	l := summarise(samples, 0)
	r.P50us, r.P99us, r.MaxUs, r.Samples = l.P50us, l.P99us, l.MaxUs, l.N
	stop()
	wg.Wait()
	sleep(ctx, warm) // let queues drain before the sockets close
	return r, nil
}

// latencyRecorder collects delivery latencies of one client while started.
// Safe for concurrent use (the client's reader records, the bench starts and
// stops).
type latencyRecorder struct {
	mu      sync.Mutex
	on      bool
	samples []float64 // µs
}

func (l *latencyRecorder) start() {
	l.mu.Lock()
	l.on, l.samples = true, l.samples[:0]
	l.mu.Unlock()
}

// stop ends recording and returns the samples.
func (l *latencyRecorder) stop() []float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = false
	return slices.Clone(l.samples)
}

// record notes the latency of frame received at at, if it carries a send time.
func (l *latencyRecorder) record(frame []byte, at time.Time) {
	ns := sentNs(frame)
	if ns == 0 {
		return
	}
	l.mu.Lock()
	if l.on {
		l.samples = append(l.samples, float64(at.UnixNano()-ns)/1e3)
	}
	l.mu.Unlock()
}
