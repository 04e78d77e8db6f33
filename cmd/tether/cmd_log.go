package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/tether-desktop/tether/agent/activity"
)

// log prints the activity log: `tether log [-f] [--json]`. With -f it
// then prints new entries as the agent writes them, across rotations,
// until interrupted.
func (c *cli) log(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	emit := func(e activity.Entry) error { return writeEntry(c.stdout, e, c.json) }
	if c.follow {
		return activity.Follow(ctx, c.configDir, true, 0, emit)
	}
	entries, err := activity.Read(c.configDir)
	if err != nil {
		return err
	}
	if len(entries) == 0 && !c.json {
		fmt.Fprintf(c.stderr, "The activity log in %s is empty: no command has reached this computer yet.\n", c.configDir)
	}
	for _, e := range entries {
		if err := emit(e); err != nil {
			return err
		}
	}
	return nil
}

// writeEntry prints one entry: as one JSON line, or as one line of text
// ("2026-12-01 10:02:03  Chrome on Android  beep  frequency_hz=880  ok").
func writeEntry(w io.Writer, e activity.Entry, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	browser := e.Browser
	if browser == "" {
		browser = "(unknown browser)"
	}
	outcome := "ok"
	if !e.OK {
		outcome = "refused or failed: " + e.Code
	}
	_, err := fmt.Fprintf(w, "%s  %-24s  %-14s  %s  %s\n", e.Time.Local().Format("2006-01-02 15:04:05"),
		browser, e.Command, activity.ArgsText(e.Args), outcome)
	return err
}
