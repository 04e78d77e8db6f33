// Package desktop is the agent's hands on this machine: it plays beeps
// through the sound card, shows desktop notifications, captures the screen,
// moves and clicks the pointer, types text, opens links, and watches the
// pointer for the mouse events it shares. It implements commands.Desktop and
// commands.Controller, and the agent's optional mouse and screen interfaces
// (WatchMouse, Screen).
//
// The sound code needs cgo (ALSA on Linux) and lives in files built with cgo;
// a build without cgo compiles a stand-in whose Beep reports unavailable.
// Notifications are per OS: D-Bus on Linux (with buttons when the
// notification service has them), osascript on macOS, a PowerShell toast
// on Windows (both without buttons). Screen, pointer and keyboard go through a pure-Go X11 client
// (jezek/xgb) on Linux, and through robotgo and gohook (cgo) on Windows and
// macOS. On Linux no Xlib code runs: one owner holds the connection to the
// X server, notices when the server goes away, tries again every second and
// comes back when it returns; meanwhile the display commands answer
// unavailable. Nothing here crashes when the machine has no sound device, no
// display or no session bus: each command then reports why it is
// unavailable.
package desktop

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// How long an availability check's answer is trusted before the check runs
// again (a sound card may be plugged in, a session bus may start): first
// recheckEvery; each time the check finds the same answer again, twice as
// long, up to recheckMax; after a changed answer, recheckEvery again.
// Recheck makes every check due at once (the agent calls it when somebody
// starts watching, so the page opens on fresh answers).
const (
	recheckEvery = 30 * time.Second
	recheckMax   = 5 * time.Minute
)

// recheck is when one availability check runs again (see recheckEvery).
// Its user guards it.
type recheck struct {
	at    time.Time     // when the check last ran; zero before the first and after Recheck
	every time.Duration // how long its answer is trusted
}

// due reports whether the check should run now.
func (r *recheck) due() bool { return r.at.IsZero() || time.Since(r.at) >= r.every }

// ran records a run of the check; same says it found the answer it found before.
func (r *recheck) ran(same bool) {
	if same && !r.at.IsZero() {
		r.every = min(2*r.every, recheckMax)
	} else {
		r.every = recheckEvery
	}
	r.at = time.Now()
}

// expire makes the check due, keeping its interval's history out of it.
func (r *recheck) expire() { r.at, r.every = time.Time{}, 0 }

// checkBound bounds one availability check done inside Unavailable.
const checkBound = 2 * time.Second

// Desktop is this machine. Its methods are safe for concurrent use.
type Desktop struct {
	log      *slog.Logger
	sound    *sound
	notifier *notifier

	display screenBackend
	changes chan struct{} // cap 1: the display opened or went away (Changes)
	typing  sync.Mutex    // one type_text at a time
	clip    clipboard

	mu          sync.Mutex // guards the checks below
	notifyCheck recheck
	notifyWhy   string // why notify cannot run, "" if it can
	notifyKnown bool
	session     recheck
	sessionWhy  map[string]string // session commands that cannot run, with the reason
	opener      recheck
	openerWhy   string // why open_url cannot run, "" if it can
}

var (
	_ commands.Desktop    = (*Desktop)(nil)
	_ commands.Controller = (*Desktop)(nil)
)

// New returns the Desktop of this machine. It does not touch the sound device,
// the session bus or the display yet, so it never blocks and never fails;
// log may be nil.
func New(log *slog.Logger) *Desktop {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Desktop{log: log, sound: newSound(log), notifier: newNotifier(log), clip: newClipboard(log), changes: make(chan struct{}, 1)}
	d.display = newDisplay(log, d.changed)
	return d
}

// Changes is ready when what Unavailable answers may have changed without
// being asked: the display opened or went away (on Linux, where the X
// display's owner notices both by itself). A receive covers every change
// before it.
func (d *Desktop) Changes() <-chan struct{} { return d.changes }

// changed signals Changes; it never blocks.
func (d *Desktop) changed() {
	select {
	case d.changes <- struct{}{}:
	default: // a signal is already waiting
	}
}

