package agent

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// TestQuietWhileNobodyWatchesAndNothingRuns: Config.Quiet is told that a
// new agent is quiet, that it is not while somebody watches or a command
// runs unwatched, and quiet again after each, every change once.
func TestQuietWhileNobodyWatchesAndNothingRuns(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	var mu sync.Mutex
	var told []bool
	cfg.Quiet = func(q bool) {
		mu.Lock()
		defer mu.Unlock()
		told = append(told, q)
	}
	sawTold := func(want ...bool) {
		t.Helper()
		waitFor(t, fmt.Sprint("Quiet told ", want), func() bool {
			mu.Lock()
			defer mu.Unlock()
			return slices.Equal(told, want)
		})
	}
	release := make(chan struct{})
	var started atomic.Int64
	cfg.Commands = []commands.Command{holdCommand(release, &started)}
	a := startAgent(t, cfg, nil)
	sawTold(true)
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	waitFor(t, "connected", func() bool { return a.Status().State == StateConnected })

	c.watch(1)
	sawTold(true, false)
	c.watch(2) // still watched: nothing to tell
	c.watch(0)
	sawTold(true, false, true)

	c.command("h1", "hold", "")
	sawTold(true, false, true, false)
	close(release)
	if m := c.next(t, protocol.TypeResult); m.ID != "h1" || m.OK == nil || !*m.OK {
		t.Fatalf("command: %+v %+v", m, m.Error)
	}
	sawTold(true, false, true, false, true)
}
