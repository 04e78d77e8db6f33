package agent

import (
	"context"
	"sync"
	"testing"
)

// TestEnsureCredentialsRegistersOnce: `tether run` and `tether pair` on a
// first start both find no credentials; only one of them may register.
func TestEnsureCredentialsRegistersOnce(t *testing.T) {
	relay := newFakeRelay(t)
	dir := t.TempDir()
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Go(func() {
			c, _, err := EnsureCredentials(context.Background(), nil, dir, relay.URL(), "", Device{Name: "box", OS: "linux"})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = c.DeviceID
		})
	}
	wg.Wait()
	if got := relay.registered(); got != 1 {
		t.Fatalf("%d registrations, want 1", got)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("callers got different devices: %v", ids)
		}
	}
}
