//go:build unix

package main

// Faults the agent and relay must survive, with the real binaries and their
// default timings (heartbeat 25 s, dead after 60 s), so these tests take
// about a minute and a half each and run in parallel.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tether-desktop/tether/internal/wait"
	"github.com/tether-desktop/tether/protocol"
)

// faultBound is how long the default timings may take to notice a dead link
// (DeadAfter 60 s plus one heartbeat), plus slack for a busy machine.
const faultBound = 150 * time.Second

// setup starts a relay and an agent (reaching the relay at agentRelayURL if
// set, e.g. through a proxy), pairs a script client and waits until it sees
// the device online.
func setup(t *testing.T, agentRelayURL func(relayURL string) string) (*relayProc, *agentProc, *client, string) {
	t.Helper()
	dir := t.TempDir()
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	url := relay.url
	if agentRelayURL != nil {
		url = agentRelayURL(relay.url)
	}
	agent := startAgent(t, url, filepath.Join(dir, "agent"), agentEnv(t, home))
	waitFor(t, "agent registration", func() bool {
		_, err := os.Stat(filepath.Join(agent.configDir, "credentials.json"))
		return err == nil
	})
	session, device := pair(t, relay.url, agent.pairingCode(), "")
	c := dialClient(t, relay.url, session)
	c.presence(device, func(p protocol.Presence) bool { return p.Online })
	return relay, agent, c, device
}

// waitPresence waits up to bound for device's presence to satisfy cond and says how long it took.
func (c *client) waitPresence(device string, bound time.Duration, cond func(protocol.Presence) bool) time.Duration {
	c.t.Helper()
	start := time.Now()
	for {
		m, err := c.nextWithin(bound-time.Since(start), protocol.TypePresence)
		if err != nil {
			c.t.Fatalf("presence not reached within %v: %v", bound, err)
		}
		var p protocol.Presence
		json.Unmarshal(m.Data, &p)
		if m.Device == device && cond(p) {
			return time.Since(start)
		}
	}
}

// TestAgentFrozenThenResumed stops the agent (SIGSTOP, as a laptop sleeps)
// until the relay has given up on it, then resumes it: the agent must be
// back online within seconds, not after a long backoff.
func TestAgentFrozenThenResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("takes over a minute")
	}
	t.Parallel()
	_, agent, c, device := setup(t, nil)

	agent.cmd.Process.Signal(syscall.SIGSTOP)
	offline := c.waitPresence(device, faultBound, func(p protocol.Presence) bool { return !p.Online })
	t.Logf("relay marked the frozen agent offline after %v", offline.Round(time.Second))
	time.Sleep(5 * time.Second) // frozen a while longer, as a sleeping laptop is

	agent.cmd.Process.Signal(syscall.SIGCONT)
	back := c.waitPresence(device, 30*time.Second, func(p protocol.Presence) bool { return p.Online })
	t.Logf("agent back online %v after it resumed", back.Round(time.Millisecond))
	if back > 15*time.Second {
		t.Errorf("agent took %v to come back after resuming; want a few seconds", back)
	}
}

// blackhole is a TCP proxy that can stop forwarding without closing
// anything, as a link whose packets are silently dropped.
type blackhole struct {
	ln      net.Listener
	target  string
	dropped atomic.Bool
	mu      sync.Mutex
	conns   []net.Conn
}

func newBlackhole(t *testing.T, target string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, target: target}
	go b.serve()
	t.Cleanup(b.close)
	return b
}

func (b *blackhole) serve() {
	for {
		in, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.track(in)
		if b.dropped.Load() {
			go io.Copy(io.Discard, in) // accept, then never answer
			continue
		}
		out, err := net.Dial("tcp", b.target)
		if err != nil {
			in.Close()
			continue
		}
		b.track(out)
		go b.pipe(in, out)
		go b.pipe(out, in)
	}
}

