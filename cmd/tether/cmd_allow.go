package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/agent/telemetry"
)

// known builds the command set of this build, for names and defaults only.
func known(s agent.Settings) *commands.Dispatcher {
	return commands.NewDispatcher(commands.Builtin(namesOnly{}),
		func(string) bool { return false }, func() bool { return s.Paused })
}

// knownIn is known with the owner's custom commands of dir added, and the
// reason custom-commands.json is refused, if it is.
func knownIn(dir string, s agent.Settings) (*commands.Dispatcher, error) {
	d := known(s)
	defs, err := commands.LoadCustom(dir, d.Reserved)
	d.SetCustom(commands.Custom(defs))
	return d, err
}

// allowedNames returns the commands the settings switch on, sorted.
func allowedNames(s agent.Settings) []string {
	d := known(s)
	var on []string
	for _, n := range d.Names() {
		if s.Allowed(n, d.DefaultOn(n)) {
			on = append(on, n)
		}
	}
	return on
}

func (c *cli) setAllowed(names []string, on bool) error {
	if len(names) == 0 {
		return fmt.Errorf("%w: name at least one command", errUsage)
	}
	s, err := agent.LoadSettings(c.configDir)
	if err != nil {
		return err
	}
	d, customErr := knownIn(c.configDir, s)
	for _, n := range names {
		if n != "mouse" && n != commands.OpenURLPrivate && n != telemetry.WindowTitle && !d.Known(n) {
			known := strings.Join(append(d.Names(), "mouse", commands.OpenURLPrivate, telemetry.WindowTitle), ", ")
			if customErr != nil {
				return fmt.Errorf("unknown command %q (%v); known: %s", n, customErr, known)
			}
			return fmt.Errorf("unknown command %q; known: %s", n, known)
		}
	}
	for _, n := range names {
		if n == "mouse" {
			s.Mouse = on
		} else {
			s.Set(n, on)
		}
	}
	if err := agent.SaveSettings(c.configDir, s); err != nil {
		return err
	}
	word := "off"
	if on {
		word = "on"
	}
	for _, n := range names {
		fmt.Fprintf(c.stdout, "%s: %s\n", n, word)
	}
	return nil
}

// namesOnly stands in for the desktop where only the command set's names and
// defaults are wanted; nothing is ever run through it.
type namesOnly struct{}

func (namesOnly) Beep(context.Context, int, time.Duration) error { return errors.New("not running") }
func (namesOnly) Notify(context.Context, string, string) error   { return errors.New("not running") }
func (namesOnly) Unavailable() map[string]string                 { return nil }
