package agent

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
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
		waitFor(t, "Quiet told "+boolsString(want), func() bool {
			mu.Lock()
			defer mu.Unlock()
			return slices.Equal(told, want)
		})
	}
	release := make(chan struct{})
	cfg.Commands = []commands.Command{{
		Spec: protocol.CommandSpec{Name: "hold", Args: []protocol.ArgSpec{}}, DefaultOn: true,
		Run: func(ctx context.Context, _ map[string]any) (json.RawMessage, error) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil, nil
		},
	}}
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

func boolsString(b []bool) string {
	out, _ := json.Marshal(b)
	return string(out)
}
