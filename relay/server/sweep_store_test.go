package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tether-desktop/tether/relay/store"
)

// TestIdleSessionsRefusedAndSwept pairs a browser, lets the relay's clock run
// past store.SessionIdleTTL, and checks that the session is refused (401) and
// then deleted by the sweep.
func TestIdleSessionsRefusedAndSwept(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	r := newRelay(t, func(c *Config) { c.Now = clk.Now })
	r.srv.shareClock()
	_, tok := r.register("box")
	sess := r.pair(r.code(tok), "")
	if resp := r.do("GET", "/api/v1/devices", sess, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("fresh session: %d", resp.StatusCode)
	}
	clk.Add(store.SessionIdleTTL - time.Hour)
	if resp := r.do("GET", "/api/v1/devices", sess, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("session used within the limit: %d", resp.StatusCode)
	}
	// That use counts: the session is idle from now on.
	clk.Add(store.SessionIdleTTL - time.Hour)
	if n, err := r.srv.sweepIdleSessions(context.Background()); err != nil || n != 0 {
		t.Fatalf("sweep within the limit = %d, %v; want 0", n, err)
	}
	if resp := r.do("GET", "/api/v1/devices", sess, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("session used within the limit again: %d", resp.StatusCode)
	}
	clk.Add(store.SessionIdleTTL + time.Minute)
	if resp := r.do("GET", "/api/v1/devices", sess, nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("idle session: %d, want 401", resp.StatusCode)
	}
	if n, err := r.srv.sweepIdleSessions(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want 1", n, err)
	}
}