// pipe copies src to dst until the link is dropped; then it keeps reading
// and throws everything away, so neither end sees an error.
func (b *blackhole) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if !b.dropped.Load() {
			dst.Write(buf[:n])
		}
	}
}

func (b *blackhole) track(c net.Conn) {
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.mu.Unlock()
}

func (b *blackhole) close() {
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
}

// TestHalfOpenLink drops every packet between agent and relay without
// closing either side: the relay must mark the device offline and the agent
// must notice and reconnect once the network is back.
func TestHalfOpenLink(t *testing.T) {
	if testing.Short() {
		t.Skip("takes over a minute")
	}
	t.Parallel()
	var hole *blackhole
	_, agent, c, device := setup(t, func(relayURL string) string {
		hole = newBlackhole(t, relayURL[len("http://"):])
		return "http://" + hole.ln.Addr().String()
	})

	hole.dropped.Store(true)
	start := time.Now()
	offline := c.waitPresence(device, faultBound, func(p protocol.Presence) bool { return !p.Online })
	t.Logf("relay marked the device offline %v after the link went silent", offline.Round(time.Second))
	// The agent must have noticed too: its status leaves "connected".
	wait.Until(t, "the agent to notice the dead link", faultBound-time.Since(start), func() bool {
		out, err := agent.cli("status", "--json")
		var s struct{ State string }
		return err == nil && json.Unmarshal([]byte(out), &s) == nil && s.State != "connected"
	})
	t.Logf("agent noticed the dead link %v after it went silent", time.Since(start).Round(time.Second))

	hole.dropped.Store(false)
	back := c.waitPresence(device, faultBound, func(p protocol.Presence) bool { return p.Online })
	t.Logf("agent back online %v after the network came back", back.Round(time.Millisecond))
}

// TestRelayKilledUnderTraffic kills the relay (-9) while a client sends
// commands, restarts it on the same data, and checks that no command was
// answered twice, pairings survived and the agent came back by itself.
func TestRelayKilledUnderTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	t.Parallel()
	relay, _, c, device := setup(t, nil)

	// A reader collects results until the socket dies with the relay (a
	// gorilla connection cannot be read again after a read times out, so
	// one goroutine reads with no deadline).
	results := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.conn.SetReadDeadline(time.Time{})
		for {
			_, b, err := c.conn.ReadMessage()
			if err != nil {
				return
			}
			if m, err := protocol.Decode(b); err == nil && m.Type == protocol.TypeResult {
				results[m.ID]++
			}
		}
	}()
	// Traffic: a command every 50 ms for 2 s, then the relay dies mid-stream.
	sent := 0
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		sent++
		c.conn.SetWriteDeadline(time.Now().Add(hangGuard))
		c.conn.WriteJSON(protocol.Message{Type: protocol.TypeCommand, ID: fmt.Sprintf("k%d", sent), Device: device, Name: "beep",
			Args: protocol.MustData(map[string]int{"duration_ms": 20})})
	}
	relay.stop(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatal("the client socket outlived the relay")
	}
	for id, n := range results {
		if n > 1 {
			t.Errorf("command %s answered %d times", id, n)
		}
	}
	t.Logf("%d commands sent, %d answered before the relay died, %d in flight lost with its socket", sent, len(results), sent-len(results))
	if len(results) == 0 {
		t.Fatalf("no command was answered before the kill")
	}

	relay = startRelay(t, relay.addr, relay.data)
	session := c.session
	c = dialClient(t, relay.url, session)
	back := c.waitPresence(device, faultBound, func(p protocol.Presence) bool { return p.Online })
	t.Logf("agent back online %v after the relay restarted", back.Round(time.Millisecond))
	if got := code(c.command(device, "beep", map[string]int{"duration_ms": 20})); got != "ok" && got != protocol.CodeUnavailable && got != protocol.CodeRateLimited {
		t.Fatalf("beep after the restart: %s", got)
	}
}
