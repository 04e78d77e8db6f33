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

// recheckEvery is how long a failed availability check is trusted before it
// is run again (a sound card may be plugged in, a session bus may start).
const recheckEvery = 30 * time.Second

// checkBound bounds one availability check done inside Unavailable.
const checkBound = 2 * time.Second

// Desktop is this machine. Its methods are safe for concurrent use.
type Desktop struct {
	log      *slog.Logger
	sound    *sound
	notifier *notifier

	display screenBackend
	typing  sync.Mutex // one type_text at a time
	clip    clipboard

	mu          sync.Mutex // guards the notify and session checks below
	notifyAt    time.Time  // when notifyWhy was found
	notifyWhy   string     // why notify cannot run, "" if it can
	notifyKnown bool
	sessionAt   time.Time         // when sessionWhy was found
	sessionWhy  map[string]string // session commands that cannot run, with the reason
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
	return &Desktop{log: log, sound: newSound(log), notifier: newNotifier(log), display: newDisplay(log), clip: newClipboard(log)}
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
// the reason. It is cheap: results are cached, and a failed check is run
// again at most every 30 s. Only a call that checks for real blocks, each
// check for at most about 2 s: the first call (it opens the sound device and
// asks the session bus), and a call that re-checks notifications (sound
// re-checks run in the background).
func (d *Desktop) Unavailable() map[string]string {
	out := map[string]string{}
	if why := d.sound.unavailable(); why != "" {
		out["beep"] = why
	}
	if why := d.notifyCheck(); why != "" {
		out["notify"] = why
	}
	if why := d.display.unavailable(); why != "" {
		for _, name := range displayCommands {
			out[name] = why
		}
	}
	if why := openerCheck(); why != "" {
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

func (d *Desktop) notifyCheck() string {
	d.mu.Lock()
	fresh := d.notifyKnown && (d.notifyWhy == "" || time.Since(d.notifyAt) < recheckEvery)
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
	d.notifyAt, d.notifyWhy, d.notifyKnown = time.Now(), why, true
}
