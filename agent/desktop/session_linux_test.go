package desktop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/internal/desktoptest"
	"github.com/tether-desktop/tether/protocol"
)

// wantUnavailable fails the test unless err is an unavailable
// *protocol.Error whose message holds every one of parts.
func wantUnavailable(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.Code != protocol.CodeUnavailable {
		t.Fatalf("%s = %v, want unavailable", what, err)
	}
	for _, p := range parts {
		if !strings.Contains(perr.Message, p) {
			t.Errorf("%s: %q does not say %q", what, perr.Message, p)
		}
	}
}

// startPulse runs a real PulseAudio server with one null sink in a private
// directory and points pactl at it (PULSE_SERVER) for the rest of the test.
func startPulse(t *testing.T) {
	t.Helper()
	paths := desktoptest.Need(t, "pulseaudio", "pactl")
	dir := t.TempDir()
	sock := filepath.Join(dir, "native")
	cmd := exec.Command(paths[0], "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
		"--log-target=stderr", "--load=module-null-sink sink_name=tether_test",
		"--load=module-native-protocol-unix auth-anonymous=1 socket="+sock)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_RUNTIME_DIR="+dir, "XDG_CONFIG_HOME="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	t.Setenv("PULSE_SERVER", "unix:"+sock)
	waitUntil(t, "PulseAudio answers", func() bool {
		return exec.Command(paths[1], "info").Run() == nil
	})
}

// pactl runs pactl against the test's server.
func pactl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("pactl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("pactl %v: %v %s", args, err, out)
	}
	return string(out)
}

// TestVolumePulseAudio sets the volume and mute of a real PulseAudio null
// sink and reads them back with pactl of its own.
func TestVolumePulseAudio(t *testing.T) {
	startPulse(t)
	d := New(nil)
	defer d.Close()
	ctx := context.Background()
	level, mute := 37, true
	st, err := d.Volume(ctx, commands.VolumeChange{Level: &level})
	if err != nil || st.Level != 37 || st.Muted || st.Method != "pactl" {
		t.Fatalf("set 37: %+v %v", st, err)
	}
	if out := pactl(t, "get-sink-volume", "@DEFAULT_SINK@"); !strings.Contains(out, "/  37% /") {
		t.Errorf("pactl says %q, want 37%%", out)
	}
	st, err = d.Volume(ctx, commands.VolumeChange{Mute: &mute})
	if err != nil || st.Level != 37 || !st.Muted {
		t.Fatalf("mute: %+v %v", st, err)
	}
	if out := pactl(t, "get-sink-mute", "@DEFAULT_SINK@"); !strings.Contains(out, "Mute: yes") {
		t.Errorf("pactl says %q, want muted", out)
	}
	level, mute = 0, false
	if st, err = d.Volume(ctx, commands.VolumeChange{Level: &level, Mute: &mute}); err != nil || st.Level != 0 || st.Muted {
		t.Fatalf("0, unmuted: %+v %v", st, err)
	}
	if why := d.Unavailable()[protocol.CommandVolume]; why != "" {
		t.Errorf("Unavailable()[volume] = %q with a sound server", why)
	}
}

func TestVolumeWithoutSoundServer(t *testing.T) {
	desktoptest.Need(t, "pactl")
	t.Setenv("PULSE_SERVER", "unix:"+filepath.Join(t.TempDir(), "none"))
	d := New(nil)
	defer d.Close()
	level := 50
	_, err := d.Volume(context.Background(), commands.VolumeChange{Level: &level})
	wantUnavailable(t, "Volume", err, "no sound server", "pactl set-sink-volume")
	if why := d.Unavailable()[protocol.CommandVolume]; !strings.Contains(why, "no sound server") {
		t.Errorf("Unavailable()[volume] = %q", why)
	}
}

// fakePlayer is a tiny MPRIS player: it records the methods called.
type fakePlayer struct {
	mu    sync.Mutex
	calls []string
}

func (p *fakePlayer) record(m string) *dbus.Error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, m)
	return nil
}
func (p *fakePlayer) PlayPause() *dbus.Error { return p.record("PlayPause") }
func (p *fakePlayer) Play() *dbus.Error      { return p.record("Play") }
func (p *fakePlayer) Pause() *dbus.Error     { return p.record("Pause") }
func (p *fakePlayer) Next() *dbus.Error      { return p.record("Next") }
func (p *fakePlayer) Previous() *dbus.Error  { return p.record("Previous") }
func (p *fakePlayer) Stop() *dbus.Error      { return p.record("Stop") }

