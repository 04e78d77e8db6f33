package server

import (
	"context"
	"testing"

	"github.com/tether-desktop/tether/relay/store"
)

// TestRelayAloneKeepsOneHello checks that a relay with no other nodes
// keeps an agent's hello decoded only, not also as the JSON the other
// nodes of a cluster ask for: a desktop's hello is a few KB, held for
// every agent.
func TestRelayAloneKeepsOneHello(t *testing.T) {
	r := newRelay(t, nil)
	d := store.Device{ID: newID("d_"), Name: "box", OS: "linux", CreatedAt: r.srv.cfg.Now()}
	tok := newToken(deviceTokenPrefix)
	if err := r.st.CreateDevice(context.Background(), d, hashToken(tok)); err != nil {
		t.Fatal(err)
	}
	r.agent(tok) // returns once the hello is handled (the watch that follows it came)
	h := r.srv.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.agents[d.ID]
	if a == nil || a.hello == nil {
		t.Fatal("the agent or its hello is missing")
	}
	if a.helloRaw != nil {
		t.Fatalf("a relay alone keeps the hello as JSON too (%d bytes)", len(a.helloRaw))
	}
}
