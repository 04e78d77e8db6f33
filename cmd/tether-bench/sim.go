package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/agent/backoff"
)

// sourceAddrs spreads the load generator's connections over loopback source
// addresses 127.0.0.2 … 127.0.0.250, so no single address runs out of
// ephemeral ports (about 28k each).
type sourceAddrs struct {
	next    atomic.Uint64
	dialers []*websocket.Dialer
}

var writePool sync.Pool // shared write buffers: idle simulated sockets hold none

func newSourceAddrs() *sourceAddrs {
	s := &sourceAddrs{}
	for i := 2; i <= 250; i++ {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i))}, Timeout: 10 * time.Second}
		s.dialers = append(s.dialers, &websocket.Dialer{
			NetDialContext:   nd.DialContext,
			HandshakeTimeout: 15 * time.Second,
			ReadBufferSize:   1024,
			WriteBufferSize:  1024,
			WriteBufferPool:  &writePool,
		})
	}
	return s
}

func (s *sourceAddrs) dialer() *websocket.Dialer {
	return s.dialers[s.next.Add(1)%uint64(len(s.dialers))]
}

// dialStats counts how dials ended. Safe for concurrent use.
type dialStats struct {
	ok, refusedUpgrade, refusedTCP, otherErr atomic.Int64
}

// dial opens a WebSocket and classifies a failure.
func dial(ctx context.Context, src *sourceAddrs, u string, h http.Header, st *dialStats) (*websocket.Conn, error) {
	ws, resp, err := src.dialer().DialContext(ctx, u, h)
	if err != nil {
		switch {
		case resp != nil:
			st.refusedUpgrade.Add(1)
			return nil, fmt.Errorf("upgrade refused: %s", resp.Status)
		case errors.Is(err, syscall.ECONNREFUSED):
			st.refusedTCP.Add(1)
		default:
			st.otherErr.Add(1)
		}
		return nil, err
	}
	st.ok.Add(1)
	return ws, nil
}

// simConn is one simulated socket: one reader (its owner's loop) and writes
// under a mutex, as gorilla/websocket requires.
type simConn struct {
	ws  *websocket.Conn
	wmu sync.Mutex
}

// write sends one text frame; safe for concurrent use.
func (c *simConn) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

// simAgent is a simulated desktop agent: it connects, says hello, answers
// every command at once, pings like the real agent, and reconnects with the
// real agent's policy (agent/backoff; after 1012 a first wait in [0, 5 s)).
type simAgent struct {
	dev  device
	conn atomic.Pointer[simConn]
	// addrs, when set, are the relay nodes this agent may use, its home
	// first; a refused dial moves it to another at once, as a load
	// balancer's redispatch would (the cluster bench). node is the index
	// of the one it uses now.
	addrs []string
	node  atomic.Int32

	// watchers is the latest count of watching client sockets the relay
	// told it (a watch frame); -1 before any.
	watchers atomic.Int64

	ups      atomic.Int64 // times it came up
	lastUp   atomic.Int64 // unix nanoseconds of the latest up
	attempts atomic.Int64 // dials since the latest up
	needed   atomic.Int64 // dials the latest up took
}

// agentPool owns a set of simulated agents against one target.
type agentPool struct {
	w     wire
	addr  func() string
	src   *sourceAddrs
	stats dialStats
	// restart, while set, makes any close count as a relay restart (for the
	// peers, whose restart close code is not 1012).
	restart atomic.Bool

	mu     sync.Mutex
	agents []*simAgent
	cancel []context.CancelFunc
	wg     sync.WaitGroup
}

// add starts n more agents for devs, at most conc dialling at once, and
// waits until each is up or ctx ends. It returns how long the ramp took.
func (p *agentPool) add(ctx context.Context, devs []device, conc int) (time.Duration, error) {
	as := make([]*simAgent, len(devs))
	for i, d := range devs {
		as[i] = newSimAgent(d, nil)
	}
	return p.addAgents(ctx, as, conc)
}

func newSimAgent(d device, addrs []string) *simAgent {
	a := &simAgent{dev: d, addrs: addrs}
	a.watchers.Store(-1)
	return a
}