func (p *fakePlayer) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

// servePlayer exports a player named org.mpris.MediaPlayer2.<name> on the
// session bus, with PlaybackStatus status.
func servePlayer(t *testing.T, name, status string) *fakePlayer {
	t.Helper()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &fakePlayer{}
	if err := conn.Export(p, mprisPath, mprisPlayer); err != nil {
		t.Fatal(err)
	}
	if _, err := prop.Export(conn, mprisPath, prop.Map{mprisPlayer: {
		"PlaybackStatus": {Value: status, Writable: false, Emit: prop.EmitTrue},
	}}); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName(mprisPrefix+name, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own the player's name: %v %v", reply, err)
	}
	return p
}

// inSessionBus runs the calling test again under a private session bus.
func inSessionBus(t *testing.T, env ...string) bool {
	t.Helper()
	if isChild(t.Name()) {
		return true
	}
	paths := desktoptest.Need(t, "dbus-run-session", "dbus-daemon")
	runChild(t, t.Name(), []string{paths[0], "--dbus-daemon=" + paths[1], "--"}, env...)
	return false
}

// inXvfb runs the calling test again on an X server of its own, with the
// tools it needs on PATH.
func inXvfb(t *testing.T, tools ...string) bool {
	t.Helper()
	if isChild(t.Name()) {
		return true
	}
	desktoptest.Need(t, append([]string{"Xvfb"}, tools...)...)
	display := desktoptest.Xvfb(t, "640x480x24")
	runChild(t, t.Name(), nil, "DISPLAY="+display)
	return false
}

// TestMediaMPRIS sends actions to tiny MPRIS players on a private session
// bus: the one playing gets them.
func TestMediaMPRIS(t *testing.T) {
	if !inSessionBus(t) {
		return
	}
	d := New(nil)
	defer d.Close()
	ctx := context.Background()
	_, err := d.Media(ctx, commands.MediaNext)
	wantUnavailable(t, "Media without a player", err, "no media player on the D-Bus session bus")
	if why := d.Unavailable()[protocol.CommandMedia]; !strings.Contains(why, "no media player") {
		t.Errorf("Unavailable()[media] = %q", why)
	}

	paused := servePlayer(t, "apaused", "Paused")
	playing := servePlayer(t, "bplaying", "Playing")
	for action, method := range map[string]string{
		commands.MediaPlayPause: "PlayPause", commands.MediaNext: "Next", commands.MediaPrevious: "Previous",
	} {
		player, err := d.Media(ctx, action)
		if err != nil || player != mprisPrefix+"bplaying" {
			t.Fatalf("%s: %q %v", action, player, err)
		}
		if got := playing.got(); got[len(got)-1] != method {
			t.Errorf("%s: the playing player got %v", action, got)
		}
	}
	if got := paused.got(); len(got) != 0 {
		t.Errorf("the paused player got %v", got)
	}
}

// fakeScreenSaver is org.freedesktop.ScreenSaver: it counts locks.
type fakeScreenSaver struct {
	mu    sync.Mutex
	locks int
}

func (s *fakeScreenSaver) Lock() *dbus.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locks++
	return nil
}

