package desktop

import (
	"context"
	"maps"
	"time"
	"unicode/utf8"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// The session commands (lock_screen, sleep, volume, media, clipboard) and
// the idle time. Their backends are per OS: session_linux.go,
// session_darwin.go, session_windows.go, session_other.go, and the
// clipboard_*.go files.

var _ commands.Session = (*Desktop)(nil)

// clipboard is the system clipboard's text. Safe for concurrent use.
type clipboard interface {
	get(ctx context.Context) (text string, truncated bool, err error)
	set(ctx context.Context, text string) error
	// unavailable says why the clipboard cannot be used now, "" if it can;
	// display is the Desktop's screen backend (the X display on Linux).
	unavailable(display screenBackend) string
	close()
}

// LockScreen locks the session now and says how. It blocks until the
// locker has taken the request (a few seconds at most); when no locker
// answers it returns an unavailable *protocol.Error with every reason.
func (d *Desktop) LockScreen(ctx context.Context) (string, error) { return lockScreen(ctx) }

// Suspend asks the OS to put the computer to sleep and says how; it returns
// once the request was taken.
func (d *Desktop) Suspend(ctx context.Context) (string, error) { return suspend(ctx) }

// Volume changes the default output's volume and returns it afterwards.
func (d *Desktop) Volume(ctx context.Context, ch commands.VolumeChange) (commands.VolumeState, error) {
	return setVolume(ctx, ch)
}

// Media sends a play/pause, next, previous … action to the media player.
func (d *Desktop) Media(ctx context.Context, action string) (string, error) {
	return mediaAction(ctx, action)
}

// ClipboardText returns the clipboard's text (at most
// commands.MaxClipboardGet bytes) and whether it was cut.
func (d *Desktop) ClipboardText(ctx context.Context) (string, bool, error) { return d.clip.get(ctx) }

// SetClipboardText puts text on the clipboard.
func (d *Desktop) SetClipboardText(ctx context.Context, text string) error {
	return d.clip.set(ctx, text)
}

// IdleTime returns how long ago the last keyboard or pointer input was,
// or an unavailable *protocol.Error when the OS does not say.
func (d *Desktop) IdleTime(ctx context.Context) (time.Duration, error) { return d.idleTime(ctx) }

// sessionChecks is sessionUnavailable, cached (see recheckEvery).
func (d *Desktop) sessionChecks() map[string]string {
	d.mu.Lock()
	due := d.session.due()
	out := d.sessionWhy
	d.mu.Unlock()
	if due {
		ctx, cancel := context.WithTimeout(context.Background(), checkBound)
		out = sessionUnavailable(ctx)
		cancel()
		d.mu.Lock()
		d.session.ran(maps.Equal(out, d.sessionWhy))
		d.sessionWhy = out
		d.mu.Unlock()
	}
	res := map[string]string{}
	for k, v := range out {
		res[k] = v
	}
	if why := d.clip.unavailable(d.display); why != "" {
		res[protocol.CommandClipboardGet] = why
		res[protocol.CommandClipboardSet] = why
	}
	return res
}

// clipText cuts b to MaxClipboardGet bytes on a rune boundary.
func clipText(b []byte, more bool) (string, bool) {
	if len(b) <= commands.MaxClipboardGet {
		return string(b), more
	}
	n := commands.MaxClipboardGet
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]), true
}
