package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/tether-desktop/tether/protocol"
)

// lockSaver is org.freedesktop.ScreenSaver: it counts locks.
type lockSaver struct {
	mu    sync.Mutex
	locks int
}

func (s *lockSaver) Lock() *dbus.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locks++
	return nil
}

// sleepLogind is the part of org.freedesktop.login1.Manager that sleep
// uses: it allows suspending and counts the requests.
type sleepLogind struct {
	mu       sync.Mutex
	suspends int
}

func (l *sleepLogind) CanSuspend() (string, *dbus.Error) { return "yes", nil }
func (l *sleepLogind) Suspend(bool) *dbus.Error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.suspends++
	return nil
}

// TestLockAndSleepAvailabilityEndToEnd runs the real agent and relay twice
// on one config dir, with lock_screen and sleep switched on. First with no
// screen locker and no logind (PATH without loginctl or xdg-screensaver, no
// session bus, no system bus): presence (what the page shows) says both are
// unavailable, with the reasons, and lock_screen answers unavailable. Then
// with a screen saver and a logind on a private bus (standing in for the
// system bus, so the real logind is never asked): both are available, and
// run.
func TestLockAndSleepAvailabilityEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	if !inPrivateBus(t, t.Name()) {
		return
	}
	bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	dir := t.TempDir()
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	home := filepath.Join(dir, "home")
	bin := filepath.Join(dir, "bin") // no loginctl, no xdg-screensaver
	os.MkdirAll(home, 0o700)
	os.MkdirAll(bin, 0o700)
	base := append(agentEnv(t, home), "PATH="+bin, "XDG_CURRENT_DESKTOP=")
	agentDir := filepath.Join(dir, "agent")
	pre := &agentProc{configDir: agentDir, env: base, relayURL: relay.url}
	pre.proc = &proc{t: t}
	if _, err := pre.cli("allow", "sleep"); err != nil {
		t.Fatal(err)
	}

	without := append(base, "DBUS_SYSTEM_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-system-bus"))
	a := startAgent(t, relay.url, agentDir, without)
	waitRegistered(t, a)
	session, device := pair(t, relay.url, a.pairingCode(), "")
	c := dialClient(t, relay.url, session)
	p := c.presence(device, func(p protocol.Presence) bool { return p.Online })
	for name, parts := range map[string][]string{
		protocol.CommandLockScreen: {"no screen locker", "loginctl is not installed", "no D-Bus session bus", "xdg-screensaver: no desktop named"},
		protocol.CommandSleep:      {"no logind: the D-Bus system bus is not reachable"},
	} {
		for _, part := range parts {
			if !strings.Contains(p.Unavailable[name], part) {
				t.Errorf("presence unavailable[%s] = %q, want it to say %q", name, p.Unavailable[name], part)
			}
		}
	}
	if res := c.command(device, protocol.CommandLockScreen, nil); code(res) != protocol.CodeUnavailable || !strings.Contains(res.Error.Message, "no screen locker") {
		t.Errorf("lock_screen: %s %+v, want unavailable", code(res), res.Error)
	}
	a.stop(syscall.SIGTERM)
	c.presence(device, func(p protocol.Presence) bool { return !p.Online })

	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	saver, logind := &lockSaver{}, &sleepLogind{}
	conn.Export(saver, "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver")
	conn.Export(logind, "/org/freedesktop/login1", "org.freedesktop.login1.Manager")
	for _, name := range []string{"org.freedesktop.ScreenSaver", "org.freedesktop.login1"} {
		if reply, err := conn.RequestName(name, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
			t.Fatalf("own %s: %v %v", name, reply, err)
		}
	}
	with := append(base, "DBUS_SESSION_BUS_ADDRESS="+bus, "DBUS_SYSTEM_BUS_ADDRESS="+bus)
	startAgent(t, relay.url, agentDir, with)
	p = c.presence(device, func(p protocol.Presence) bool { return p.Online })
	for _, name := range []string{protocol.CommandLockScreen, protocol.CommandSleep} {
		if why, ok := p.Unavailable[name]; ok {
			t.Errorf("presence unavailable[%s] = %q with a screen saver and logind", name, why)
		}
	}
	if res := c.command(device, protocol.CommandLockScreen, nil); code(res) != "ok" || !strings.Contains(string(res.Data), "D-Bus org.freedesktop.ScreenSaver") {
		t.Errorf("lock_screen: %s %+v %s", code(res), res.Error, res.Data)
	}
	if res := c.command(device, protocol.CommandSleep, nil); code(res) != "ok" {
		t.Errorf("sleep: %s %+v", code(res), res.Error)
	}
	saver.mu.Lock()
	logind.mu.Lock()
	defer saver.mu.Unlock()
	defer logind.mu.Unlock()
	if saver.locks != 1 || logind.suspends != 1 {
		t.Errorf("the screen saver locked %d times, logind suspended %d times; want once each", saver.locks, logind.suspends)
	}
}
