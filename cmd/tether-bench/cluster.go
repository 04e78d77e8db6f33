package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ClusterResults is the cluster benchmark (`tether-bench -cluster N`),
// written to cluster.json.
type ClusterResults struct {
	Date       string           `json:"date"`
	Host       string           `json:"host"`
	CPUs       int              `json:"cpus"`
	Load       string           `json:"load_before"`
	LoadEnd    string           `json:"load_after"`
	Command    string           `json:"command"`
	Nodes      int              `json:"nodes"`
	Agents     int              `json:"agents"`
	Generators int              `json:"generators"`
	SetupSecs  float64          `json:"setup_seconds"` // registering and pairing
	Idle       *ClusterIdle     `json:"idle,omitempty"`
	RTTSame    *Latency         `json:"rtt_same_node,omitempty"`
	RTTCross   *Latency         `json:"rtt_cross_node,omitempty"`
	Kill       *ClusterKill     `json:"kill,omitempty"`
	Fanout     []*ClusterFanout `json:"fanout,omitempty"` // all nodes, then 1 and 3 (scaling)
	Errors     []string         `json:"errors,omitempty"`
	Seconds    float64          `json:"seconds"`
}

// ClusterIdle is the idle agents held across the nodes.
type ClusterIdle struct {
	Held           int              `json:"held"`
	RampSeconds    float64          `json:"ramp_seconds"`
	ConnectsPerSec float64          `json:"connects_per_s"`
	Nodes          []NodeIdle       `json:"nodes"`
	GenRSSBytes    int64            `json:"gen_rss_bytes"`    // every load generator together
	GenCPURestPct  float64          `json:"gen_cpu_rest_pct"` // every load generator together
	NATSCPURestPct float64          `json:"nats_cpu_rest_pct"`
	NATS           map[string]int64 `json:"nats_msgs_at_rest_per_s,omitempty"`
}

// NodeIdle is one node's share of the idle agents.
type NodeIdle struct {
	Node         int     `json:"node"`
	Agents       int     `json:"agents"`
	RSSBaseBytes int64   `json:"rss_base_bytes"` // after registration, before any agent
	RSSBytes     int64   `json:"rss_bytes"`
	PerConnBytes float64 `json:"per_conn_bytes"`
	CPURestPct   float64 `json:"cpu_rest_pct"`
}

// ClusterKill is what followed a kill -9 of one node.
type ClusterKill struct {
	Node     int          `json:"node"`
	Agents   int          `json:"agents"` // on the node when it was killed
	Back     int          `json:"back"`   // up again (on another node) within the bound
	T50      float64      `json:"t50_s"`  // -1: never within the bound
	T90      float64      `json:"t90_s"`
	T99      float64      `json:"t99_s"`
	T100     float64      `json:"t100_s"`
	Curve    [][2]float64 `json:"curve"` // seconds since the kill, fraction back
	Watched  int          `json:"watched"`
	SeenBack int          `json:"seen_back"` // watched devices a client on another node saw online again
	SeenT50  float64      `json:"seen_t50_s"`
	SeenT99  float64      `json:"seen_t99_s"`
	SeenT100 float64      `json:"seen_t100_s"`
	// OfflineSeen counts offline presences the watching client received
	// after the kill; OfflineAtEnd the watched devices shown offline at the
	// end (an agent back on another node must not be shown offline when the
	// dead node is declared dead).
	OfflineSeen int `json:"offline_seen"`
	// OfflineAfterBack counts offline presences for devices already seen
	// back online (on their new node): a flicker a user would see.
	OfflineAfterBack int          `json:"offline_after_back"`
	OfflineAtEnd     int          `json:"offline_at_end"`
	SeenCurve        [][2]float64 `json:"seen_curve"`
	Bound            float64      `json:"bound_s"`
}

