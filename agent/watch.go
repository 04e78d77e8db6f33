package agent

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tether-desktop/tether/agent/commands"
)

// settingsWatcher is the running agent's one reader of config.json and of
// custom-commands.json. It re-reads config.json and reloads the owner's
// custom commands when either file changes (told by the kernel on Linux,
// polled every SettingsPoll elsewhere or when the directory cannot be
// watched), and rebuilds the hello, which also notices the desktop gaining
// or losing what a command needs: every desktopRecheck while somebody
// watches (only a watcher can send a command), when the first watcher
// comes, and when the desktop says something changed. It
// puts all of it in the state, which wakes whoever cares. Edits from this
// process (the tray) go through it too, so that a read and a write never
// cross. Safe for concurrent use.
type settingsWatcher struct {
	dir     string
	log     *slog.Logger
	state   *state
	desc    *describer
	recheck time.Duration // how often the desktop is asked again while watched

	mu         sync.Mutex // one reload or edit at a time
	customText []byte     // custom-commands.json as last parsed (nil: no file)
	customSet  bool       // customText is meaningful
	parseErr   string     // why customText was refused; "" when it is in force
	readErr    string     // why the file cannot be read now, as last logged
}

// desktopRecheck is how often a watched agent asks the desktop again what
// it lacks. The desktop answers from caches that expire after 30 s at the
// soonest (desktop.Unavailable), and tells of what changes on its own (a
// display that goes away or comes back: Availability.Changes) at once, so
// asking more often would only wake the agent.
const desktopRecheck = 30 * time.Second

// run follows the files and the desktop until ctx ends. It blocks; owned
// by Agent.Run. Nobody watching and no edit, it sleeps without a timer.
func (w *settingsWatcher) run(ctx context.Context, every time.Duration) {
	var poll <-chan time.Time // set while the files are polled
	var changed, ended <-chan struct{}
	if dw, err := watchDir(w.dir, SettingsFile, commands.CustomFile); err == nil {
		defer dw.close()
		changed, ended = dw.changed(), dw.ended()
		w.reload() // an edit between Run's first read and the watch
	} else {
		w.log.Debug("polling the settings files", "every", every, "reason", err)
		t := time.NewTicker(every)
		defer t.Stop()
		poll = t.C
	}
	recheck := time.NewTicker(w.recheck) // the desktop's availability, while watched
	recheck.Stop()
	defer recheck.Stop()
	var desktop <-chan struct{} // the desktop's own news of a change
	if w.desc.avail != nil {
		desktop = w.desc.avail.Changes()
	}
	watched := false
	for {
		st := w.state.changes()
		if now := w.state.watchers() > 0; now != watched {
			watched = now
			if watched {
				// The page opens on fresh answers; while it stays open,
				// the desktop re-asks what it lacks on its own schedule.
				if w.desc.avail != nil {
					w.desc.avail.Recheck()
				}
				w.refreshHello()
				recheck.Reset(w.recheck)
			} else {
				recheck.Stop()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-st:
		case <-changed:
			w.reload()
		case <-ended:
			w.log.Warn("the config directory is no longer watched; polling it", "dir", w.dir, "every", every)
			changed, ended = nil, nil
			t := time.NewTicker(every)
			defer t.Stop()
			poll = t.C
			w.reload()
		case <-poll:
			w.reload()
		case <-recheck.C:
			w.refreshHello()
		case <-desktop:
			w.refreshHello()
		}
	}
}

// reload re-reads config.json and applies it. A file that cannot be read or
// parsed keeps the previous settings (and is logged).
func (w *settingsWatcher) reload() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reloadCustomLocked()
	s, err := LoadSettings(w.dir)
	if err != nil {
		w.log.Warn("cannot read settings; keeping the previous ones", "err", err)
		w.apply(w.state.currentSettings())
		return
	}
	w.apply(s)
}

// reloadCustomLocked loads custom-commands.json when it changed since the
// last look. A valid file replaces the dispatcher's custom commands; an
// invalid one is refused, logged, and shown in the status, and the previous
// commands stay. mu held.
func (w *settingsWatcher) reloadCustomLocked() {
	text, err := commands.ReadCustomFile(w.dir)
	if err != nil {
		if w.readErr != err.Error() {
			w.readErr = err.Error()
			w.log.Warn("custom commands refused; keeping the previous ones", "err", err)
			w.state.update(func(st *Status) { st.CustomError = err.Error() })
		}
		return
	}
	unreadable := w.readErr != ""
	w.readErr = ""
	if w.customSet && bytes.Equal(text, w.customText) && (text == nil) == (w.customText == nil) {
		if unreadable { // readable again, as it was: its own verdict stands
			w.state.update(func(st *Status) { st.CustomError = w.parseErr })
		}
		return
	}
	w.customText, w.customSet = text, true
	disp := w.desc.disp
	var defs []commands.CustomDef
	if text != nil {
		defs, err = commands.ParseCustomFile(text, disp.Reserved)
	}
	if err != nil {
		w.parseErr = err.Error()
		w.log.Warn("custom commands refused; keeping the previous ones", "err", err)
		w.state.update(func(st *Status) { st.CustomError = w.parseErr })
		return
	}
	w.parseErr = ""
	disp.SetCustom(commands.Custom(defs))
	names := make([]string, 0, len(defs))
	for _, d := range defs {
		names = append(names, d.Name)
	}
	if len(names) > 0 {
		w.log.Info("custom commands loaded", "commands", names)
	}
	set := w.state.currentSettings()
	w.state.update(func(st *Status) {
		st.Custom, st.CustomError = names, ""
		w.desc.fillStatus(st, set)
	})
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

// apply puts s in force: the status, then the hello, which asks the
// desktop again only when the settings changed (a command switched on is
// checked at once; a reload that found nothing new asks nothing). mu held.
func (w *settingsWatcher) apply(s Settings) {
	changed := w.state.setSettings(s)
	if changed {
		w.state.update(func(st *Status) { w.desc.fillStatus(st, s) })
		st, _ := w.state.snapshot()
		w.log.Info("settings changed", "allowed", st.Allowed)
	}
	w.state.setHello(w.desc.hello(s, changed))
}

// refreshHello rebuilds the hello from the settings in force, asking the
// desktop again what it lacks. The agent calls it before each link's first
// hello, and run while somebody watches.
func (w *settingsWatcher) refreshHello() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.state.setHello(w.desc.hello(w.state.currentSettings(), true))
}
