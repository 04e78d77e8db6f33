package agent

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
)

// TestPingsOnlyWhenTheRelayIsSilent: the agent pings a relay that has said
// nothing for a heartbeat, and saves its pings (and the wakeups for them)
// while the relay's own pings keep the link busy.
func TestPingsOnlyWhenTheRelayIsSilent(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	cfg.Heartbeat = 300 * time.Millisecond
	startAgent(t, cfg, nil)
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	waitFor(t, "the agent pinging a silent relay", func() bool { return c.pings.Load() >= 2 })

	// The relay pings every 30 ms for 3 s: ten of the agent's heartbeats.
	// A ticker would ping about ten times; allow a few for a machine so
	// busy that the relay's pings stall for a whole heartbeat.
	before := c.pings.Load()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(30 * time.Millisecond) {
		if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.pings.Load() - before; n > 3 {
		t.Fatalf("the agent pinged %d times in 3 s while the relay pinged it every 30 ms", n)
	}
}
