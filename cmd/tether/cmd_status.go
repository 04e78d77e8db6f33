package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/agent/control"
	"github.com/tether-desktop/tether/agent/telemetry"
	"github.com/tether-desktop/tether/installer"
)

// askTimeout bounds one question on the control channel.
const askTimeout = 5 * time.Second

// runningAgent reports whether an agent runs on this config directory, and
// its status: it runs when it answers on the control channel (agent/control).
// When nothing answers, none runs, whatever status.json says (a killed
// agent leaves "connected" there). Only when the channel cannot be asked at
// all does status.json decide: its agent runs if it did not stop and its
// process still lives (the agent writes the file only on change, so its age
// says nothing).
func (c *cli) runningAgent() (agent.Status, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), askTimeout)
	defer cancel()
	var st agent.Status
	pid, err := control.Status(ctx, c.configDir, &st)
	if err == nil {
		st.PID = pid
		return st, true
	}
	fst, ferr := agent.ReadStatus(c.configDir)
	if errors.Is(err, control.ErrNotRunning) {
		return fst, false
	}
	return fst, ferr == nil && fst.State != agent.StateStopped && processAlive(fst.PID)
}

// statusReport is what `tether status --json` prints.
type statusReport struct {
	Relay    string `json:"relay"`
	DeviceID string `json:"device_id,omitempty"`
	// State is the running agent's state, or "not running" when no agent
	// answers (or, when it cannot be asked, status.json's process is gone).
	State   string        `json:"state"`
	Agent   *agent.Status `json:"agent,omitempty"` // the status file, if any
	AgeS    float64       `json:"status_age_s,omitempty"`
	Allowed []string      `json:"allowed"`
	// Custom names the owner's commands in custom-commands.json, and
	// CustomError says why the file is refused (the running agent then
	// keeps the commands of its last valid version).
	Custom      []string `json:"custom"`
	CustomError string   `json:"custom_error,omitempty"`
	Mouse       bool     `json:"mouse"`
	WindowTitle bool     `json:"window_title"`
	Paused      bool     `json:"paused"`
	ConfigDir   string   `json:"config_dir"`
	// Service says how Tether starts at login: the target and whether it
	// is installed.
	Service serviceReport `json:"service"`
}

// serviceReport is the start-at-login part of `tether status`.
type serviceReport struct {
	Target    string `json:"target"`
	Path      string `json:"path"`
	Installed bool   `json:"installed"`
}

func (c *cli) status(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	s, err := agent.LoadSettings(c.configDir)
	if err != nil {
		return err
	}
	r := statusReport{Relay: c.relayURL(), Mouse: s.Mouse, Paused: s.Paused, ConfigDir: c.configDir,
		WindowTitle: s.Allowed(telemetry.WindowTitle, false)}
	r.Allowed, r.Custom, r.CustomError = c.commandsReport(s)
	if creds, err := agent.LoadCredentials(c.configDir); err == nil && creds.Valid(r.Relay) {
		r.DeviceID = creds.DeviceID
	}
	if in, err := installer.New(c.installerConfig()); err == nil {
		ok, _ := in.Installed()
		r.Service = serviceReport{Target: string(in.Target()), Path: in.Path(), Installed: ok}
	}
	r.State = "not running"
	if st, running := c.runningAgent(); running {
		r.Agent, r.State = &st, st.State
		r.AgeS = time.Since(st.Updated).Round(time.Millisecond).Seconds()
		// What the running agent has in force: a refused file leaves it
		// with the commands of the last valid one.
		r.Custom, r.CustomError = append([]string{}, st.Custom...), st.CustomError
	} else if st, err := agent.ReadStatus(c.configDir); err == nil {
		r.Agent = &st
		r.AgeS = time.Since(st.Updated).Round(time.Millisecond).Seconds()
		if st.State == agent.StateStopped {
			r.State = st.State
		}
	}
	if c.json {
		return writeJSON(c.stdout, r)
	}
	r.print(c.stdout)
	return nil
}

// print writes the report for people, one "Field:  value" line each.
func (r *statusReport) print(w io.Writer) {
	fmt.Fprintf(w, "Relay:     %s\n", r.Relay)
	if r.DeviceID == "" {
		fmt.Fprintln(w, "Device:    not registered yet")
	} else {
		fmt.Fprintf(w, "Device:    %s\n", r.DeviceID)
	}
	r.printState(w)
	allowed := "none"
	if len(r.Allowed) > 0 {
		allowed = strings.Join(r.Allowed, ", ")
	}
	fmt.Fprintf(w, "Allowed:   %s\n", allowed)
	if len(r.Custom) > 0 {
		fmt.Fprintf(w, "Custom:    %s (from %s)\n", strings.Join(r.Custom, ", "), commands.CustomFile)
	}
	if r.CustomError != "" {
		fmt.Fprintf(w, "Custom commands refused: %s\n", r.CustomError)
	}
	if r.Agent != nil && r.State != "not running" {
		for _, name := range slices.Sorted(maps.Keys(r.Agent.Unavailable)) {
			fmt.Fprintf(w, "Unavailable: %s: %s\n", name, r.Agent.Unavailable[name])
		}
	}
	fmt.Fprintf(w, "Mouse:     %s\n", onOff(r.Mouse))
	fmt.Fprintf(w, "Window:    title %s\n", onOff(r.WindowTitle))
	if r.Paused {
		fmt.Fprintln(w, "Paused:    yes (every command is refused)")
	}
	if r.Service.Installed {
		fmt.Fprintf(w, "Service:   starts at login (%s: %s)\n", r.Service.Target, r.Service.Path)
	} else {
		fmt.Fprintln(w, `Service:   not installed ("tether install" starts Tether at login)`)
	}
}

// printState writes the running agent's state: since when, its watchers,
// and while it is not connected the last error and the next retry.
func (r *statusReport) printState(w io.Writer) {
	st := r.Agent
	if st == nil {
		fmt.Fprintln(w, "State:     not running (no status file)")
		return
	}
	age := time.Duration(r.AgeS * float64(time.Second)).Round(time.Second)
	line := fmt.Sprintf("%s since %s (status written %s ago)", r.State, st.Since.Local().Format("2006-01-02 15:04:05"), age)
	if r.State == "not running" {
		line = fmt.Sprintf("not running (last status %q written %s ago)", st.State, age)
	}
	fmt.Fprintf(w, "State:     %s\n", line)
	if r.State == agent.StateConnected {
		fmt.Fprintf(w, "Watchers:  %d\n", st.Watchers)
	}
	if st.LastError != "" && r.State != agent.StateConnected && r.State != "not running" {
		fmt.Fprintf(w, "Error:     %s\n", st.LastError)
		if !st.NextRetry.IsZero() {
			fmt.Fprintf(w, "Retry at:  %s\n", st.NextRetry.Local().Format("15:04:05"))
		}
	}
}

func onOff(b bool) string {
	if b {
		return "shared"
	}
	return "not shared"
}