// TestLockScreen runs with no loginctl (PATH emptied, so no real session is
// ever locked) and no desktop named: with nothing on the bus it is
// unavailable with every reason; with a screen saver on the bus that one
// locks.
func TestLockScreen(t *testing.T) {
	if !inSessionBus(t, "PATH="+t.TempDir(), "XDG_CURRENT_DESKTOP=") {
		return
	}
	d := New(nil)
	defer d.Close()
	ctx := context.Background()
	_, err := d.LockScreen(ctx)
	wantUnavailable(t, "LockScreen", err, "no screen locker answered", "loginctl is not installed",
		"no screen saver on the D-Bus session bus", "xdg-screensaver: no desktop named")

	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := &fakeScreenSaver{}
	conn.Export(s, "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver")
	if reply, err := conn.RequestName("org.freedesktop.ScreenSaver", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own the screen saver's name: %v %v", reply, err)
	}
	how, err := d.LockScreen(ctx)
	if err != nil || how != "D-Bus org.freedesktop.ScreenSaver" {
		t.Fatalf("LockScreen = %q, %v", how, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locks != 1 {
		t.Errorf("the screen saver was asked to lock %d times", s.locks)
	}
}

// fakeLogind is org.freedesktop.login1.Manager with a fixed CanSuspend
// and a fixed session for every process.
type fakeLogind struct {
	can     string
	session dbus.ObjectPath // GetSessionByPID's answer; none when ""

	mu       sync.Mutex
	suspends []bool
}

func (l *fakeLogind) CanSuspend() (string, *dbus.Error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.can, nil
}
func (l *fakeLogind) GetSessionByPID(pid uint32) (dbus.ObjectPath, *dbus.Error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.session == "" {
		return "", dbus.NewError("org.freedesktop.login1.NoSessionForPID", []any{fmt.Sprintf("PID %d does not belong to any known session", pid)})
	}
	return l.session, nil
}
func (l *fakeLogind) GetUserByPID(pid uint32) (dbus.ObjectPath, *dbus.Error) {
	return "", dbus.NewError("org.freedesktop.login1.NoUserForPID", []any{fmt.Sprintf("PID %d does not belong to any known user", pid)})
}
func (l *fakeLogind) Suspend(interactive bool) *dbus.Error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.suspends = append(l.suspends, interactive)
	return nil
}

// TestSuspend never reaches the real system bus: first none at all, then a
// private bus (the test's session bus) standing in for it with a fake
// logind that refuses and then allows.
func TestSuspend(t *testing.T) {
	if !isChild(t.Name()) {
		t.Run("no system bus", func(t *testing.T) {
			t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "none"))
			_, err := New(nil).Suspend(context.Background())
			wantUnavailable(t, "Suspend", err, "no logind: the D-Bus system bus is not reachable")
		})
		inSessionBus(t)
		return
	}
	os.Setenv("DBUS_SYSTEM_BUS_ADDRESS", os.Getenv("DBUS_SESSION_BUS_ADDRESS"))
	d := New(nil)
	defer d.Close()
	ctx := context.Background()
	_, err := d.Suspend(ctx)
	wantUnavailable(t, "Suspend without logind", err, "no logind on the system bus")

	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	l := &fakeLogind{can: "na"}
	conn.Export(l, logindPath, logindIface)
	if reply, err := conn.RequestName(logindName, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own logind's name: %v %v", reply, err)
	}
	_, err = d.Suspend(ctx)
	wantUnavailable(t, "Suspend refused", err, "CanSuspend: na")
	l.mu.Lock()
	l.can = "yes"
	l.mu.Unlock()
	if how, err := d.Suspend(ctx); err != nil || how != "logind" {
		t.Fatalf("Suspend = %q, %v", how, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.suspends) != 1 || l.suspends[0] {
		t.Errorf("logind was asked to suspend %v, want once, not interactive", l.suspends)
	}
}

// TestClipboardX11 puts text on a real X server's clipboard and reads it
// with xclip and xsel, and reads what xclip put there.
func TestClipboardX11(t *testing.T) {
	if !inXvfb(t, "xclip", "xsel") {
		return
	}
	d := New(nil)
	defer d.Close()
	ctx := context.Background()
	if text, cut, err := d.ClipboardText(ctx); err != nil || text != "" || cut {
		t.Fatalf("empty clipboard: %q %v %v", text, cut, err)
	}
	for _, text := range []string{"héllo ; $(rm -rf ~) ✓\nline 2", strings.Repeat("ß", commands.MaxClipboardSet)} {
		if err := d.SetClipboardText(ctx, text); err != nil {
			t.Fatal(err)
		}
		for _, tool := range [][]string{{"xclip", "-o", "-selection", "clipboard"}, {"xsel", "--clipboard", "--output"}} {
			out, err := exec.Command(tool[0], tool[1:]...).Output()
			if err != nil || string(out) != text {
				t.Fatalf("%s read %d bytes (%v), want %d", tool[0], len(out), err, len(text))
			}
		}
		if got, cut, err := d.ClipboardText(ctx); err != nil || got != text || cut {
			t.Fatalf("own text read back: %d bytes %v %v", len(got), cut, err)
		}
	}
	// xclip takes the clipboard (and serves one request): we read its text.
	xc := exec.Command("xclip", "-quiet", "-loops", "1", "-selection", "clipboard", "-i")
	xc.Stdin = strings.NewReader("from xclip ✓")
	if err := xc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { xc.Process.Kill(); xc.Wait() }()
	var got string
	waitUntil(t, "xclip's text on the clipboard", func() bool {
		got, _, _ = d.ClipboardText(ctx)
		return got == "from xclip ✓"
	})
	if why := d.Unavailable()[protocol.CommandClipboardGet]; why != "" {
		t.Errorf("Unavailable()[clipboard_get] = %q under Xvfb", why)
	}
}

