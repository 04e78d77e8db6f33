package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// childEnv, set to "1", makes tether-bench a load-generator child of the
// cluster bench (it re-executes itself): the parent talks to it in JSON
// lines on stdin and stdout (childSpec, then childCmd → childReply).
const childEnv = "TETHER_BENCH_LOAD_GENERATOR"

// childSpec is what one load-generator child holds: agents, each with the
// relay nodes it may use (home first), and clients watching a session.
type childSpec struct {
	Agents     []childAgent  `json:"agents"`
	Clients    []childClient `json:"clients"`
	FrameBytes int           `json:"frame_bytes"`
	Conc       int           `json:"conc"` // dials in flight while ramping
}

type childAgent struct {
	Dev   device   `json:"dev"`
	Addrs []string `json:"addrs"`
}

type childClient struct {
	Addr  string `json:"addr"`
	Token string `json:"token"`
}

// childCmd is one request to a child; every request gets one childReply.
type childCmd struct {
	Rate     float64 `json:"rate,omitempty"`      // stream telemetry from every agent at this rate (Hz)
	StopRate bool    `json:"stop_rate,omitempty"` // stop streaming
	Mark     int64   `json:"mark,omitempty"`      // Unix ns: remember the agents now on MarkNode, and count them back after this time
	MarkNode string  `json:"mark_node,omitempty"`
	Times    bool    `json:"times,omitempty"` // reply with when each marked agent came back
}

// childReply is a child's counters (cumulative) and, when asked, times.
type childReply struct {
	Up      int `json:"up"`      // agents with an open, greeted socket
	Clients int `json:"clients"` // clients open (dialled and not closed since)
	Closed  int `json:"closed"`  // clients dialled whose socket closed since
	// MinWatchers is the fewest watchers the relay told any agent that is
	// up (-1: an agent was told nothing yet; no agent up reads as -1 too).
	MinWatchers int       `json:"min_watchers"`
	Telemetry   int64     `json:"telemetry"` // telemetry frames the clients received
	Sent        int64     `json:"sent"`      // telemetry frames the agents sent
	Marked      int       `json:"marked"`
	Back        int       `json:"back"`            // marked agents up again since the mark
	Times       []float64 `json:"times,omitempty"` // seconds from the mark to each marked agent's return
	Err         string    `json:"err,omitempty"`
}

// runChild is the load-generator child's main: it reads its spec, holds
// its agents and clients, and answers requests until stdin closes.
func runChild(in io.Reader, out io.Writer) error {
	rd := bufio.NewReader(in)
	line, err := rd.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	var spec childSpec
	if err := json.Unmarshal(line, &spec); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	raiseFileLimit()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := newSourceAddrs()
	w := tetherWire{}
	pool := &agentPool{w: w, src: src, addr: func() string { return "" }} // every agent has its addrs
	go pool.pinger(ctx, 25*time.Second)
	var rampErr atomic.Value
	go func() {
		if _, err := pool.addNodes(ctx, spec.Agents, max(1, spec.Conc)); err != nil && ctx.Err() == nil {
			rampErr.Store(err.Error())
		}
	}()
	var clients []*simClient
	var cmu sync.Mutex
	go func() {
		var st dialStats
		for _, c := range spec.Clients {
			sc, err := dialClient(ctx, w, c.Addr, src, session{Token: c.Token}, &st)
			if err != nil {
				rampErr.Store(err.Error())
				return
			}
			cmu.Lock()
			clients = append(clients, sc)
			cmu.Unlock()
		}
	}()
	frame := telemetryEnvelope(max(64, spec.FrameBytes))
	var sent atomic.Int64
	var streaming context.CancelFunc
	var swg sync.WaitGroup
	stopStream := func() {
		if streaming != nil {
			streaming()
			swg.Wait()
			streaming = nil
		}
	}
	var markAt int64
	var marked []*simAgent
	enc := json.NewEncoder(out)
	for {
		line, err := rd.ReadBytes('\n')
		if err != nil {
			break // the parent closed stdin: stop
		}
		var cmd childCmd
		if err := json.Unmarshal(line, &cmd); err != nil {
			enc.Encode(childReply{Err: "bad request: " + err.Error()})
			continue
		}
		switch {
		case cmd.Rate > 0:
			stopStream()
			sctx, cancel := context.WithCancel(ctx)
			streaming = cancel
			period := time.Duration(float64(time.Second) / cmd.Rate)
			as := pool.list()
			for i, a := range as {
				swg.Go(func() {
					if !sleep(sctx, period*time.Duration(i)/time.Duration(len(as))) {
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
						if c := a.conn.Load(); c != nil && c.write(frame) == nil {
							sent.Add(1)
						}
					}
				})
			}
		case cmd.StopRate:
			stopStream()
		case cmd.Mark != 0:
			markAt, marked = cmd.Mark, nil
			for _, a := range pool.list() {
				if a.conn.Load() != nil && a.addrs[int(a.node.Load())%len(a.addrs)] == cmd.MarkNode {
					marked = append(marked, a)
				}
			}
		}
		r := childReply{Up: pool.upCount(), Sent: sent.Load(), Marked: len(marked), MinWatchers: pool.minWatchers()}
		if e, ok := rampErr.Load().(string); ok {
			r.Err = e
		}
		cmu.Lock()
		for _, c := range clients {
			r.Telemetry += c.telemetry.Load()
			if c.open() {
				r.Clients++
			} else {
				r.Closed++
			}
		}
		cmu.Unlock()
		for _, a := range marked {
			if up := a.lastUp.Load(); up > markAt && a.conn.Load() != nil {
				r.Back++
				if cmd.Times {
					r.Times = append(r.Times, float64(up-markAt)/1e9)
				}
			}
		}
		if err := enc.Encode(r); err != nil {
			break
		}
	}
	stopStream()
	cancel()
	cmu.Lock()
	for _, c := range clients {
		c.close()
	}
	cmu.Unlock()
	pool.close()
	return nil
}

