package desktop

// The session commands on Linux: the screen locker (logind, the session
// bus's screen savers, xdg-screensaver inside a known desktop), sleep
// through logind on the system bus, the volume through pactl (PulseAudio,
// or PipeWire's pulse server), and the media player through MPRIS on the
// session bus.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// screenSavers are the session bus services that lock the screen when
// asked, with their Lock method.
var screenSavers = []struct{ name, path, method string }{
	{"org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver.Lock"},
	{"org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver.Lock"},
	{"org.mate.ScreenSaver", "/org/mate/ScreenSaver", "org.mate.ScreenSaver.Lock"},
	{"org.cinnamon.ScreenSaver", "/org/cinnamon/ScreenSaver", "org.cinnamon.ScreenSaver.Lock"},
}

// lockScreen tries, in order: logind (loginctl lock-session), a screen
// saver on the session bus, and xdg-screensaver when a desktop is named
// (without one it only blanks the screen, which is no lock). The first
// that works says how; when none does, the reasons of all are returned.
func lockScreen(ctx context.Context) (string, error) {
	var why []string
	if _, err := runTool(ctx, "loginctl", "lock-session"); err == nil {
		return "loginctl lock-session", nil
	} else {
		why = append(why, err.Error())
	}
	if how, err := lockOverBus(ctx); err == nil {
		return how, nil
	} else {
		why = append(why, err.Error())
	}
	if os.Getenv("XDG_CURRENT_DESKTOP") == "" {
		why = append(why, "xdg-screensaver: no desktop named in XDG_CURRENT_DESKTOP")
	} else if _, err := runTool(ctx, "xdg-screensaver", "lock"); err == nil {
		return "xdg-screensaver lock", nil
	} else {
		why = append(why, err.Error())
	}
	return "", protocol.Errorf(protocol.CodeUnavailable, "no screen locker answered: %s", strings.Join(why, "; "))
}

// lockOverBus asks the first screen saver that owns its name on the
// session bus to lock.
func lockOverBus(ctx context.Context) (string, error) {
	conn, err := connect(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	i, err := findScreenSaver(ctx, conn)
	if err != nil {
		return "", err
	}
	s := screenSavers[i]
	if err := conn.Object(s.name, dbus.ObjectPath(s.path)).CallWithContext(ctx, s.method, 0).Err; err != nil {
		return "", fmt.Errorf("%s refused to lock: %v", s.name, err)
	}
	return "D-Bus " + s.name, nil
}

// findScreenSaver returns the index in screenSavers of the first that owns
// its name on conn's bus.
func findScreenSaver(ctx context.Context, conn *dbus.Conn) (int, error) {
	for i, s := range screenSavers {
		var owned bool
		if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, s.name).Store(&owned); err != nil {
			return 0, fmt.Errorf("session bus does not answer: %v", err)
		}
		if owned {
			return i, nil
		}
	}
	return 0, errors.New("no screen saver on the D-Bus session bus")
}

// lockUnavailable says why no screen locker would take lock_screen now,
// with every reason, or "" when one would: loginctl with a logind session
// to lock, a screen saver on the session bus, or xdg-screensaver inside a
// named desktop (the order lockScreen tries them in). It only asks; it
// locks nothing.
func lockUnavailable(ctx context.Context) string {
	var why []string
	if err := logindLockable(ctx); err == nil {
		return ""
	} else {
		why = append(why, err.Error())
	}
	if conn, err := connect(ctx); err != nil {
		why = append(why, protocol.AsError(err).Message)
	} else {
		_, err := findScreenSaver(ctx, conn)
		conn.Close()
		if err == nil {
			return ""
		}
		why = append(why, err.Error())
	}
	if os.Getenv("XDG_CURRENT_DESKTOP") == "" {
		why = append(why, "xdg-screensaver: no desktop named in XDG_CURRENT_DESKTOP")
	} else if _, err := exec.LookPath("xdg-screensaver"); err != nil {
		why = append(why, "xdg-screensaver is not installed")
	} else {
		return ""
	}
	return "no screen locker: " + strings.Join(why, "; ")
}

