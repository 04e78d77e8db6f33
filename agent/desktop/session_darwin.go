package desktop

// The session commands on macOS, through the system's own tools: the lock
// shortcut sent by System Events, pmset for sleep, osascript for the
// volume, ioreg for the idle time. Media keys are not sent (see noMediaKeys).

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// macTool runs one of the system's tools; a failure is unavailable, with
// the tool's own words.
func macTool(ctx context.Context, name string, args ...string) (string, error) {
	out, err := runTool(ctx, name, args...)
	if err != nil {
		return "", protocol.Errorf(protocol.CodeUnavailable, "%v", err)
	}
	return out, nil
}

func lockScreen(ctx context.Context) (string, error) {
	_, err := macTool(ctx, "/usr/bin/osascript", "-e",
		`tell application "System Events" to keystroke "q" using {control down, command down}`)
	return "System Events (control-command-Q)", err
}

func suspend(ctx context.Context) (string, error) {
	_, err := macTool(ctx, "/usr/bin/pmset", "sleepnow")
	return "pmset sleepnow", err
}

func setVolume(ctx context.Context, ch commands.VolumeChange) (commands.VolumeState, error) {
	if ch.Level != nil {
		if _, err := macTool(ctx, "/usr/bin/osascript", "-e", fmt.Sprintf("set volume output volume %d", *ch.Level)); err != nil {
			return commands.VolumeState{}, err
		}
	}
	if ch.Mute != nil {
		if _, err := macTool(ctx, "/usr/bin/osascript", "-e", fmt.Sprintf("set volume output muted %v", *ch.Mute)); err != nil {
			return commands.VolumeState{}, err
		}
	}
	out, err := macTool(ctx, "/usr/bin/osascript", "-e", "get volume settings")
	if err != nil {
		return commands.VolumeState{}, err
	}
	st := commands.VolumeState{Method: "osascript"}
	if m := regexp.MustCompile(`output volume:(\d+)`).FindStringSubmatch(out); m != nil {
		st.Level, _ = strconv.Atoi(m[1])
	}
	st.Muted = strings.Contains(out, "output muted:true")
	return st, nil
}

// noMediaKeys says why media keys are not sent on macOS: they are
// NX_KEYTYPE_* "system-defined" events, which only a native call
// (CGEventPost, through cgo) can post, with the Accessibility permission;
// the macOS build of the agent has no cgo in this package, and a player
// chosen by name through osascript would not be what the keys do.
const noMediaKeys = "media keys are not sent on macOS: posting them needs a native (cgo) call and the Accessibility permission, which this agent does not use yet"

func mediaAction(context.Context, string) (string, error) {
	return "", protocol.Errorf(protocol.CodeUnavailable, "%s", noMediaKeys)
}

func sessionUnavailable(context.Context) map[string]string {
	return map[string]string{protocol.CommandMedia: noMediaKeys}
}

// idleTime reads HIDIdleTime (nanoseconds) from the IOHIDSystem registry entry.
func (d *Desktop) idleTime(ctx context.Context) (time.Duration, error) {
	out, err := macTool(ctx, "/usr/sbin/ioreg", "-c", "IOHIDSystem", "-d", "4")
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`"HIDIdleTime" = (\d+)`).FindStringSubmatch(out)
	if m == nil {
		return 0, protocol.Errorf(protocol.CodeUnavailable, "ioreg does not report HIDIdleTime")
	}
	ns, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, protocol.Errorf(protocol.CodeUnavailable, "HIDIdleTime %q: %v", m[1], err)
	}
	return time.Duration(ns), nil
}
