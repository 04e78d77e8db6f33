// Package commands holds the commands the agent can carry out for a paired
// browser, their argument specs, and the Dispatcher that checks every
// request (whitelist, pause, arguments, availability, rate) before it runs
// one. Each command lives in a file of its own; the machine-specific work is
// behind the Desktop interface, which package desktop implements.
package commands

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tether-desktop/tether/relay/protocol"
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

// Builtin returns the commands this build can carry out, wired to d, sorted
// by name.
func Builtin(d Desktop) []Command {
	return []Command{beepCommand(d), notifyCommand(d)}
}

// unavailableFrom adapts Desktop.Unavailable to one command's name.
func unavailableFrom(d Desktop, name string) func() string {
	return func() string { return d.Unavailable()[name] }
}