// raiseFileLimit raises this process's soft limit of open files to the
// hard limit (20,000 on the project's machines; it cannot go past it).
func raiseFileLimit() uint64 {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 0
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	return l.Cur
}

// selfChild is this binary re-executed as a child (a load generator, a lean
// prober or forwarder) that the parent talks to in lines on its stdin and
// stdout. Its methods are for one goroutine at a time.
type selfChild struct {
	p     *process
	in    io.WriteCloser
	out   *bufio.Reader
	grace time.Duration // how long stop waits before it kills
}

// startSelf re-executes this binary as a child named name, with env added
// to this process's environment.
func startSelf(name string, grace time.Duration, env ...string) (*selfChild, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &process{name: name, cmd: cmd, log: &tailBuffer{max: 16 << 10}, done: make(chan struct{})}
	cmd.Stderr = p.log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return &selfChild{p: p, in: in, out: bufio.NewReaderSize(outp, 1<<20), grace: grace}, nil
}

// readLine reads the child's next line, for at most wait; a child that does
// not answer within it is killed. Errors carry the child's name and the
// tail of its log.
func (c *selfChild) readLine(wait time.Duration) ([]byte, error) {
	type res struct {
		line []byte
		err  error
	}
	ch := make(chan res, 1)
	go func() { l, err := c.out.ReadBytes('\n'); ch <- res{l, err} }()
	select {
	case x := <-ch:
		if x.err != nil {
			return nil, fmt.Errorf("%s: %w\n%s", c.p.name, x.err, c.p.log.String())
		}
		return x.line, nil
	case <-time.After(wait):
		c.p.kill()
		return nil, fmt.Errorf("%s: no answer within %s\n%s", c.p.name, wait, c.p.log.String())
	}
}

// stop closes the child's stdin (it closes its sockets and exits) and waits
// for it, killing it after its grace.
func (c *selfChild) stop() {
	c.in.Close()
	select {
	case <-c.p.done:
	case <-time.After(c.grace):
		c.p.kill()
	}
}

// genChild is the parent's handle on one load-generator child.
type genChild struct {
	*selfChild
	n int // agents it holds
}

// startChild re-executes this binary as a load-generator child holding spec.
func startChild(ctx context.Context, name string, spec childSpec) (*genChild, error) {
	c, err := startSelf(name, 30*time.Second, childEnv+"=1")
	if err != nil {
		return nil, err
	}
	g := &genChild{selfChild: c, n: len(spec.Agents)}
	b, _ := json.Marshal(spec)
	if _, err := g.in.Write(append(b, '\n')); err != nil {
		g.stop()
		return nil, fmt.Errorf("%s: send spec: %w", name, err)
	}
	return g, nil
}

// ask sends cmd and reads the reply (bounded: a child that does not answer
// within 30 s is an error).
func (g *genChild) ask(cmd childCmd) (childReply, error) {
	var r childReply
	b, _ := json.Marshal(cmd)
	if _, err := g.in.Write(append(b, '\n')); err != nil {
		return r, fmt.Errorf("%s: %w\n%s", g.p.name, err, g.p.log.String())
	}
	line, err := g.readLine(30 * time.Second)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return r, fmt.Errorf("%s: reply: %w", g.p.name, err)
	}
	return r, nil
}

// askAll asks every child and sums the replies' counters (MinWatchers is
// the least over the children holding agents).
func askAll(gs []*genChild, cmd childCmd) (childReply, error) {
	var sum childReply
	sum.MinWatchers = -1
	first := true
	for _, g := range gs {
		r, err := g.ask(cmd)
		if err != nil {
			return sum, err
		}
		if r.Err != "" {
			return sum, fmt.Errorf("%s: %s", g.p.name, r.Err)
		}
		sum.Up += r.Up
		sum.Clients += r.Clients
		sum.Closed += r.Closed
		if g.n > 0 {
			if first || r.MinWatchers < sum.MinWatchers {
				sum.MinWatchers = r.MinWatchers
			}
			first = false
		}
		sum.Telemetry += r.Telemetry
		sum.Sent += r.Sent
		sum.Marked += r.Marked
		sum.Back += r.Back
		sum.Times = append(sum.Times, r.Times...)
	}
	return sum, nil
}
