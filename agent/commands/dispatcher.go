package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tether-desktop/tether/protocol"
	"golang.org/x/time/rate"
)

// Dispatcher decides whether a command may run and runs it. It is safe for
// concurrent use. Its built-in commands are fixed by NewDispatcher; the
// owner's custom commands can be replaced at any time with SetCustom.
type Dispatcher struct {
	builtin map[string]*entry // fixed by NewDispatcher
	tab     atomic.Pointer[table]
	allowed func(name string) bool
	paused  func() bool
	now     func() time.Time // time source of the rate limits; tests replace it

	wg sync.WaitGroup // handlers still running, including those past their timeout
}

// table is the command set in force: the built-ins and the custom commands.
// It is never changed once published; SetCustom publishes a new one.
type table struct {
	cmds  map[string]*entry
	names []string // sorted
}

type entry struct {
	cmd   Command
	limit *rate.Limiter // nil: no rate limit
}

// NewDispatcher returns a Dispatcher over cmds. allowed reports whether the
// owner switched a command on (the local whitelist); paused reports whether
// the owner paused remote control. Both are called on every command and must
// be safe for concurrent use. A later command with the same name as an
// earlier one replaces it.
func NewDispatcher(cmds []Command, allowed func(name string) bool, paused func() bool) *Dispatcher {
	d := &Dispatcher{builtin: make(map[string]*entry, len(cmds)), allowed: allowed, paused: paused, now: time.Now}
	for _, c := range cmds {
		d.builtin[c.Spec.Name] = newEntry(c)
	}
	d.publish(nil)
	return d
}

func newEntry(c Command) *entry {
	e := &entry{cmd: c}
	if c.Rate > 0 {
		e.limit = rate.NewLimiter(rate.Limit(c.Rate), max(c.Burst, 1)) // starts full
	}
	return e
}

// publish puts in force the built-ins and custom, minus any custom command
// named like a built-in (LoadCustom refuses those already).
func (d *Dispatcher) publish(custom []Command) {
	t := &table{cmds: make(map[string]*entry, len(d.builtin)+len(custom))}
	for name, e := range d.builtin {
		t.cmds[name] = e
	}
	for _, c := range custom {
		if _, clash := d.builtin[c.Spec.Name]; !clash {
			t.cmds[c.Spec.Name] = newEntry(c)
		}
	}
	for name := range t.cmds {
		t.names = append(t.names, name)
	}
	slices.Sort(t.names)
	d.tab.Store(t)
}

// SetCustom replaces the owner's custom commands with cmds. A command named
// like a built-in one is ignored. Commands already running finish as they
// were; the next Run sees the new set. Safe concurrently.
func (d *Dispatcher) SetCustom(cmds []Command) { d.publish(cmds) }

// IsBuiltin reports whether name is a built-in command of this build (not
// one of the owner's custom commands).
func (d *Dispatcher) IsBuiltin(name string) bool { _, ok := d.builtin[name]; return ok }

// Reserved reports whether a custom command may not be called name: a
// built-in command of this build or of the contract, or another word of
// the whitelist ("mouse", OpenURLPrivate, "window_title").
func (d *Dispatcher) Reserved(name string) bool {
	return d.IsBuiltin(name) || protocol.IsKnownCommand(name) || name == "mouse" || name == OpenURLPrivate || name == "window_title"
}

// Names returns every known command, built-in and custom, sorted.
func (d *Dispatcher) Names() []string { return slices.Clone(d.tab.Load().names) }

// Known reports whether name is a command of this build or a custom one.
func (d *Dispatcher) Known(name string) bool { _, ok := d.tab.Load().cmds[name]; return ok }

// DefaultOn reports whether name is on in a new install's whitelist.
func (d *Dispatcher) DefaultOn(name string) bool {
	e, ok := d.tab.Load().cmds[name]
	return ok && e.cmd.DefaultOn
}

// Specs returns the specs of the allowed commands, sorted by name, for the
// hello message.
func (d *Dispatcher) Specs() []protocol.CommandSpec {
	var specs []protocol.CommandSpec
	t := d.tab.Load()
	for _, name := range t.names {
		if d.allowed(name) {
			specs = append(specs, t.cmds[name].cmd.Spec)
		}
	}
	return specs
}

// Unavailable returns, for each allowed command that cannot run on this
// machine now, the reason; nil when all can run. It is as cheap as the
// commands' Unavailable functions.
func (d *Dispatcher) Unavailable() map[string]string {
	var out map[string]string
	t := d.tab.Load()
	for _, name := range t.names {
		if !d.allowed(name) {
			continue
		}
		if why := t.cmds[name].unavailable(); why != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = why
		}
	}
	return out
}