// ClusterFanout is telemetry fan-out across some of the nodes.
type ClusterFanout struct {
	Nodes           int     `json:"nodes"`
	Agents          int     `json:"agents"`
	Clients         int     `json:"clients"`
	RateHz          float64 `json:"rate_hz"`
	OfferedPerSec   float64 `json:"offered_per_s"`
	SentPerSec      float64 `json:"sent_per_s"`
	DeliveredPerSec float64 `json:"delivered_per_s"`
	RelayCPUPct     float64 `json:"relay_cpu_pct"` // every node together
	GenCPUPct       float64 `json:"gen_cpu_pct"`
	NATSCPUPct      float64 `json:"nats_cpu_pct"`
	NATSInPerSec    float64 `json:"nats_in_per_s"`
	NATSOutPerSec   float64 `json:"nats_out_per_s"`
	NATSPerDelivery float64 `json:"nats_msgs_per_delivery"` // (in + out) / delivered
	MsgsPerCPUSec   float64 `json:"delivered_per_relay_cpu_s"`
	Error           string  `json:"error,omitempty"`
}

// clusterRig is the running cluster: PostgreSQL, nats-server and the nodes.
type clusterRig struct {
	cfg   *Config
	pg    *pgServer
	nats  *natsServer
	nodes []*clusterNode
}

func (r *clusterRig) close() {
	for _, n := range r.nodes {
		n.stop()
	}
	if r.nats != nil {
		r.nats.p.stop(syscall.SIGTERM, 10*time.Second)
	}
	if r.pg != nil {
		r.pg.stop()
	}
}

