package server

import (
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
}

// BenchmarkRoundTrip times one command from a client through the relay to an
// agent and its result back, over real loopback sockets, one at a time.
func BenchmarkRoundTrip(b *testing.B) {
	r := newRelay(b, benchLimits)
	dev, tok := r.register("box")
	agent := r.agent(tok)
	client := r.client(r.pair(r.code(tok), ""))
	client.next(protocol.TypePresence)
	agent.waitWatch(1)
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

// BenchmarkFanout sends telemetry from one agent to 20 watching clients over
// real loopback sockets and reports frames delivered per second. Telemetry is
// coalesced for a client that falls behind, so delivered may be less than
// 20 per op; an event (never coalesced) ends each run.
func BenchmarkFanout(b *testing.B) {
	const clients = 20
	r := newRelay(b, benchLimits)
	_, tok := r.register("box")
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
	frame, _ := json.Marshal(protocol.Message{Type: protocol.TypeTelemetry, Data: protocol.MustData(protocol.Telemetry{CPUPercent: 12.5, MemPercent: 41})})
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
				var msg protocol.Message
				json.Unmarshal(m, &msg)
				if msg.Type == protocol.TypeEvent {
					break
				}
				if msg.Type == protocol.TypeTelemetry {
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