// Run checks, in order: the command is known (else unknown_command), allowed
// (else not_allowed), not paused (paused), its args valid against its spec
// (invalid_args), available on this machine (unavailable), within its rate
// (rate_limited); then it runs the handler under the command's Timeout
// (timeout). It blocks until the handler returns or the timeout (or ctx)
// ends; a handler still running then is left to finish on its cancelled
// context and Wait waits for it. Run never panics: a panicking handler
// becomes internal. The result's data is nil unless the handler gave some.
func (d *Dispatcher) Run(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, *protocol.Error) {
	e, ok := d.tab.Load().cmds[name]
	switch {
	case !ok:
		return nil, protocol.Errorf(protocol.CodeUnknownCommand, "unknown command %q", truncate(name, protocol.MaxNameLen))
	case !d.allowed(name):
		return nil, protocol.Errorf(protocol.CodeNotAllowed, "command %q is switched off on this computer", name)
	case d.paused():
		return nil, protocol.Errorf(protocol.CodePaused, "remote control is paused on this computer")
	}
	valid, err := e.cmd.Spec.Validate(args)
	if err != nil {
		return nil, protocol.AsError(err)
	}
	if why := e.unavailable(); why != "" {
		return nil, protocol.Errorf(protocol.CodeUnavailable, "%s", why)
	}
	if !e.take(d.now()) {
		return nil, protocol.Errorf(protocol.CodeRateLimited, "command %q is sent too often (at most %g per second)", name, e.cmd.Rate)
	}
	return d.run(ctx, e, valid)
}

// Wait blocks until every handler started by Run has returned, including
// handlers that outlived their timeout. Call it at shutdown, after the
// contexts given to Run have ended.
func (d *Dispatcher) Wait() { d.wg.Wait() }

type outcome struct {
	data json.RawMessage
	err  error
}

func (d *Dispatcher) run(ctx context.Context, e *entry, args map[string]any) (json.RawMessage, *protocol.Error) {
	name := e.cmd.Spec.Name
	if e.cmd.Run == nil {
		return nil, protocol.Errorf(protocol.CodeInternal, "command %q has no handler", name)
	}
	timeout := e.cmd.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	runCtx, cancel := context.WithTimeout(context.WithValue(ctx, allowedKey{}, d.allowed), timeout)
	defer cancel()
	done := make(chan outcome, 1) // buffered: a handler past its timeout must not block
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() {
			if v := recover(); v != nil {
				done <- outcome{err: protocol.Errorf(protocol.CodeInternal, "command %q failed: panic: %s", name, truncate(fmt.Sprint(v), 200))}
			}
		}()
		data, err := e.cmd.Run(runCtx, args)
		done <- outcome{data, err}
	}()

	var out outcome
	select {
	case out = <-done:
	case <-runCtx.Done():
		out.err = runCtx.Err()
	}
	if out.err == nil {
		return out.data, nil
	}
	var perr *protocol.Error
	switch {
	case errors.As(out.err, &perr):
		return nil, perr
	case runCtx.Err() != nil && ctx.Err() == nil:
		// Our own deadline ended the run.
		return nil, protocol.Errorf(protocol.CodeTimeout, "command %q did not finish within %v", name, timeout)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, protocol.Errorf(protocol.CodeTimeout, "command %q did not finish before its deadline", name)
	case ctx.Err() != nil:
		return nil, protocol.Errorf(protocol.CodeUnavailable, "command %q was cancelled: the agent is stopping", name)
	default:
		return nil, protocol.Errorf(protocol.CodeInternal, "command %q failed: %v", name, out.err)
	}
}

// allowedKey keys the Dispatcher's allowed function in a handler's context.
type allowedKey struct{}

// Allowed reports whether the owner switched on name, a command or an option
// such as OpenURLPrivate, asking the whitelist of the Dispatcher that runs
// the handler ctx was given to. Outside a handler it reports false.
func Allowed(ctx context.Context, name string) bool {
	allowed, ok := ctx.Value(allowedKey{}).(func(string) bool)
	return ok && allowed(name)
}

func (e *entry) unavailable() string {
	if e.cmd.Unavailable == nil {
		return ""
	}
	return e.cmd.Unavailable()
}

// take removes one token from e's bucket, refilled at Rate per second up to
// Burst, and reports whether there was one. A Rate of 0 or less means no limit.
func (e *entry) take(now time.Time) bool {
	return e.limit == nil || e.limit.AllowN(now, 1)
}

// truncate shortens s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
