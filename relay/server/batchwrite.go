package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// batchWriter writes timed records to the store off the goroutines that
// make them (sockets, requests, the hub): only the newest record of each
// key waits, and one goroutine, started when there is something to write
// and gone when there is not, writes them one by one. Devices' last-seen
// times (seenWriter) and pairings' (pairingBook) use it. Safe for
// concurrent use; put never blocks on the store.
type batchWriter[K comparable, V any] struct {
	log   *slog.Logger
	what  string                                    // for the log: "last-seen times of devices"
	at    func(V) time.Time                         // a record's time: a newer one replaces an older
	write func(ctx context.Context, k K, v V) error // one record to the store

	mu      sync.Mutex
	pending map[K]V         // newest by key
	running bool            // a writer goroutine is on its way
	closed  bool            // close was called: put drops
	ctx     context.Context // the writer's; canceled when close gives up
	cancel  context.CancelFunc
	idle    *sync.Cond // signaled when the writer goroutine returns
}

func newBatchWriter[K comparable, V any](log *slog.Logger, what string, at func(V) time.Time,
	write func(context.Context, K, V) error) *batchWriter[K, V] {
	w := &batchWriter[K, V]{log: log, what: what, at: at, write: write, pending: map[K]V{}}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.idle = sync.NewCond(&w.mu)
	return w
}

// put queues v for k, replacing an older record not yet written; an older
// v than the one waiting is dropped.
func (w *batchWriter[K, V]) put(k K, v V) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.log.Debug("record after shutdown not written", "what", w.what, "key", fmt.Sprint(k))
		return
	}
	if old, ok := w.pending[k]; ok && w.at(old).After(w.at(v)) {
		return
	}
	w.pending[k] = v
	if !w.running {
		w.running = true
		go w.run()
	}
}

// run writes pending records until none is left or the writer is canceled.
func (w *batchWriter[K, V]) run() {
	for {
		w.mu.Lock()
		batch := w.pending
		if len(batch) == 0 || w.ctx.Err() != nil {
			dropped := len(batch)
			clear(w.pending)
			w.running = false
			w.idle.Broadcast()
			w.mu.Unlock()
			if dropped > 0 {
				w.log.Warn("records not written before shutdown", "what", w.what, "count", dropped)
			}
			return
		}
		w.pending = make(map[K]V, min(len(batch), 64))
		w.mu.Unlock()
		for k, v := range batch {
			if w.ctx.Err() != nil {
				// Put the rest back to be counted as dropped.
				w.mu.Lock()
				for k, v := range batch {
					if _, newer := w.pending[k]; !newer {
						w.pending[k] = v
					}
				}
				w.mu.Unlock()
				break
			}
			ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
			if err := w.write(ctx, k, v); err != nil && w.ctx.Err() == nil {
				w.log.Warn("write a record", "what", w.what, "key", fmt.Sprint(k), "err", err)
			}
			cancel()
			delete(batch, k)
		}
	}
}

// close stops taking records and waits until every pending one is written
// or ctx ends; then it cancels the writer and waits for it to return. It
// blocks.
func (w *batchWriter[K, V]) close(ctx context.Context) {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		w.cancel()
		w.mu.Lock()
		w.idle.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	w.mu.Lock()
	for w.running {
		w.idle.Wait()
	}
	w.mu.Unlock()
	w.cancel()
}
