package server

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
)

// nextRaw returns the next frame p receives whose bytes contain substr,
// as it came off the socket.
func (p *wsPeer) nextRaw(substr string) string {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := p.conn.ReadMessage()
		if err != nil {
			p.t.Fatalf("waiting for a frame with %s: %v", substr, err)
		}
		if strings.Contains(string(b), substr) {
			return string(b)
		}
	}
}

// TestAgentFramesForwardedAsSent checks the forwarding path of readAgent:
// telemetry and events in the agent's own shape, for its own device, reach
// the client byte for byte (not re-encoded: "<" stays as sent, where
// encoding/json would write \u003c), while the same shape speaking for
// another device is still rewritten to the agent's device, and a frame
// missing its ts still gets the relay's.
func TestAgentFramesForwardedAsSent(t *testing.T) {
	r := newRelay(t, nil)
	dev, agent, client := r.watched()
	write := func(frame string) {
		t.Helper()
		if err := agent.conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}

	own := `{"type":"telemetry","device":"` + dev + `","ts":"2026-11-22T10:00:00.120Z","data":{"cpu_percent":42,"note":"<b>"}}`
	write(own)
	if got := client.nextRaw(`"cpu_percent":42`); got != own {
		t.Fatalf("telemetry forwarded as\n%s\nwant the agent's bytes\n%s", got, own)
	}
	event := `{"data":{"kind":"mouse_click","x":1},"ts":"2026-11-22T10:00:01Z","device":"` + dev + `","type":"event"}`
	write(event)
	if got := client.nextRaw(`"mouse_click"`); got != event {
		t.Fatalf("event forwarded as\n%s\nwant the agent's bytes\n%s", got, event)
	}

	write(`{"type":"telemetry","device":"d_forged","ts":"2026-11-22T10:00:02Z","data":{"cpu_percent":43}}`)
	if tm := client.next(protocol.TypeTelemetry); tm.Device != dev || tm.TS != "2026-11-22T10:00:02Z" || !strings.Contains(string(tm.Data), `"cpu_percent":43`) {
		t.Fatalf("forged telemetry reached the client as %+v; want device %s", tm, dev)
	}
	write(`{"type":"telemetry","device":"` + dev + `","data":{"cpu_percent":44}}`)
	if tm := client.next(protocol.TypeTelemetry); tm.Device != dev || tm.TS == "" {
		t.Fatalf("telemetry without ts reached the client as %+v; want the relay's ts", tm)
	}
}