// RunCluster runs the cluster benchmark: cfg.Cluster relay nodes on one
// PostgreSQL and one nats-server, cfg.ClusterAgents idle agents spread over
// them by load-generator child processes, round trips within and across
// nodes, a kill -9 of the last node, and fan-out across all nodes and on 1
// and 3 of them. It writes cluster.json, cluster.txt and cluster-recovery.svg
// into cfg.Out.
func RunCluster(ctx context.Context, cfg Config) (*ClusterResults, error) {
	cfg.fill()
	if cfg.ClusterAgents <= 0 {
		cfg.ClusterAgents = 6000
	}
	if cfg.ClusterGens <= 0 {
		cfg.ClusterGens = max(2, (cfg.ClusterAgents+15999)/16000)
	}
	if cfg.ClusterWatch <= 0 {
		cfg.ClusterWatch = 500
	}
	began := time.Now()
	host, _ := os.Hostname()
	res := &ClusterResults{Date: began.Format(time.RFC3339), Host: host, CPUs: runtime.NumCPU(), Load: loadavg(),
		Command: strings.Join(os.Args, " "), Nodes: cfg.Cluster, Agents: cfg.ClusterAgents, Generators: cfg.ClusterGens}
	tmp, err := os.MkdirTemp("", "tether-bench-cluster")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cfg.AgentRun, cfg.Targets = -1, []string{"tether"} // locate builds the relay only
	if err := cfg.locate(ctx, tmp); err != nil {
		return nil, err
	}
	raiseFileLimit()
	rig := &clusterRig{cfg: &cfg}
	defer rig.close()
	cfg.logf("cluster: starting PostgreSQL, nats-server and %d relay nodes", cfg.Cluster)
	if rig.pg, err = startPostgres(ctx, tmp); err != nil {
		return nil, err
	}
	if rig.nats, err = startNATS(ctx); err != nil {
		return nil, err
	}
	for i := range cfg.Cluster {
		a, err := freePort()
		if err != nil {
			return nil, err
		}
		n := &clusterNode{i: i, addr: a, data: filepath.Join(tmp, fmt.Sprintf("node%d", i))}
		if err := n.start(ctx, cfg.RelayBin, rig.pg.url(), rig.nats.url()); err != nil {
			return nil, err
		}
		rig.nodes = append(rig.nodes, n)
	}

	// Devices: the first ClusterAgents are the idle agents, home[i] their
	// node: ClusterVictim of them on the last node (the one killed), the
	// rest round robin over the others. Registered through every node at
	// once, each from source addresses of its own.
	setup := time.Now()
	N := cfg.Cluster
	total := max(cfg.ClusterAgents, cfg.FanAgents, 2*N)
	home := clusterHomes(cfg.ClusterAgents, N, cfg.ClusterVictim)
	per := (total + N - 1) / N
	parts := make([][]device, N)
	var wg sync.WaitGroup
	errs := make([]error, N)
	for i, n := range rig.nodes {
		wg.Go(func() {
			api := &relayAPI{base: "http://" + n.addr, nextAddr: 100 + i*(per/20+10)}
			parts[i], errs[i] = api.devices(ctx, max(0, min(per, total-i*per)))
		})
	}
	wg.Wait()
	var devs []device
	for i := range parts {
		if errs[i] != nil {
			return nil, fmt.Errorf("register through node %d: %w", i, errs[i])
		}
		devs = append(devs, parts[i]...)
	}
	cfg.logf("cluster: %d devices registered in %.1f s", len(devs), time.Since(setup).Seconds())
	pairAPI := &relayAPI{base: "http://" + rig.nodes[0].addr, nextAddr: 100 + N*(per/20+10)}
	// Two idle agents on each node take the round trips.
	var rttDevs []device
	var rttHome []int
	for nd := range N {
		for i, k := 0, 0; i < cfg.ClusterAgents && k < 2; i++ {
			if home[i] == nd {
				rttDevs, rttHome, k = append(rttDevs, devs[i]), append(rttHome, nd), k+1
			}
		}
	}
	rttSess, err := pairAPI.pairAll(ctx, rttDevs)
	if err != nil {
		return nil, err
	}
	victim := N - 1
	var watchDevs []device
	for i := 0; i < cfg.ClusterAgents && len(watchDevs) < cfg.ClusterWatch; i++ {
		if home[i] == victim {
			watchDevs = append(watchDevs, devs[i])
		}
	}
	watchSess, err := pairAPI.pairAll(ctx, watchDevs)
	if err != nil {
		return nil, err
	}
	fanDevs := devs[:cfg.FanAgents]
	fanSess, err := pairAPI.pairAll(ctx, fanDevs)
	if err != nil {
		return nil, err
	}
	res.SetupSecs = time.Since(setup).Seconds()
	cfg.logf("cluster: paired %d + %d + %d devices; setup %.1f s", len(rttDevs), len(watchDevs), len(fanDevs), res.SetupSecs)

	fail := func(what string, err error) {
		res.Errors = append(res.Errors, what+": "+err.Error())
		cfg.logf("cluster: %s: %v", what, err)
	}
	if err := rig.idlePhase(ctx, res, devs[:cfg.ClusterAgents], home, rttSess, rttDevs, rttHome, watchSess, watchDevs); err != nil {
		fail("idle, round trips and kill", err)
	}
	rig.quiet(ctx, "after the idle agents left")
	if ctx.Err() == nil && rig.nodes[victim].p.exitErr() != nil {
		cfg.logf("cluster: restarting node %d for the fan-out", victim)
		if err := rig.nodes[victim].start(ctx, cfg.RelayBin, rig.pg.url(), rig.nats.url()); err != nil {
			fail("restart the killed node", err)
		}
	}
	for _, k := range []int{N, 1, min(3, N)} {
		if ctx.Err() != nil {
			break
		}
		if k == N && len(res.Fanout) > 0 {
			continue
		}
		f, err := rig.fanPhase(ctx, k, fanDevs, fanSess)
		if err != nil {
			fail(fmt.Sprintf("fan-out on %d nodes", k), err)
			f = &ClusterFanout{Nodes: k, Error: err.Error()}
		}
		res.Fanout = append(res.Fanout, f)
	}
	res.Seconds = time.Since(began).Seconds()
	res.LoadEnd = loadavg()
	if err := writeClusterOutputs(&cfg, res); err != nil {
		return res, err
	}
	return res, ctx.Err()
}

// clusterHomes places n agents on nodes nodes: victim of them (default an
// even share) on the last node, the rest round robin over the others.
func clusterHomes(n, nodes, victim int) []int {
	if victim <= 0 {
		victim = n / nodes
	}
	victim = min(victim, n)
	home := make([]int, n)
	// Interleave the victim's agents evenly among the others', so every
	// load generator holds some of them.
	v, o := 0, 0
	for i := range home {
		if v < victim && (o >= n-victim || v*(n-victim) <= o*victim) {
			home[i] = nodes - 1
			v++
		} else {
			home[i] = o % (nodes - 1)
			o++
		}
	}
	return home
}

