package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// TestStalledClientKeepsOthersLatency measures a reading client's command
// round trips while the device streams telemetry as fast as it can, first
// alone and then beside a client of the same session that never reads. The
// figures are logged (go test -v -run StalledClient ./relay/server); the test
// fails only if a command goes unanswered or the stalled client's socket
// grows without bound instead of being coalesced or closed.
func TestStalledClientKeepsOthersLatency(t *testing.T) {
	r := newRelay(t, func(c *Config) { // limits out of the way: this measures latency
		c.AgentFrameRate, c.AgentFrameBurst = 1e6, 1e6
		c.ClientFrameRate, c.ClientFrameBurst = 1e6, 1e6
		c.CommandRate, c.CommandBurst = 1e6, 1e6
	})
	dev, tok := r.register("box")
	agent := r.agent(tok)
	sess := r.pair(r.code(tok), "")
	reader := r.client(sess)
	reader.next(protocol.TypePresence)

	// The agent: one goroutine writes (telemetry, and results for the
	// commands its reader goroutine hands over); gorilla allows one writer.
	commands := make(chan string, 64)
	stop := make(chan struct{})
	agentDone := make(chan struct{})
	go func() {
		for {
			var m protocol.Message
			if agent.conn.ReadJSON(&m) != nil {
				close(commands)
				return
			}
			if m.Type == protocol.TypeCommand {
				commands <- m.ID
			}
		}
	}()
	go func() {
		defer close(agentDone)
		tele := protocol.Message{Type: protocol.TypeTelemetry, Data: json.RawMessage(fmt.Sprintf(`{"cpu_percent":1,"mem_percent":2,"pad":"%0150d"}`, 0))}
		for {
			agent.conn.SetWriteDeadline(time.Now().Add(hangGuard))
			select {
			case <-stop:
				return
			case id, ok := <-commands:
				if !ok {
					return
				}
				agent.conn.WriteJSON(protocol.Result(id, dev, nil, nil))
			default:
				if agent.conn.WriteJSON(tele) != nil {
					return
				}
				time.Sleep(100 * time.Microsecond) // ~5–10k frames/s: a flood, not a spin
			}
		}
	}()
	defer func() { close(stop); <-agentDone }()

	// roundTrips sends n commands one after another and returns the sorted
	// round-trip times, skipping the telemetry in between.
	roundTrips := func(label string, n int) []time.Duration {
		t.Helper()
		rtts := make([]time.Duration, 0, n)
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("%s%d", label, i)
			start := time.Now()
			reader.send(protocol.Message{Type: protocol.TypeCommand, ID: id, Device: dev, Name: "beep"})
			for reader.next(protocol.TypeResult).ID != id {
			}
			rtts = append(rtts, time.Since(start))
		}
		slices.Sort(rtts)
		return rtts
	}
	pct := func(d []time.Duration, p int) time.Duration { return d[(len(d)-1)*p/100] }

	alone := roundTrips("a", 200)
	stalled := r.client(sess) // reads its welcome, then never again
	_ = stalled
	time.Sleep(time.Second) // let the stalled socket's buffers fill
	beside := roundTrips("b", 200)
	t.Logf("command round trip while telemetry floods: alone p50 %v p99 %v; beside a stalled client p50 %v p99 %v",
		pct(alone, 50), pct(alone, 99), pct(beside, 50), pct(beside, 99))
	// The stalled client's telemetry was coalesced (or the socket closed as
	// too slow), not buffered without bound: the relay counts both.
	coalesced, tooSlow := r.srv.m.dropped.get("coalesced"), r.srv.m.closed.get("too_slow")
	t.Logf("telemetry frames coalesced for slow readers: %d; sockets closed as too slow: %d", coalesced, tooSlow)
	if coalesced == 0 && tooSlow == 0 {
		t.Errorf("a client that never reads was neither coalesced nor closed")
	}
}