func TestClipboardWithoutDisplay(t *testing.T) {
	t.Setenv("DISPLAY", "")
	d := New(nil)
	defer d.Close()
	_, _, err := d.ClipboardText(context.Background())
	wantUnavailable(t, "ClipboardText", err, "DISPLAY is not set")
	wantUnavailable(t, "SetClipboardText", d.SetClipboardText(context.Background(), "x"), "DISPLAY is not set")
	if why := d.Unavailable()[protocol.CommandClipboardSet]; !strings.Contains(why, "DISPLAY is not set") {
		t.Errorf("Unavailable()[clipboard_set] = %q", why)
	}
}

// TestIdleTimeX11: the idle time grows while nobody touches the X server
// and drops when xdotool moves the pointer.
func TestIdleTimeX11(t *testing.T) {
	if !inXvfb(t, "xdotool") {
		return
	}
	d := New(nil)
	defer d.Close()
	ctx := context.Background()
	first, err := d.IdleTime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var later time.Duration
	waitUntil(t, "the idle time grows", func() bool {
		later, err = d.IdleTime(ctx)
		return err == nil && later >= first+300*time.Millisecond
	})
	if out, err := exec.Command("xdotool", "mousemove", "17", "23").CombinedOutput(); err != nil {
		t.Fatalf("xdotool: %v %s", err, out)
	}
	waitUntil(t, "input resets the idle time", func() bool {
		now, err := d.IdleTime(ctx)
		return err == nil && now < later
	})
}

// TestLockAndSleepAvailability: what Unavailable says of lock_screen and
// sleep, on a private session bus that also stands in for the system bus
// (so the real logind is never asked), with PATH holding only what each
// step puts there. The lock_screen check only looks the tools up and asks
// the bus; nothing is locked or suspended.
func TestLockAndSleepAvailability(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bin")
	if !inSessionBus(t, "PATH="+bin, "XDG_CURRENT_DESKTOP=") {
		return
	}
	os.Setenv("DBUS_SYSTEM_BUS_ADDRESS", os.Getenv("DBUS_SESSION_BUS_ADDRESS"))
	bin = os.Getenv("PATH") // the parent's directory (the child's TempDir is another)
	os.MkdirAll(bin, 0o755)
	tool := func(name string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what, lockWhy, sleepWhy string) {
		t.Helper()
		d := New(nil) // a fresh Desktop: the checks are cached for 30 s
		defer d.Close()
		u := d.Unavailable()
		for name, want := range map[string]string{protocol.CommandLockScreen: lockWhy, protocol.CommandSleep: sleepWhy} {
			got, ok := u[name]
			if want == "" && ok {
				t.Errorf("%s: %s unavailable: %q", what, name, got)
			}
			for _, part := range strings.Split(want, "|") {
				if want != "" && !strings.Contains(got, part) {
					t.Errorf("%s: Unavailable()[%s] = %q, want it to say %q", what, name, got, part)
				}
			}
		}
	}

	check("nothing", "no screen locker: |loginctl is not installed|no screen saver on the D-Bus session bus|xdg-screensaver: no desktop named",
		"no logind on the system bus")

	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tool("loginctl")
	l := &fakeLogind{can: "na"}
	conn.Export(l, logindPath, logindIface)
	if reply, err := conn.RequestName(logindName, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own logind's name: %v %v", reply, err)
	}
	check("logind without a session", "logind has no session for this process", "CanSuspend: na")
	l.mu.Lock()
	l.can, l.session = "challenge", "/org/freedesktop/login1/session/_31"
	l.mu.Unlock()
	check("logind with a session", "", "")

	os.Remove(filepath.Join(bin, "loginctl"))
	check("no loginctl", "loginctl is not installed", "")

	s := &fakeScreenSaver{}
	conn.Export(s, "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver")
	if reply, err := conn.RequestName("org.gnome.ScreenSaver", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own the screen saver's name: %v %v", reply, err)
	}
	check("a screen saver on the bus", "", "")
	if _, err := conn.ReleaseName("org.gnome.ScreenSaver"); err != nil {
		t.Fatal(err)
	}

	os.Setenv("XDG_CURRENT_DESKTOP", "XFCE")
	check("a desktop without xdg-screensaver", "xdg-screensaver is not installed", "")
	tool("xdg-screensaver")
	check("xdg-screensaver in a desktop", "", "")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locks != 0 {
		t.Errorf("the checks locked the screen %d times", s.locks)
	}
}
