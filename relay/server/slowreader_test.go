package server

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/internal/wait"
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
	// The stalled client reads its welcome, then never again. Its receive
	// buffer is small, so that the relay's side of its socket fills within
	// a second of the flood rather than after megabytes.
	dialer := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	stalled, _, err := dialer.Dial("ws"+strings.TrimPrefix(r.hs.URL, "http")+"/ws/client", http.Header{"Authorization": {"Bearer " + sess}})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	// Its socket full, the stalled client's telemetry is coalesced (or the
	// socket closed as too slow), not buffered without bound: the relay
	// counts both.
	wait.Until(t, "the telemetry of a client that never reads coalesced, or its socket closed as too slow", 30*time.Second, func() bool {
		return r.srv.m.dropped.get("coalesced") > 0 || r.srv.m.closed.get("too_slow") > 0
	})
	beside := roundTrips("b", 200)
	t.Logf("command round trip while telemetry floods: alone p50 %v p99 %v; beside a stalled client p50 %v p99 %v",
		pct(alone, 50), pct(alone, 99), pct(beside, 50), pct(beside, 99))
	t.Logf("telemetry frames coalesced for slow readers: %d; sockets closed as too slow: %d",
		r.srv.m.dropped.get("coalesced"), r.srv.m.closed.get("too_slow"))
}