// nodeAddrs returns the nodes an agent homed on node home may use: home
// first, then the others rotated by k, so the agents of a dead node spread
// evenly over the rest.
func (r *clusterRig) nodeAddrs(home, k int, within int) []string {
	out := []string{r.nodes[home].addr}
	for j := range within - 1 {
		out = append(out, r.nodes[(home+1+(j+k)%(within-1))%within].addr)
	}
	return out
}

// generators starts children holding the agents (device i on node i%within)
// and the clients, spread round robin over n children.
func (r *clusterRig) generators(ctx context.Context, n int, agents []childAgent, clients []childClient) ([]*genChild, error) {
	specs := make([]childSpec, n)
	for i, a := range agents {
		specs[i%n].Agents = append(specs[i%n].Agents, a)
	}
	for i, c := range clients {
		specs[i%n].Clients = append(specs[i%n].Clients, c)
	}
	var gs []*genChild
	for i := range specs {
		specs[i].FrameBytes, specs[i].Conc = r.cfg.MessageBytes, 48
		g, err := startChild(ctx, fmt.Sprintf("load generator %d", i), specs[i])
		if err != nil {
			stopAll(gs)
			return nil, err
		}
		gs = append(gs, g)
	}
	return gs, nil
}

func stopAll(gs []*genChild) {
	var wg sync.WaitGroup
	for _, g := range gs {
		wg.Go(g.stop)
	}
	wg.Wait()
}

// waitUp polls the children until agents agents and clients clients are
// up, or bound passes.
func waitUp(ctx context.Context, gs []*genChild, agents, clients int, bound time.Duration) (childReply, error) {
	deadline := time.Now().Add(bound)
	for {
		r, err := askAll(gs, childCmd{})
		if err != nil {
			return r, err
		}
		if r.Up >= agents && r.Clients >= clients {
			return r, nil
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("%d of %d agents and %d of %d clients up after %s", r.Up, agents, r.Clients, clients, bound)
		}
		if !sleep(ctx, 250*time.Millisecond) {
			return r, ctx.Err()
		}
	}
}

