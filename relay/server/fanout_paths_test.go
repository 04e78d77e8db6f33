package server

import (
	"encoding/json"
	"testing"

	"github.com/tether-desktop/tether/protocol"
)

// TestTelemetryToFewAndManyDevices sends 300 telemetry frames and then an
// event from one agent to two watchers: a client paired with that device
// alone (its telemetry written at once, sendLatestNow) and a client paired
// with more than writeNowDevices devices (its telemetry through its writer,
// coalesced when it falls behind). Each sees the samples in order, the
// newest among them, and the event (which the writer may send before
// samples it coalesced: frames that must arrive go first).
func TestTelemetryToFewAndManyDevices(t *testing.T) {
	r := newRelay(t, benchLimits)
	dev, tok := r.register("box")
	agent := r.agent(tok)
	few := r.client(r.pair(r.code(tok), ""))
	many := r.pair(r.code(tok), "")
	for i := range writeNowDevices + 1 {
		_, other := r.register("other" + string(rune('a'+i)))
		r.pair(r.code(other), many)
	}
	manyC := r.client(many)
	few.next(protocol.TypePresence)
	manyC.next(protocol.TypePresence)
	agent.waitWatch(2)

	const frames = 300
	for i := range frames {
		agent.send(protocol.Message{Type: protocol.TypeTelemetry, Device: dev,
			Data: protocol.MustData(protocol.Telemetry{CPUPercent: float64(i)})})
	}
	agent.send(protocol.Message{Type: protocol.TypeEvent, Device: dev, Data: json.RawMessage(`{"kind":"done"}`)})

	for name, c := range map[string]*wsPeer{"paired with 1 device": few, "paired with many": manyC} {
		last, got, event := -1.0, 0, false
		for !event || last != frames-1 { // next fails the test if either never comes
			m := c.next(protocol.TypeTelemetry, protocol.TypeEvent)
			if m.Type == protocol.TypeEvent {
				event = true
				continue
			}
			var tm protocol.Telemetry
			if err := json.Unmarshal(m.Data, &tm); err != nil {
				t.Fatal(err)
			}
			if tm.CPUPercent <= last {
				t.Fatalf("%s: sample %v after %v", name, tm.CPUPercent, last)
			}
			last, got = tm.CPUPercent, got+1
		}
		t.Logf("%s: %d of %d samples", name, got, frames)
	}
}