// logindLockable says whether loginctl lock-session would find a session
// to lock: loginctl installed, logind on the system bus, and this process
// in a session, or its user with a graphical (display) session, which is
// what logind locks for a caller outside any session.
func logindLockable(ctx context.Context) error {
	if _, err := exec.LookPath("loginctl"); err != nil {
		return errors.New("loginctl is not installed")
	}
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx)) // a connection of its own
	if err != nil {
		return fmt.Errorf("loginctl: the D-Bus system bus is not reachable: %v", err)
	}
	defer conn.Close()
	obj := conn.Object(logindName, logindPath)
	pid := uint32(os.Getpid())
	var session dbus.ObjectPath
	err = obj.CallWithContext(ctx, logindIface+".GetSessionByPID", 0, pid).Store(&session)
	if err == nil {
		return nil
	}
	var user dbus.ObjectPath
	if obj.CallWithContext(ctx, logindIface+".GetUserByPID", 0, pid).Store(&user) == nil {
		v, perr := conn.Object(logindName, user).GetProperty("org.freedesktop.login1.User.Display")
		if d, ok := v.Value().([]any); perr == nil && ok && len(d) == 2 && d[0] != "" {
			return nil
		}
	}
	return fmt.Errorf("loginctl: logind has no session for this process: %s", protocol.CleanText(err.Error(), 120))
}

// The logind manager on the system bus.
const (
	logindName  = "org.freedesktop.login1"
	logindPath  = dbus.ObjectPath("/org/freedesktop/login1")
	logindIface = "org.freedesktop.login1.Manager"
)

// suspend asks logind whether this user may suspend the machine, and then
// to do it. Without logind (no system bus, no systemd) it is unavailable.
func suspend(ctx context.Context) (string, error) {
	conn, err := canSuspend(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.Object(logindName, logindPath).CallWithContext(ctx, logindIface+".Suspend", 0, false).Err; err != nil {
		return "", protocol.Errorf(protocol.CodeUnavailable, "logind refused to suspend: %v", err)
	}
	return "logind", nil
}

// canSuspend connects to the system bus and asks logind whether this user
// may suspend the machine; when it may, it returns the connection (the
// caller closes it), else an unavailable *protocol.Error with the reason.
func canSuspend(ctx context.Context) (*dbus.Conn, error) {
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx)) // a connection of its own
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeUnavailable, "no logind: the D-Bus system bus is not reachable: %v", err)
	}
	var can string
	if err := conn.Object(logindName, logindPath).CallWithContext(ctx, logindIface+".CanSuspend", 0).Store(&can); err != nil {
		conn.Close()
		return nil, protocol.Errorf(protocol.CodeUnavailable, "no logind on the system bus: %v", err)
	}
	if can != "yes" && can != "challenge" {
		conn.Close()
		return nil, protocol.Errorf(protocol.CodeUnavailable, "logind will not suspend this computer (CanSuspend: %s)", protocol.CleanText(can, 40))
	}
	return conn, nil
}

var (
	pactlVolume = regexp.MustCompile(`(\d+)%`)
	pactlMute   = regexp.MustCompile(`Mute:\s*(yes|no)`)
)

// setVolume changes the default sink with pactl and reads it back.
func setVolume(ctx context.Context, ch commands.VolumeChange) (commands.VolumeState, error) {
	const sink = "@DEFAULT_SINK@"
	fail := func(err error) (commands.VolumeState, error) {
		return commands.VolumeState{}, protocol.Errorf(protocol.CodeUnavailable, "no sound server: %v", err)
	}
	if ch.Level != nil {
		if _, err := runTool(ctx, "pactl", "set-sink-volume", sink, strconv.Itoa(*ch.Level)+"%"); err != nil {
			return fail(err)
		}
	}
	if ch.Mute != nil {
		if _, err := runTool(ctx, "pactl", "set-sink-mute", sink, map[bool]string{true: "1", false: "0"}[*ch.Mute]); err != nil {
			return fail(err)
		}
	}
	vol, err := runTool(ctx, "pactl", "get-sink-volume", sink)
	if err != nil {
		return fail(err)
	}
	mute, err := runTool(ctx, "pactl", "get-sink-mute", sink)
	if err != nil {
		return fail(err)
	}
	st := commands.VolumeState{Method: "pactl"}
	levels := pactlVolume.FindAllStringSubmatch(vol, -1)
	if len(levels) == 0 {
		return commands.VolumeState{}, fmt.Errorf("cannot read the volume in pactl's %q", protocol.CleanText(vol, 80))
	}
	for _, l := range levels { // the loudest channel
		n, _ := strconv.Atoi(l[1])
		st.Level = max(st.Level, n)
	}
	m := pactlMute.FindStringSubmatch(mute)
	if m == nil {
		return commands.VolumeState{}, fmt.Errorf("cannot read the mute state in pactl's %q", protocol.CleanText(mute, 80))
	}
	st.Muted = m[1] == "yes"
	return st, nil
}

