package server

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
)

// benchLimits lifts the per-socket rate limits, which these benchmarks would
// otherwise measure instead of the relay.
func benchLimits(c *Config) {
	c.CommandRate, c.CommandBurst = 1e9, 1e9
	c.ClientFrameRate, c.ClientFrameBurst = 1e9, 1e9
	c.AgentFrameRate, c.AgentFrameBurst = 1e9, 1e9
	c.ClientSocketsPerSession, c.ClientSocketsPerAddress = 1000, 1000
}

// watched registers a device, connects its agent and one client of a new
// session paired with it, and returns them once the client has the device's
// presence and the agent knows it is watched.
func (r *relay) watched() (dev string, agent, client *wsPeer) {
	dev, tok := r.register("box")
	agent = r.agent(tok)
	client = r.client(r.pair(r.code(tok), ""))
	client.next(protocol.TypePresence)
	agent.waitWatch(1)
	return dev, agent, client
}

// BenchmarkRoundTrip times one command from a client through the relay to an
// agent and its result back, over real loopback sockets, one at a time.
func BenchmarkRoundTrip(b *testing.B) {
	r := newRelay(b, benchLimits)
	dev, agent, client := r.watched()
	args := json.RawMessage(`{"frequency_hz":440,"duration_ms":100}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := "c" + strconv.Itoa(i)
		client.send(protocol.Message{Type: protocol.TypeCommand, ID: id, Device: dev, Name: "beep", Args: args})
		cmd := agent.next(protocol.TypeCommand)
		agent.send(protocol.Result(cmd.ID, dev, nil, nil))
		if res := client.next(protocol.TypeResult); res.ID != id || res.OK == nil || !*res.OK {
			b.Fatalf("result = %+v", res)
		}
	}
}

// BenchmarkFanout sends telemetry from one agent to watching clients (20,
// as a dashboard wall, and 2, as the realistic fan-out of issue 15 where the
// agent's side weighs more) over real loopback sockets and reports frames
// delivered per second. Telemetry is coalesced for a client that falls
// behind, so delivered may be less than the watchers per op; an event
// (never coalesced) ends each run.
func BenchmarkFanout(b *testing.B) {
	for _, clients := range []int{20, 2} {
		b.Run("watchers="+strconv.Itoa(clients), func(b *testing.B) { benchFanout(b, clients) })
	}
}

func benchFanout(b *testing.B, clients int) {
	r := newRelay(b, benchLimits)
	dev, tok := r.register("box")
	agent := r.agent(tok)
	sess := r.pair(r.code(tok), "")
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		delivered int
	)
	cs := make([]*wsPeer, clients)
	for i := range cs {
		cs[i] = r.client(sess)
		cs[i].next(protocol.TypePresence)
	}
	agent.waitWatch(clients)
	// As the agent encodes it (agent/pump.go): with its device and ts.
	frame, _ := json.Marshal(protocol.Message{Type: protocol.TypeTelemetry, Device: dev, TS: protocol.Timestamp(time.Now()),
		Data: protocol.MustData(protocol.Telemetry{CPUPercent: 12.5, MemPercent: 41})})
	done, _ := json.Marshal(protocol.Message{Type: protocol.TypeEvent, Data: json.RawMessage(`{"kind":"done"}`)})
	b.ResetTimer()
	start := time.Now()
	for _, c := range cs {
		wg.Add(1)
		go func(c *wsPeer) {
			defer wg.Done()
			n := 0
			c.conn.SetReadDeadline(time.Now().Add(time.Minute))
			for {
				_, m, err := c.conn.ReadMessage()
				if err != nil {
					b.Error(err)
					return
				}
				if bytes.Contains(m, []byte(`"type":"event"`)) {
					break
				}
				if bytes.Contains(m, []byte(`"type":"telemetry"`)) {
					n++
				}
			}
			mu.Lock()
			delivered += n
			mu.Unlock()
		}(c)
	}
	agent.conn.SetWriteDeadline(time.Now().Add(time.Minute))
	for i := 0; i < b.N; i++ {
		if err := agent.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
			b.Fatal(err)
		}
	}
	if err := agent.conn.WriteMessage(websocket.TextMessage, done); err != nil {
		b.Fatal(err)
	}
	wg.Wait()
	b.ReportMetric(float64(delivered)/time.Since(start).Seconds(), "delivered/s")
	b.ReportMetric(float64(delivered)/float64(b.N), "delivered/op")
}
