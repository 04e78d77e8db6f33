package agent

import (
	"context"
	"time"
)

// mouse watches the pointer while somebody watches the device and the owner
// shares mouse activity and has not paused Tether, and stops watching as
// soon as any of that ends. It looks again at every change of the state,
// and after mouseRetry when the pointer could not be watched. Owned by serve.
func (l *link) mouse(ctx context.Context) {
	if l.pointer == nil {
		return
	}
	w := &pointerWatch{l: l}
	defer w.halt()
	retry := time.NewTimer(time.Hour) // armed while a failed watch waits to be tried again
	retry.Stop()
	defer retry.Stop()
	for {
		changed := l.state.changes()
		want := l.state.watchers() > 0 && l.state.mouseShared() && !l.state.paused()
		switch {
		case want && w.stop == nil && w.mayRetry():
			w.start(ctx)
			l.log.Debug("watching the pointer")
		case want && w.stop == nil:
			retry.Reset(l.mouseRetry - time.Since(w.failedAt))
		case !want && w.stop != nil:
			w.halt()
			l.log.Debug("stopped watching the pointer")
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry.C:
		case err := <-w.done:
			w.ended(ctx, err)
		}
	}
}

// pointerWatch is the running MouseWatcher.WatchMouse of the mouse loop,
// if any. Only the mouse loop uses it.
type pointerWatch struct {
	l        *link
	stop     context.CancelFunc // nil while not watching
	done     chan error         // nil while not watching: WatchMouse's answer
	failedAt time.Time          // when watching last failed
	failed   string             // the last failure, logged once
}

// mayRetry reports whether watching may be tried (again) now.
func (w *pointerWatch) mayRetry() bool {
	return w.failedAt.IsZero() || time.Since(w.failedAt) >= w.l.mouseRetry
}

// start watches the pointer until halt or ctx ends.
func (w *pointerWatch) start(ctx context.Context) {
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	w.l.events.open()
	go func() { done <- w.l.pointer.WatchMouse(wctx, w.l.events.push) }()
	w.stop, w.done = cancel, done
}

// halt stops the watch, waits for it and drops its queued events.
func (w *pointerWatch) halt() {
	if w.stop == nil {
		return
	}
	w.stop()
	<-w.done
	w.stop, w.done = nil, nil
	w.l.events.clear()
	if n := w.l.events.droppedMoves(); n > 0 {
		w.l.log.Info("mouse moves dropped because the link was slow", "dropped", n)
	}
}

// ended records that WatchMouse returned err on its own.
func (w *pointerWatch) ended(ctx context.Context, err error) {
	w.stop()
	w.stop, w.done = nil, nil
	w.l.events.clear()
	if err == nil || ctx.Err() != nil {
		return
	}
	w.failedAt = time.Now()
	if err.Error() != w.failed {
		w.l.log.Warn("mouse sharing is on but the pointer cannot be watched", "err", err)
	}
	w.failed = err.Error()
}