// MPRIS, the media players' interface on the session bus.
const (
	mprisPrefix = "org.mpris.MediaPlayer2."
	mprisPath   = dbus.ObjectPath("/org/mpris/MediaPlayer2")
	mprisPlayer = "org.mpris.MediaPlayer2.Player"
)

// mprisMethods maps the media command's actions to MPRIS methods.
var mprisMethods = map[string]string{
	commands.MediaPlayPause: "PlayPause", commands.MediaPlay: "Play", commands.MediaPause: "Pause",
	commands.MediaNext: "Next", commands.MediaPrevious: "Previous", commands.MediaStop: "Stop",
}

// mediaAction sends action to a media player on the session bus: the one
// playing, else the one paused, else the first (by name).
func mediaAction(ctx context.Context, action string) (string, error) {
	method, ok := mprisMethods[action]
	if !ok {
		return "", protocol.Errorf(protocol.CodeInvalidArgs, "unknown media action %q", action)
	}
	conn, err := connect(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	player, err := pickPlayer(ctx, conn)
	if err != nil {
		return "", err
	}
	if err := conn.Object(player, mprisPath).CallWithContext(ctx, mprisPlayer+"."+method, 0).Err; err != nil {
		return "", fmt.Errorf("%s refused %s: %w", player, method, err)
	}
	return player, nil
}

// pickPlayer chooses the MPRIS player to send an action to.
func pickPlayer(ctx context.Context, conn *dbus.Conn) (string, error) {
	var names []string
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
		return "", protocol.Errorf(protocol.CodeUnavailable, "session bus does not answer: %v", err)
	}
	var players []string
	for _, n := range names {
		if strings.HasPrefix(n, mprisPrefix) {
			players = append(players, n)
		}
	}
	if len(players) == 0 {
		return "", protocol.Errorf(protocol.CodeUnavailable, "no media player on the D-Bus session bus (MPRIS)")
	}
	slices.Sort(players)
	rank := func(p string) int {
		v, err := conn.Object(p, mprisPath).GetProperty(mprisPlayer + ".PlaybackStatus")
		if err != nil {
			return 3
		}
		switch s, _ := v.Value().(string); s {
		case "Playing":
			return 0
		case "Paused":
			return 1
		}
		return 2
	}
	best, bestRank := players[0], 4
	for _, p := range players {
		if r := rank(p); r < bestRank {
			best, bestRank = p, r
		}
	}
	return best, nil
}

// sessionUnavailable says which session commands cannot run now, cheaply
// enough to be cached for recheckEvery: lock_screen without a screen
// locker, sleep without logind's consent, volume without a sound server,
// media without a player.
func sessionUnavailable(ctx context.Context) map[string]string {
	out := map[string]string{}
	if why := lockUnavailable(ctx); why != "" {
		out[protocol.CommandLockScreen] = why
	}
	if conn, err := canSuspend(ctx); err != nil {
		out[protocol.CommandSleep] = protocol.AsError(err).Message
	} else {
		conn.Close()
	}
	if _, err := runTool(ctx, "pactl", "get-sink-mute", "@DEFAULT_SINK@"); err != nil {
		out[protocol.CommandVolume] = "no sound server: " + err.Error()
	}
	conn, err := connect(ctx)
	if err != nil {
		out[protocol.CommandMedia] = protocol.AsError(err).Message
		return out
	}
	defer conn.Close()
	if _, err := pickPlayer(ctx, conn); err != nil {
		out[protocol.CommandMedia] = protocol.AsError(err).Message
	}
	return out
}