// addNodes is add for agents that each use a list of relay nodes.
func (p *agentPool) addNodes(ctx context.Context, specs []childAgent, conc int) (time.Duration, error) {
	as := make([]*simAgent, len(specs))
	for i, s := range specs {
		as[i] = newSimAgent(s.Dev, s.Addrs)
	}
	return p.addAgents(ctx, as, conc)
}

func (p *agentPool) addAgents(ctx context.Context, as []*simAgent, conc int) (time.Duration, error) {
	start := time.Now()
	sem := make(chan struct{}, conc)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for _, a := range as {
		actx, cancel := context.WithCancel(ctx)
		p.mu.Lock()
		p.agents = append(p.agents, a)
		p.cancel = append(p.cancel, cancel)
		p.mu.Unlock()
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		}
		up := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-up:
			case <-actx.Done():
			case <-time.After(30 * time.Second):
				firstErr.CompareAndSwap(nil, fmt.Errorf("agent %s not up within 30 s", a.dev.ID))
			}
			<-sem
		}()
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.run(actx, a, up) }()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return time.Since(start), err
	}
	return time.Since(start), ctx.Err()
}

// run is one agent's connect-serve-wait loop; it returns when ctx ends.
func (p *agentPool) run(ctx context.Context, a *simAgent, up chan struct{}) {
	bo := backoff.New(backoff.Policy{Base: time.Second, Max: 60 * time.Second, StableAfter: 60 * time.Second})
	for {
		a.attempts.Add(1)
		err := p.session(ctx, a, bo, up)
		if ctx.Err() != nil {
			return
		}
		var ce *websocket.CloseError
		var delay time.Duration
		if (errors.As(err, &ce) && ce.Code == websocket.CloseServiceRestart) || (p.restart.Load() && a.conn.Load() != nil) {
			delay = time.Duration(rand.Float64() * float64(5*time.Second))
		} else {
			delay = bo.Next()
		}
		a.conn.Store(nil)
		if bo.Wait(ctx, delay) != nil {
			return
		}
	}
}

// session dials once and serves the socket until it ends.
func (p *agentPool) session(ctx context.Context, a *simAgent, bo *backoff.Backoff, up chan struct{}) error {
	ws, err := p.dialAgent(ctx, a)
	if err != nil {
		return err
	}
	defer ws.Close()
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	if err := p.w.agentOpen(ws, a.dev); err != nil {
		return err
	}
	c := &simConn{ws: ws}
	bo.Connected()
	defer bo.Disconnected()
	a.watchers.Store(-1) // until this connection's first watch frame
	a.lastUp.Store(time.Now().UnixNano())
	a.needed.Store(a.attempts.Swap(0))
	a.ups.Add(1)
	a.conn.Store(c)
	if a.ups.Load() == 1 {
		close(up)
	}
	for {
		_, f, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		if n, ok := watchCount(f); ok {
			a.watchers.Store(int64(n))
			continue
		}
		if _, _, reply := p.w.classify(f); reply != nil {
			if err := c.write(reply); err != nil {
				return err
			}
		}
	}
}

// dialAgent dials a's relay; with several nodes, a refused connection
// (the node is down) is tried again at once on the next node, each node at
// most once per call.
func (p *agentPool) dialAgent(ctx context.Context, a *simAgent) (*websocket.Conn, error) {
	if len(a.addrs) == 0 {
		u, h := p.w.agentRequest(p.addr(), a.dev)
		return dial(ctx, p.src, u, h, &p.stats)
	}
	var err error
	for range a.addrs {
		i := int(a.node.Load()) % len(a.addrs)
		u, h := p.w.agentRequest(a.addrs[i], a.dev)
		var ws *websocket.Conn
		if ws, err = dial(ctx, p.src, u, h, &p.stats); err == nil {
			return ws, nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, err
		}
		a.node.Store(int32((i + 1) % len(a.addrs)))
	}
	return nil, err
}

// watchCount reads the number of watchers from Tether's watch frame.
func watchCount(f []byte) (int, bool) {
	if !bytes.HasPrefix(f, []byte(`{"type":"watch"`)) {
		return 0, false
	}
	var m struct {
		Data struct{ Watchers int }
	}
	if json.Unmarshal(f, &m) != nil {
		return 0, false
	}
	return m.Data.Watchers, true
}

