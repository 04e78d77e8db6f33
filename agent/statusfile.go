package agent

import (
	"context"
	"log/slog"
)

// statusWriter keeps status.json in step with the state, off the goroutines
// that change it: it waits for a change and writes the newest snapshot, so a
// burst of changes costs one write, and an older snapshot never overwrites
// a newer one. Nothing changed, nothing is written: no periodic refresh
// wakes the agent or the disk (`tether status` asks the running agent, and
// when it cannot, whether status.json's PID lives). Only one goroutine may
// use it.
type statusWriter struct {
	dir   string
	log   *slog.Logger
	state *state
	write func(dir string, s Status) error // writeStatus; tests wrap it

	written uint64 // status version in status.json
	failed  bool   // the last write failed (logged once)
}

// run writes until ctx ends. It blocks; owned by Agent.Run, which calls
// flush once more after it returns.
func (w *statusWriter) run(ctx context.Context) {
	for {
		changed := w.state.changes()
		w.flush()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// flush writes the state's status if status.json does not hold it yet.
func (w *statusWriter) flush() {
	snap, seq := w.state.snapshot()
	if seq == w.written {
		return
	}
	if err := w.write(w.dir, snap); err != nil {
		if !w.failed {
			w.log.Warn("cannot write status file", "err", err)
		}
		w.failed = true
		return
	}
	w.written, w.failed = seq, false
}
