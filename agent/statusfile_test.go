package agent

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tether-desktop/tether/protocol"
)

// TestStatusWritesNeverStallTheLink: while a write of status.json hangs
// (a slow disk), the link keeps reading frames and answering commands; once
// the write returns, the changes made meanwhile reach the file in one write
// more, not one per watch frame.
func TestStatusWritesNeverStallTheLink(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	release := make(chan struct{})
	stuck := make(chan struct{})
	var once sync.Once
	var writes atomic.Int32 // writes that began after the stuck one
	a := startAgent(t, cfg, func(a *Agent) {
		a.statusFile = func(dir string, s Status) error {
			if s.Watchers == 1 {
				once.Do(func() { close(stuck); <-release })
			} else if s.Watchers > 1 {
				writes.Add(1)
			}
			return writeStatus(dir, s)
		}
	})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free) // runs before the agent is stopped

	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	c.watch(1)
	<-stuck
	const last = 60
	for n := 2; n <= last; n++ {
		c.watch(n)
	}
	c.command("while-stuck", "beep", "")
	for {
		m := c.next(t, protocol.TypeResult)
		if m.ID == "while-stuck" {
			break
		}
	}
	waitFor(t, "watchers in the status", func() bool { return a.Status().Watchers == last })
	free()
	waitFor(t, "status.json catches up", func() bool {
		st, err := ReadStatus(cfg.ConfigDir)
		return err == nil && st.Watchers == last
	})
	if n := writes.Load(); n > 3 {
		t.Errorf("%d writes of status.json for %d watch frames while one write hung; want them coalesced", n, last-1)
	}
}
