package server

import (
	"context"
	"sync"
	"time"

	"github.com/tether-desktop/tether/relay/store"
)

// clusterFailsKey is the attempt counter (Store.CountPairingAttempt) that
// holds a cluster's failed pairings. Code hashes are 32-byte HMACs; this
// key has another length, so it never counts a code.
var clusterFailsKey = []byte("tether: failed pairings, cluster-wide")

// clusterFailWindow is the window of the cluster-wide count.
const clusterFailWindow = time.Hour

// clusterFails is the relay-wide budget of failed pairing attempts when
// the relay is a cluster: failures are counted in the shared store (one
// atomic increment each), at most limit an hour, which is as many as the
// one-node bucket (PairFailRate, PairFailBurst) lets through in an hour,
// so the day's odds of a guess hitting stay as designed for the whole
// cluster. A node learns that the budget is spent from the count its own
// failures return, so each node may let one more failure (per request in
// flight) through past the limit: at most a few per node an hour. Safe for
// concurrent use.
type clusterFails struct {
	st    store.Store
	limit int

	mu          sync.Mutex
	closedUntil time.Time
}

func newClusterFails(st store.Store, rate float64, burst int) *clusterFails {
	return &clusterFails{st: st, limit: max(1, int(rate*clusterFailWindow.Seconds())+burst)}
}

// open reports whether pairings may be tried now, and when not, when
// they may again.
func (f *clusterFails) open(now time.Time) (bool, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Before(f.closedUntil) {
		return false, f.closedUntil.Sub(now)
	}
	return true, 0
}

// failed counts one failed attempt in the store and closes pairing on this
// node until the window ends when the cluster's count reached the limit.
// A store error leaves the count as it was (the per-node bucket still holds).
func (f *clusterFails) failed(ctx context.Context, now time.Time) error {
	n, end, err := f.st.CountPairingAttempt(ctx, clusterFailsKey, now, clusterFailWindow)
	if err != nil {
		return err
	}
	if n >= f.limit {
		f.mu.Lock()
		if end.After(f.closedUntil) {
			f.closedUntil = end
		}
		f.mu.Unlock()
	}
	return nil
}
