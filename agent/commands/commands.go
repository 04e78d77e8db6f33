// Package commands holds the commands the agent can carry out for a paired
// browser, their argument specs, and the Dispatcher that checks every
// request (whitelist, pause, arguments, availability, rate) before it runs
// one. Each command lives in a file of its own; the machine-specific work is
// behind the Desktop interface, which package desktop implements.
package commands

import (
	"context"
	"encoding/json"
	"image"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// Handler runs one command whose args were already validated against its
// spec (integers arrive as int64, numbers as float64, strings as string).
// Returning a *protocol.Error sets the result's code; other errors become
// "internal". A Handler must return soon after ctx ends.
type Handler func(ctx context.Context, args map[string]any) (json.RawMessage, error)

// DefaultTimeout bounds a run of a Command whose Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Command is one command the agent knows, with its limits.
type Command struct {
	Spec      protocol.CommandSpec
	DefaultOn bool          // on in a new install's whitelist
	Rate      float64       // commands per second allowed (token bucket)
	Burst     int           // commands allowed at once when the bucket is full
	Timeout   time.Duration // longest a run may take; zero means DefaultTimeout
	Run       Handler
	// Unavailable returns why the command cannot run on this machine now,
	// or "" when it can. Nil means always available. It must be cheap.
	Unavailable func() string
	// Receiver takes the files of a streamed command (receive_files);
	// nil for every other command.
	Receiver FileReceiver
}

// Desktop is what the commands need from the machine; package desktop
// implements it. Every method must be safe for concurrent use.
type Desktop interface {
	// Beep plays a tone of frequencyHz for d and blocks until it has been
	// played or ctx ends.
	Beep(ctx context.Context, frequencyHz int, d time.Duration) error
	// Notify shows a desktop notification with plain text title and body.
	Notify(ctx context.Context, title, body string) error
	// Unavailable returns, for each command name that cannot run on this
	// machine now, the reason (e.g. "no sound device: oto: ALSA error …").
	// Cheap; may be called often.
	Unavailable() map[string]string
}

// Controller is what the screen, pointer, keyboard and link commands need
// from the machine (screenshot, mouse_move, mouse_click, type_text,
// open_url); package desktop implements it. Every method must be safe for
// concurrent use, and each returns a *protocol.Error with code unavailable
// when the machine cannot do it now (no display, no browser opener).
type Controller interface {
	// ScreenSize returns the size of the desktop in pixels.
	ScreenSize() (width, height int, err error)
	// Capture returns the whole desktop as an image of ScreenSize.
	Capture(ctx context.Context) (image.Image, error)
	// MoveMouse puts the pointer at (x, y), inside the screen.
	MoveMouse(ctx context.Context, x, y int) error
	// Click presses and releases button (protocol.ButtonLeft, …) where the
	// pointer is.
	Click(ctx context.Context, button string) error
	// TypeText types text as key presses into the focused window; '\n' is
	// Return and '\t' is Tab.
	TypeText(ctx context.Context, text string) error
	// OpenURL opens an http or https link in the desktop's browser. It
	// starts the opener and returns; it does not wait for the browser.
	OpenURL(ctx context.Context, rawURL string) error
}

// Builtin returns the commands this build can carry out, wired to d, sorted
// by name. When d is also a Controller the display commands use it, and when
// it is a Session the session commands (lock_screen, sleep, volume, media,
// clipboard) use it; when it is not, they exist (so they can be switched on
// and off) but always report unavailable.
func Builtin(d Desktop) []Command {
	c, ok := d.(Controller)
	ans := &desktopAnswer{d: d}
	why := func(name string) func() string {
		if !ok {
			return func() string { return noController }
		}
		return ans.from(name)
	}
	if !ok {
		c = missingController{}
	}
	s, sok := d.(Session)
	sessionWhy := func(name string) func() string {
		if !sok {
			return func() string { return noSession }
		}
		return ans.from(name)
	}
	if !sok {
		s = missingSession{}
	}
	cmds := []Command{
		beepCommand(d, ans.from("beep")),
		mouseClickCommand(c, why("mouse_click")),
		mouseMoveCommand(c, why("mouse_move")),
		notifyCommand(d, ans.from("notify")),
		openURLCommand(c, why("open_url")),
		screenshotCommand(c, why("screenshot"), ScreenshotBudget),
		typeTextCommand(c, why("type_text")),
		ReceiveFiles(nil, protocol.DefaultMaxFile), // wired to the inbox by package agent
	}
	cmds = append(cmds, sessionCommands(s, sessionWhy)...)
	slices.SortFunc(cmds, func(a, b Command) int { return strings.Compare(a.Spec.Name, b.Spec.Name) })
	return cmds
}

// desktopAnswer shares one answer of Desktop.Unavailable among the commands
// that depend on it. The dispatcher asks every allowed command in turn when
// the hello is rebuilt (every few seconds while somebody watches), and each
// answer costs the desktop's checks: files looked up, a program started.
// One answer serves a round in which each command asks once; a command
// that asks again, or a round older than answerFresh, asks the desktop
// anew. Safe for concurrent use.
type desktopAnswer struct {
	d     Desktop
	mu    sync.Mutex
	at    time.Time
	m     map[string]string
	asked map[string]bool // the names answered in this round
}

// answerFresh bounds how long one answer of the desktop serves a round.
const answerFresh = time.Second

// from returns command name's Unavailable function.
func (a *desktopAnswer) from(name string) func() string {
	return func() string {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.asked == nil || a.asked[name] || time.Since(a.at) > answerFresh {
			a.m, a.at, a.asked = a.d.Unavailable(), time.Now(), map[string]bool{}
		}
		a.asked[name] = true
		return a.m[name]
	}
}

const noController = "this build of the agent cannot reach the screen, pointer or keyboard"

// missingController stands in for a Desktop that is not a Controller.
type missingController struct{}

func (missingController) ScreenSize() (int, int, error) { return 0, 0, errNoController }
func (missingController) Capture(context.Context) (image.Image, error) {
	return nil, errNoController
}
func (missingController) MoveMouse(context.Context, int, int) error { return errNoController }
func (missingController) Click(context.Context, string) error       { return errNoController }
func (missingController) TypeText(context.Context, string) error    { return errNoController }
func (missingController) OpenURL(context.Context, string) error     { return errNoController }

var errNoController = protocol.Errorf(protocol.CodeUnavailable, noController)