// Beep plays a sine tone of frequencyHz for d. The sound device is opened on
// the first call and closed again after a while without beeps; when it cannot
// be opened Beep returns a *protocol.Error with code unavailable and the
// reason, and the next call tries again. Beep blocks until the whole tone has
// been handed to the sound device, ctx ends, or a bound of d plus a few
// seconds passes; it never hangs on a broken device.
func (d *Desktop) Beep(ctx context.Context, frequencyHz int, dur time.Duration) error {
	if frequencyHz <= 0 || frequencyHz >= sampleRate/2 || dur <= 0 || dur > time.Minute {
		return protocol.Errorf(protocol.CodeInvalidArgs, "cannot play %d Hz for %v", frequencyHz, dur)
	}
	return d.sound.beep(ctx, frequencyHz, dur)
}

// Notify shows a notification with a plain-text title and body. It blocks
// until the notification service has accepted it or ctx ends. When there is no
// service to show it, it returns a *protocol.Error with code unavailable.
func (d *Desktop) Notify(ctx context.Context, title, body string) error {
	return d.noteNotify(d.notifier.notify(ctx, title, body))
}

// NotifyActions shows a notification like Notify, with one button per
// action (its label) when the notification service has buttons (on Linux,
// one whose capabilities list "actions"); elsewhere, or without them, the
// notification shows as plain text and chosen is never called. When the
// person clicks a button, chosen is called once, with its label, from a
// goroutine of the Desktop; when the notification is closed, after 30
// minutes, or at Close, it is not called. It blocks until the service has
// accepted the notification or ctx ends (ctx does not bound the wait for a
// click). Safe concurrently.
func (d *Desktop) NotifyActions(ctx context.Context, title, body string, actions []string, chosen func(action string)) error {
	return d.noteNotify(d.notifier.notifyActions(ctx, title, body, actions, chosen))
}

// noteNotify remembers what a notification's err says about notify's
// availability, and returns err.
func (d *Desktop) noteNotify(err error) error {
	if perr := (*protocol.Error)(nil); errors.As(err, &perr) && perr.Code == protocol.CodeUnavailable {
		d.setNotifyCheck(perr.Message)
	} else if err == nil {
		d.setNotifyCheck("")
	}
	return err
}

// Unavailable returns, for each command that cannot run on this machine now,
// the reason. It is cheap: answers are cached (see recheckEvery), so most
// calls make no system call at all. Only a call that checks for real blocks,
// each check for at most about 2 s: the first call (it asks the session bus
// and runs pactl), and a call that re-checks notifications or the session
// (sound re-checks run in the background).
func (d *Desktop) Unavailable() map[string]string {
	out := map[string]string{}
	if why := d.sound.unavailable(); why != "" {
		out["beep"] = why
	}
	if why := d.checkNotify(); why != "" {
		out["notify"] = why
	}
	if why := d.display.unavailable(); why != "" {
		for _, name := range displayCommands {
			out[name] = why
		}
	}
	if why := d.checkOpener(); why != "" {
		out["open_url"] = why
	}
	for name, why := range d.sessionChecks() {
		out[name] = why
	}
	return out
}

// Close releases the sound device and the display, and stops listening for
// clicks on notifications. Beeps still playing end early. It blocks for at
// most a few seconds; the Desktop must not be used afterwards.
func (d *Desktop) Close() error {
	d.notifier.close()
	d.sound.close()
	d.clip.close()
	d.display.close()
	return nil
}

// Recheck makes every cached availability check due: the next Unavailable
// asks the machine again.
func (d *Desktop) Recheck() {
	d.mu.Lock()
	d.notifyCheck.expire()
	d.session.expire()
	d.opener.expire()
	d.mu.Unlock()
	d.sound.recheck()
}

// checkNotify is why notify cannot run ("" if it can). A notification that
// was shown, or refused as unavailable, is an answer too (noteNotify).
func (d *Desktop) checkNotify() string {
	d.mu.Lock()
	fresh := d.notifyKnown && !d.notifyCheck.due()
	why := d.notifyWhy
	d.mu.Unlock()
	if fresh {
		return why
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkBound)
	defer cancel()
	why = d.notifier.check(ctx)
	d.setNotifyCheck(why)
	return why
}

func (d *Desktop) setNotifyCheck(why string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notifyCheck.ran(d.notifyKnown && why == d.notifyWhy)
	d.notifyWhy, d.notifyKnown = why, true
}

// checkOpener is openerCheck, cached.
func (d *Desktop) checkOpener() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.opener.due() {
		why := openerCheck()
		d.opener.ran(why == d.openerWhy)
		d.openerWhy = why
	}
	return d.openerWhy
}
