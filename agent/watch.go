package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// settingsWatcher is the running agent's one reader of config.json. Every
// SettingsPoll it re-reads the file and rebuilds the hello (which also
// notices the desktop gaining or losing what a command needs), and puts
// both in the state, which wakes whoever cares. Edits from this process
// (the tray) go through it too, so that a read and a write never cross.
// Safe for concurrent use.
type settingsWatcher struct {
	dir   string
	log   *slog.Logger
	state *state
	desc  *describer

	mu sync.Mutex // one reload or edit at a time
}

// run polls until ctx ends. It blocks; owned by Agent.Run.
func (w *settingsWatcher) run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			w.reload()
		}
	}
}

// reload re-reads config.json and applies it. A file that cannot be read or
// parsed keeps the previous settings (and is logged).
func (w *settingsWatcher) reload() {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, err := LoadSettings(w.dir)
	if err != nil {
		w.log.Warn("cannot read settings; keeping the previous ones", "err", err)
		w.apply(w.state.currentSettings())
		return
	}
	w.apply(s)
}

// edit changes config.json with f and applies the result at once. It blocks
// on the file's read and write.
func (w *settingsWatcher) edit(f func(*Settings)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, err := LoadSettings(w.dir)
	if err != nil {
		return err
	}
	f(&s)
	return w.storeLocked(s)
}

// replace writes s to config.json, whatever the file held, and applies it
// at once. It blocks on the file's write.
func (w *settingsWatcher) replace(s Settings) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.storeLocked(s)
}

// storeLocked writes s and applies it. mu held.
func (w *settingsWatcher) storeLocked(s Settings) error {
	if err := SaveSettings(w.dir, s); err != nil {
		return err
	}
	w.apply(s)
	return nil
}

// apply puts s in force: the status, then the hello. mu held.
func (w *settingsWatcher) apply(s Settings) {
	if w.state.setSettings(s) {
		w.state.update(func(st *Status) { w.desc.fillStatus(st, s) })
		st, _ := w.state.snapshot()
		w.log.Info("settings changed", "allowed", st.Allowed)
	}
	w.state.setHello(w.desc.hello(s))
}

// refreshHello rebuilds the hello from the settings in force, as the next
// tick would. The agent calls it before each link's first hello.
func (w *settingsWatcher) refreshHello() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.state.setHello(w.desc.hello(w.state.currentSettings()))
}
