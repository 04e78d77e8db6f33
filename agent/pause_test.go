package agent

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// TestPauseStopsTelemetryAndCommands: the owner's Pause sends no telemetry
// (even with watchers), answers every command `paused`, and says so in hello;
// resuming brings telemetry back.
func TestPauseStopsTelemetryAndCommands(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	sampler := &fakeSampler{}
	cfg.Sampler = sampler
	a := startAgent(t, cfg, nil)
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	c.watch(1)
	c.next(t, protocol.TypeTelemetry)

	s, err := LoadSettings(cfg.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	s.Paused = true
	if err := a.ApplySettings(s); err != nil {
		t.Fatal(err)
	}
	for { // the hello that says paused
		m := c.next(t, protocol.TypeHello)
		var h protocol.Hello
		json.Unmarshal(m.Data, &h)
		if h.Paused {
			break
		}
	}
	before := sampler.n.Load()
	time.Sleep(25 * cfg.TelemetryEvery)
	c.command("p1", "beep", "")
	telemetry := 0
	for m := range c.msgs {
		if m.Type == protocol.TypeTelemetry {
			telemetry++
		}
		if m.Type == protocol.TypeResult && m.ID == "p1" {
			if m.Error == nil || m.Error.Code != protocol.CodePaused {
				t.Fatalf("command while paused: %+v", m)
			}
			break
		}
	}
	// One sample taken just before the pause may still arrive.
	if telemetry > 1 || sampler.n.Load()-before > 1 {
		t.Fatalf("paused, yet %d telemetry frames sent and %d samples taken", telemetry, sampler.n.Load()-before)
	}

	s.Paused = false
	if err := a.ApplySettings(s); err != nil {
		t.Fatal(err)
	}
	c.next(t, protocol.TypeTelemetry)
}
