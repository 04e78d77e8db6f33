package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/store"
)

// maxBookNames bounds the pairing names a node keeps in memory; past it the
// book starts afresh (names come back from the store on demand).
const maxBookNames = 100_000

// seenEvery is the least time between two last-seen writes of one pairing
// (or of all a session's pairings): a busy browser costs the store one
// write a minute at most, and last seen is that precise.
const seenEvery = time.Minute

// maxBookLoads bounds the store reads the book runs at once to learn names.
const maxBookLoads = 4

// pairKey names one pairing by its session and device.
type pairKey struct{ session, device string }

// pairingBook is what this node knows of pairing records for its hot paths:
// the name and id of each pairing, so that the hub can say on a forwarded
// command which browser sent it without reading the store under its lock,
// and the pairings' last-seen times, written to the store in batches off
// the request, socket and hub goroutines. Names come from pairings made on
// this node and from the store, read in the background the first time a
// pairing is asked for. Safe for concurrent use; no method blocks on the
// store.
type pairingBook struct {
	st    store.Store
	log   *slog.Logger
	seenW *batchWriter[pairKey, time.Time]

	mu      sync.Mutex
	names   map[pairKey]protocol.CommandFrom
	marked  map[pairKey]time.Time // last-seen times queued lately, for seenEvery
	loading map[string]bool       // sessions whose pairings are being read
	ctx     context.Context       // of the background reads; canceled by close
	cancel  context.CancelFunc
	loads   sync.WaitGroup
}

func newPairingBook(st store.Store, log *slog.Logger) *pairingBook {
	b := &pairingBook{st: st, log: log, names: map[pairKey]protocol.CommandFrom{},
		marked: map[pairKey]time.Time{}, loading: map[string]bool{}}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.seenW = newBatchWriter(log, "last-seen times of pairings",
		func(t time.Time) time.Time { return t },
		func(ctx context.Context, k pairKey, t time.Time) error {
			return st.TouchPairings(ctx, k.session, k.device, t)
		})
	return b
}

// learn remembers the name and id of pairing p.
func (b *pairingBook) learn(p store.Pairing) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.learnLocked(p)
}

func (b *pairingBook) learnLocked(p store.Pairing) {
	if len(b.names) >= maxBookNames {
		clear(b.names)
	}
	b.names[pairKey{p.SessionID, p.DeviceID}] = protocol.CommandFrom{Pairing: p.ID, Browser: p.Name}
}

// learnSession reads the pairings of session from the store and remembers
// their names, so that the first command or file of a socket of session
// names its browser even when the pairing was made on another node. Called
// as the socket opens, before the hub knows it; on an error the book
// learns them later, on first use (see from). Nil-safe.
func (b *pairingBook) learnSession(ctx context.Context, session string) {
	if b == nil {
		return
	}
	if err := b.read(ctx, session); err != nil {
		b.log.Debug("read a session's pairings as its socket opens", "session", session, "err", err)
	}
}

// forget drops what the book knows of the pairing of session and device.
func (b *pairingBook) forget(session, device string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.names, pairKey{session, device})
}

// seen records that session was seen at t: on its pairing with device, or
// on all its pairings when device is "". Written to the store later, at
// most once every seenEvery for the same key.
func (b *pairingBook) seen(session, device string, t time.Time) {
	if b == nil || session == "" {
		return
	}
	k := pairKey{session, device}
	b.mu.Lock()
	last, ok := b.marked[k]
	if ok && t.Sub(last) < seenEvery {
		b.mu.Unlock()
		return
	}
	if len(b.marked) >= maxBookNames {
		clear(b.marked)
	}
	b.marked[k] = t
	b.mu.Unlock()
	b.seenW.put(k, t)
}

// from returns which pairing of session and device this is, or a zero
// CommandFrom when the book does not know it yet: then it starts reading
// the session's pairings in the background, so that the next call knows.
func (b *pairingBook) from(session, device string) protocol.CommandFrom {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f, ok := b.names[pairKey{session, device}]; ok {
		return f
	}
	if b.ctx.Err() == nil && !b.loading[session] && len(b.loading) < maxBookLoads {
		b.loading[session] = true
		b.loads.Add(1)
		go b.load(session)
	}
	return protocol.CommandFrom{}
}

// commandData is the data the relay puts on a command that session sends
// to device at now (protocol.CommandFrom: which pairing sent it, replacing
// whatever the client sent), and marks that pairing seen. Called by the
// hub under its lock: it does no I/O and waits on nothing. Nil-safe: a nil
// book gives nil data.
func (b *pairingBook) commandData(session, device string, now time.Time) json.RawMessage {
	if b == nil {
		return nil
	}
	b.seen(session, device, now)
	f := b.from(session, device)
	if f == (protocol.CommandFrom{}) {
		return nil
	}
	return protocol.MustData(f)
}

// browser is the name of the browser of session's pairing with device, ""
// while the book does not know it. Nil-safe; called under the hub's lock
// like commandData.
func (b *pairingBook) browser(session, device string) string {
	if b == nil {
		return ""
	}
	return b.from(session, device).Browser
}

// load reads the pairings of session into the book, in the background
// (see from).
func (b *pairingBook) load(session string) {
	defer b.loads.Done()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	err := b.read(ctx, session)
	b.mu.Lock()
	delete(b.loading, session)
	b.mu.Unlock()
	if err != nil && b.ctx.Err() == nil {
		b.log.Warn("read a session's pairings", "session", session, "err", err)
	}
}

// read reads the pairings of session from the store and remembers their
// names and ids.
func (b *pairingBook) read(ctx context.Context, session string) error {
	ps, err := b.st.SessionPairings(ctx, session)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range ps {
		b.learnLocked(p)
	}
	return nil
}

// close stops the background reads and writes the pending last-seen times,
// waiting at most until ctx ends. It blocks.
func (b *pairingBook) close(ctx context.Context) {
	b.cancel()
	b.loads.Wait()
	b.seenW.close(ctx)
}