// pinger pings every connected agent once per period, spread evenly, like
// the real agent's heartbeat. It returns when ctx ends.
func (p *agentPool) pinger(ctx context.Context, period time.Duration) {
	const slices = 250
	t := time.NewTicker(period / slices)
	defer t.Stop()
	for i := 0; ; i = (i + 1) % slices {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		as := p.agents
		p.mu.Unlock()
		for j := i; j < len(as); j += slices {
			if c := as[j].conn.Load(); c != nil {
				c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second))
			}
		}
	}
}

// list returns the agents.
func (p *agentPool) list() []*simAgent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.agents
}

// minWatchers is the fewest watchers the relay told any agent that is up,
// or -1 when none is up or one was told nothing yet.
func (p *agentPool) minWatchers() int {
	least := -1
	for _, a := range p.list() {
		if a.conn.Load() == nil {
			continue
		}
		n := int(a.watchers.Load())
		if n < 0 {
			return -1
		}
		if least < 0 || n < least {
			least = n
		}
	}
	return least
}

// upCount counts agents with an open, greeted socket.
func (p *agentPool) upCount() int {
	n := 0
	for _, a := range p.list() {
		if a.conn.Load() != nil {
			n++
		}
	}
	return n
}

// close stops every agent and waits for their goroutines.
func (p *agentPool) close() {
	p.mu.Lock()
	for _, c := range p.cancel {
		c()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// simClient is a simulated browser: it counts telemetry and times commands.
type simClient struct {
	c         *simConn
	w         wire
	telemetry atomic.Int64
	seq       atomic.Int64
	lat       *latencyRecorder                 // when set, delivery latencies of stamped telemetry (set before the first frame)
	presence  func(frame []byte, at time.Time) // when set, sees every presence frame (set before the first frame)

	mu      sync.Mutex
	waiting map[string]chan time.Time
	done    chan struct{}
}

// dialClient opens a client socket and starts its reader, which stops when
// the socket closes (closeClient).
// Each opt is applied to the client before its reader starts (to set lat or presence).
func dialClient(ctx context.Context, w wire, addr string, src *sourceAddrs, s session, st *dialStats, opts ...func(*simClient)) (*simClient, error) {
	u, h := w.clientRequest(addr, s)
	ws, err := dial(ctx, src, u, h, st)
	if err != nil {
		return nil, err
	}
	if err := w.clientOpen(ws, s); err != nil {
		ws.Close()
		return nil, fmt.Errorf("open client: %w", err)
	}
	c := &simClient{c: &simConn{ws: ws}, w: w, waiting: map[string]chan time.Time{}, done: make(chan struct{})}
	for _, o := range opts {
		o(c)
	}
	go c.read()
	return c, nil
}

func (c *simClient) read() {
	defer close(c.done)
	for {
		_, f, err := c.c.ws.ReadMessage()
		if err != nil {
			return
		}
		at := time.Now()
		kind, id, reply := c.w.classify(f)
		switch kind {
		case kindTelemetry:
			c.telemetry.Add(1)
			if c.lat != nil {
				c.lat.record(f, at)
			}
		case kindOther:
			if c.presence != nil {
				c.presence(f, at)
			}
		case kindResult:
			c.mu.Lock()
			ch := c.waiting[id]
			delete(c.waiting, id)
			c.mu.Unlock()
			if ch != nil {
				ch <- at
			}
		}
		if reply != nil {
			c.c.write(reply)
		}
	}
}

// roundTrip sends one command to dev and waits for its result.
func (c *simClient) roundTrip(dev string, wait time.Duration) (time.Duration, error) {
	id := strconv.FormatInt(c.seq.Add(1), 10)
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.waiting[id] = ch
	c.mu.Unlock()
	start := time.Now()
	if err := c.c.write(c.w.command(id, dev)); err != nil {
		return 0, err
	}
	select {
	case at := <-ch:
		return at.Sub(start), nil
	case <-time.After(wait):
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
		return 0, fmt.Errorf("no result for command %s within %s", id, wait)
	case <-c.done:
		return 0, errors.New("client socket closed")
	}
}

// open reports whether the client's socket is still open (its reader has
// not ended: the relay did not close it).
func (c *simClient) open() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// close ends the socket and waits for the reader.
func (c *simClient) close() {
	c.c.ws.Close()
	<-c.done
}