// waitWatched polls the children until every client is open and every
// agent that is up was told at least clients watchers, or bound passes.
func waitWatched(ctx context.Context, gs []*genChild, clients int, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for {
		r, err := askAll(gs, childCmd{})
		if err != nil {
			return err
		}
		if fanValid(r, clients) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", bound, fanValid(r, clients))
		}
		if !sleep(ctx, 250*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// fanValid says why a fan-out measured with the children's counters r is
// not a figure of clients sockets all connected and watching every agent,
// or nil when it is: a client closed (by the relay: too slow, refused …) or
// an agent told fewer watchers means the deliveries counted are not those
// of the fan-out offered.
func fanValid(r childReply, clients int) error {
	switch {
	case r.Closed > 0 || r.Clients < clients:
		return fmt.Errorf("no valid fan-out figure: %d of %d clients open, %d closed (see tether_sockets_closed_total on the nodes' /metrics)", r.Clients, clients, r.Closed)
	case r.MinWatchers < clients:
		return fmt.Errorf("no valid fan-out figure: an agent is told %d watchers, not %d (watch interest did not cross the nodes)", r.MinWatchers, clients)
	}
	return nil
}

// quiet waits until the nodes have worked off what came before (after
// 100,000 agents connect or leave they write last-seen times and presence
// for a while): until every live node uses under 10 % of a core over a
// second, for at most a minute. It logs how long that took.
func (r *clusterRig) quiet(ctx context.Context, when string) {
	start := time.Now()
	prev := sampleAll(r.procs())
	for time.Since(start) < time.Minute {
		if !sleep(ctx, time.Second) {
			return
		}
		cur := sampleAll(r.procs())
		busy := 0.0
		for i := range cur {
			if r.nodes[i].p.exitErr() == nil {
				busy = max(busy, cpuPercent(prev[i], cur[i]))
			}
		}
		if busy < 10 {
			r.cfg.logf("cluster: nodes quiet %.0f s %s", time.Since(start).Seconds(), when)
			return
		}
		prev = cur
	}
	r.cfg.logf("cluster: nodes still busy (over 10 %% of a core) after a minute %s", when)
}

func (r *clusterRig) procs() []int {
	var pids []int
	for _, n := range r.nodes {
		pids = append(pids, n.pid())
	}
	return pids
}

// sampleAll reads /proc for each pid (a missing process reads as zero).
func sampleAll(pids []int) []procSample {
	out := make([]procSample, len(pids))
	for i, p := range pids {
		out[i], _ = readProc(p)
		out[i].At = time.Now()
	}
	return out
}

func genPids(gs []*genChild) []int {
	var pids []int
	for _, g := range gs {
		pids = append(pids, g.p.pid())
	}
	return pids
}

// sumCPU is the CPU of every process between a and b, in % of one core.
func sumCPU(a, b []procSample) float64 {
	var s float64
	for i := range a {
		if b[i].CPU >= a[i].CPU && !a[i].At.IsZero() {
			s += cpuPercent(a[i], b[i])
		}
	}
	return s
}

// idlePhase holds the idle agents, times round trips within and across
// nodes, then kills the last node and follows its agents back.
func (r *clusterRig) idlePhase(ctx context.Context, res *ClusterResults, devs []device, home []int, rttSess session, rttDevs []device, rttHome []int, watchSess session, watchDevs []device) error {
	cfg := r.cfg
	N := len(r.nodes)
	base := sampleAll(r.procs())
	agents := make([]childAgent, len(devs))
	perNode := make([]int, N)
	for i, d := range devs {
		agents[i] = childAgent{Dev: d, Addrs: r.nodeAddrs(home[i], perNode[home[i]], N)}
		perNode[home[i]]++
	}
	cfg.logf("cluster: connecting %d agents over %d nodes from %d load generators", len(devs), N, cfg.ClusterGens)
	t0 := time.Now()
	gs, err := r.generators(ctx, cfg.ClusterGens, agents, nil)
	if err != nil {
		return err
	}
	defer stopAll(gs)
	if _, err := waitUp(ctx, gs, len(devs), 0, 30*time.Second+time.Duration(len(devs))*3*time.Millisecond); err != nil {
		return err
	}
	ramp := time.Since(t0)
	cfg.logf("cluster: %d agents up in %.1f s", len(devs), ramp.Seconds())
	sleep(ctx, cfg.Settle)
	r.quiet(ctx, "after the ramp")
	gpids := genPids(gs)
	natsPid := []int{r.nats.p.pid()}
	a, ga, na := sampleAll(r.procs()), sampleAll(gpids), sampleAll(natsPid)
	v0, _ := r.nats.varz()
	if !sleep(ctx, cfg.RestWindow) {
		return ctx.Err()
	}
	b, gb, nb := sampleAll(r.procs()), sampleAll(gpids), sampleAll(natsPid)
	v1, _ := r.nats.varz()
	up, err := askAll(gs, childCmd{})
	if err != nil {
		return err
	}
	secs := b[0].At.Sub(a[0].At).Seconds()
	id := &ClusterIdle{Held: up.Up, RampSeconds: ramp.Seconds(), ConnectsPerSec: float64(len(devs)) / ramp.Seconds(),
		GenCPURestPct: sumCPU(ga, gb), NATSCPURestPct: sumCPU(na, nb),
		NATS: map[string]int64{"in": int64(float64(v1.InMsgs-v0.InMsgs) / secs), "out": int64(float64(v1.OutMsgs-v0.OutMsgs) / secs)}}
	for _, s := range gb {
		id.GenRSSBytes += s.RSS
	}
	for i := range r.nodes {
		ni := NodeIdle{Node: i, Agents: perNode[i], RSSBaseBytes: base[i].RSS, RSSBytes: b[i].RSS, CPURestPct: cpuPercent(a[i], b[i])}
		if perNode[i] > 0 {
			ni.PerConnBytes = float64(b[i].RSS-base[i].RSS) / float64(perNode[i])
		}
		id.Nodes = append(id.Nodes, ni)
	}
	res.Idle = id
	cfg.logf("cluster: held %d; per connection %s KB", id.Held, perConnList(id))

	// Round trips from a client on node 0, to agents on node 0 (same node)
	// and on every other node (cross-node), alternately.
	var st dialStats
	src := newSourceAddrs()
	c, err := dialClient(ctx, tetherWire{}, r.nodes[0].addr, src, rttSess, &st)
	if err != nil {
		return fmt.Errorf("round-trip client: %w", err)
	}
	defer c.close()
	sleep(ctx, time.Second)
	var same, cross []float64
	errs := 0
	period := time.Second / 50
	end := time.Now().Add(cfg.Window)
	var sameDevs, crossDevs []string
	for i, d := range rttDevs {
		if rttHome[i] == 0 {
			sameDevs = append(sameDevs, d.ID)
		} else {
			crossDevs = append(crossDevs, d.ID)
		}
	}
	for k := 0; time.Now().Before(end); k++ {
		// Even probes go to an agent on node 0, odd ones to the other nodes in turn.
		d, into := sameDevs[k/2%len(sameDevs)], &same
		if k%2 == 1 {
			d, into = crossDevs[k/2%len(crossDevs)], &cross
		}
		dt, err := c.roundTrip(d, 5*time.Second)
		if err != nil {
			errs++
		} else {
			*into = append(*into, float64(dt)/float64(time.Microsecond))
		}
		if !sleep(ctx, period) {
			return ctx.Err()
		}
	}
	res.RTTSame, res.RTTCross = summarise(same, 0), summarise(cross, errs)
	cfg.logf("cluster: round trip same node p50 %.0f p99 %.0f µs; cross-node p50 %.0f p99 %.0f µs (%d errors)",
		res.RTTSame.P50us, res.RTTSame.P99us, res.RTTCross.P50us, res.RTTCross.P99us, errs)

	k, err := r.killPhase(ctx, gs, watchSess, watchDevs, src)
	res.Kill = k
	return err
}

func perConnList(id *ClusterIdle) string {
	var s []string
	for _, n := range id.Nodes {
		s = append(s, fmt.Sprintf("%.1f", n.PerConnBytes/1024))
	}
	return strings.Join(s, ", ")
}

// presenceLog follows the presence frames of a client after a mark.
type presenceLog struct {
	mark    atomic.Int64 // Unix ns; 0: not marked yet
	mu      sync.Mutex
	online  map[string]bool
	back    map[string]float64 // first online after the mark, seconds
	offline int                // offline frames after the mark
	flicker int                // of them, for a device already seen back online
}

func (l *presenceLog) see(frame []byte, at time.Time) {
	if !bytes.HasPrefix(frame, []byte(`{"type":"presence"`)) {
		return
	}
	var m struct {
		Device string
		Data   struct{ Online bool }
	}
	if json.Unmarshal(frame, &m) != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.online[m.Device] = m.Data.Online
	if mk := l.mark.Load(); mk != 0 && at.UnixNano() > mk {
		_, wasBack := l.back[m.Device]
		if !m.Data.Online {
			l.offline++
			if wasBack {
				l.flicker++
			}
		} else if !wasBack {
			l.back[m.Device] = float64(at.UnixNano()-mk) / 1e9
		}
	}
}

// killPhase kills the last node with SIGKILL and follows its agents back
// (as the load generators see them) and their presence (as a client on
// node 0 sees it).
func (r *clusterRig) killPhase(ctx context.Context, gs []*genChild, watchSess session, watchDevs []device, src *sourceAddrs) (*ClusterKill, error) {
	cfg := r.cfg
	victim := r.nodes[len(r.nodes)-1]
	pl := &presenceLog{online: map[string]bool{}, back: map[string]float64{}}
	var st dialStats
	c, err := dialClient(ctx, tetherWire{}, r.nodes[0].addr, src, watchSess, &st, func(c *simClient) { c.presence = pl.see })
	if err != nil {
		return nil, fmt.Errorf("watching client: %w", err)
	}
	defer c.close()
	onlineCount := func() int {
		pl.mu.Lock()
		defer pl.mu.Unlock()
		n := 0
		for _, d := range watchDevs {
			if pl.online[d.ID] {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); onlineCount() < len(watchDevs); {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the watching client sees %d of %d devices online before the kill", onlineCount(), len(watchDevs))
		}
		sleep(ctx, 100*time.Millisecond)
	}
	bound := cfg.RestartBound
	k := &ClusterKill{Node: victim.i, Watched: len(watchDevs), Bound: bound.Seconds()}
	t0 := time.Now()
	mk, err := askAll(gs, childCmd{Mark: t0.UnixNano(), MarkNode: victim.addr})
	if err != nil {
		return nil, err
	}
	pl.mark.Store(t0.UnixNano())
	k.Agents = mk.Marked
	cfg.logf("cluster: kill -9 node %d holding %d agents", victim.i, k.Agents)
	victim.kill()
	var lastBack int
	for time.Since(t0) < bound {
		rep, err := askAll(gs, childCmd{})
		if err != nil {
			return k, err
		}
		lastBack = rep.Back
		pl.mu.Lock()
		seen := len(pl.back)
		pl.mu.Unlock()
		// Watch past the moment the dead node is declared dead (7 s + a
		// check), to see no device wrongly shown offline afterwards.
		if rep.Back >= k.Agents && seen >= k.Watched && time.Since(t0) > 12*time.Second {
			break
		}
		if !sleep(ctx, 250*time.Millisecond) {
			return k, ctx.Err()
		}
	}
	rep, err := askAll(gs, childCmd{Times: true})
	if err != nil {
		return k, err
	}
	ts := rep.Times
	slices.Sort(ts)
	k.Back = len(ts)
	k.T50, k.T90, k.T99, k.T100 = quantileAt(ts, k.Agents, 0.5), quantileAt(ts, k.Agents, 0.9), quantileAt(ts, k.Agents, 0.99), quantileAt(ts, k.Agents, 1)
	k.Curve = curve(ts, k.Agents)
	pl.mu.Lock()
	var seen []float64
	for _, d := range watchDevs {
		if v, ok := pl.back[d.ID]; ok {
			seen = append(seen, v)
		}
		if !pl.online[d.ID] {
			k.OfflineAtEnd++
		}
	}
	k.OfflineSeen, k.OfflineAfterBack = pl.offline, pl.flicker
	pl.mu.Unlock()
	slices.Sort(seen)
	k.SeenBack = len(seen)
	k.SeenT50, k.SeenT99, k.SeenT100 = quantileAt(seen, k.Watched, 0.5), quantileAt(seen, k.Watched, 0.99), quantileAt(seen, k.Watched, 1)
	k.SeenCurve = curve(seen, k.Watched)
	cfg.logf("cluster: %d/%d back (last poll %d); 50 %% %.2f s, 99 %% %.2f s, 100 %% %.2f s; seen online on node 0: %d/%d, 99 %% %.2f s; offline at the end %d",
		k.Back, k.Agents, lastBack, k.T50, k.T99, k.T100, k.SeenBack, k.Watched, k.SeenT99, k.OfflineAtEnd)
	return k, nil
}

// quantileAt is the time by which frac of n were back (ts sorted), or -1.
func quantileAt(ts []float64, n int, frac float64) float64 {
	i := int(math.Ceil(frac*float64(n))) - 1
	if i < 0 || i >= len(ts) {
		return -1
	}
	return ts[i]
}

// curve is at most ~200 points of (seconds, fraction of n back).
func curve(ts []float64, n int) [][2]float64 {
	out := [][2]float64{{0, 0}}
	if n == 0 {
		return out
	}
	step := max(1, len(ts)/200)
	for i := 0; i < len(ts); i += step {
		out = append(out, [2]float64{ts[i], float64(i+1) / float64(n)})
	}
	if len(ts) > 0 {
		out = append(out, [2]float64{ts[len(ts)-1], float64(len(ts)) / float64(n)})
	}
	return out
}

// fanPhase streams telemetry from the fan-out agents (agent i on node
// i%k) to clients that all watch every one of them (client j on node j%k),
// held by two load-generator children, and measures one window.
func (r *clusterRig) fanPhase(ctx context.Context, k int, devs []device, sess session) (*ClusterFanout, error) {
	cfg := r.cfg
	f := &ClusterFanout{Nodes: k, Agents: len(devs), Clients: cfg.FanClients, RateHz: cfg.FanRate,
		OfferedPerSec: cfg.FanRate * float64(len(devs)*cfg.FanClients)}
	agents := make([]childAgent, len(devs))
	for i, d := range devs {
		agents[i] = childAgent{Dev: d, Addrs: []string{r.nodes[i%k].addr}}
	}
	clients := make([]childClient, cfg.FanClients)
	for j := range clients {
		clients[j] = childClient{Addr: r.nodes[j%k].addr, Token: sess.Token}
	}
	cfg.logf("cluster: fan-out on %d nodes: %d agents × %.0f Hz → %d clients (offered %.0f/s)", k, len(devs), cfg.FanRate, len(clients), f.OfferedPerSec)
	gs, err := r.generators(ctx, 2, agents, clients)
	if err != nil {
		return nil, err
	}
	defer stopAll(gs)
	if _, err := waitUp(ctx, gs, len(devs), len(clients), 60*time.Second); err != nil {
		return nil, err
	}
	// Every agent is told (by its node, counting the watchers of every
	// node) that all the clients watch it: interest has crossed the nodes.
	if err := waitWatched(ctx, gs, len(clients), 30*time.Second); err != nil {
		return nil, err
	}
	if _, err := askAll(gs, childCmd{Rate: cfg.FanRate}); err != nil {
		return nil, err
	}
	defer askAll(gs, childCmd{StopRate: true})
	sleep(ctx, 2*time.Second) // warm-up
	nodes, gpids, npid := r.procs()[:k], genPids(gs), []int{r.nats.p.pid()}
	c0, err := askAll(gs, childCmd{})
	if err != nil {
		return nil, err
	}
	v0, _ := r.nats.varz()
	a, ga, na := sampleAll(nodes), sampleAll(gpids), sampleAll(npid)
	if !sleep(ctx, cfg.Window) {
		return nil, ctx.Err()
	}
	b, gb, nb := sampleAll(nodes), sampleAll(gpids), sampleAll(npid)
	v1, _ := r.nats.varz()
	c1, err := askAll(gs, childCmd{})
	if err != nil {
		return nil, err
	}
	if err := fanValid(c1, len(clients)); err != nil {
		return nil, err
	}
	secs := b[0].At.Sub(a[0].At).Seconds()
	f.DeliveredPerSec = float64(c1.Telemetry-c0.Telemetry) / secs
	f.SentPerSec = float64(c1.Sent-c0.Sent) / secs
	f.RelayCPUPct, f.GenCPUPct, f.NATSCPUPct = sumCPU(a, b), sumCPU(ga, gb), sumCPU(na, nb)
	f.NATSInPerSec = float64(v1.InMsgs-v0.InMsgs) / secs
	f.NATSOutPerSec = float64(v1.OutMsgs-v0.OutMsgs) / secs
	if f.DeliveredPerSec > 0 {
		f.NATSPerDelivery = (f.NATSInPerSec + f.NATSOutPerSec) / f.DeliveredPerSec
	}
	if f.RelayCPUPct > 0 {
		f.MsgsPerCPUSec = f.DeliveredPerSec / (f.RelayCPUPct / 100)
	}
	cfg.logf("cluster: fan-out on %d nodes: %.0f delivered/s (sent %.0f/s), relays %.0f %% CPU, NATS in %.0f/s out %.0f/s (%.2f per delivery)",
		k, f.DeliveredPerSec, f.SentPerSec, f.RelayCPUPct, f.NATSInPerSec, f.NATSOutPerSec, f.NATSPerDelivery)
	return f, nil
}
