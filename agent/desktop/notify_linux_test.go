package desktop

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/tether-desktop/tether/protocol"
)

// fakeNotifications is a small org.freedesktop.Notifications service that
// records what it is asked to show.
type fakeNotifications struct {
	caps []string
	// answer, when set, is called after each Notify with the new id and
	// the actions array, to send signals as a person's click would.
	answer func(f *fakeNotifications, id uint32, actions []string)
	conn   *dbus.Conn // set by serveNotifications

	mu      sync.Mutex
	got     []shown
	actions [][]string
}

type shown struct{ app, summary, body string }

func (f *fakeNotifications) GetCapabilities() ([]string, *dbus.Error) { return f.caps, nil }

func (f *fakeNotifications) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "fake", "tether tests", "1", "1.2", nil
}

func (f *fakeNotifications) Notify(app string, replaces uint32, icon, summary, body string,
	actions []string, hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	f.mu.Lock()
	f.got = append(f.got, shown{app, summary, body})
	f.actions = append(f.actions, actions)
	id := uint32(len(f.got))
	f.mu.Unlock()
	if f.answer != nil {
		f.answer(f, id, actions)
	}
	return id, nil
}

// emit sends the service's signal name ("ActionInvoked", …) with args.
func (f *fakeNotifications) emit(name string, args ...any) {
	if err := f.conn.Emit(notifyPath, notifyIface+"."+name, args...); err != nil {
		panic(fmt.Sprintf("emit %s: %v", name, err))
	}
}

func (f *fakeNotifications) shown() []shown {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]shown(nil), f.got...)
}

// serveNotifications puts f on the session bus under the service's name.
func serveNotifications(t *testing.T, f *fakeNotifications) {
	t.Helper()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatalf("connect to the test session bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	f.conn = conn
	if err := conn.Export(f, notifyPath, notifyIface); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(notifyName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own %s: reply %v, %v", notifyName, reply, err)
	}
}

// TestNotify runs under a private session bus (dbus-run-session), with a fake
// notification service, so it never shows anything on a real desktop.
func TestNotify(t *testing.T) {
	if !isChild(t.Name()) {
		runner, err := exec.LookPath("dbus-run-session")
		if err != nil {
			t.Skipf("dbus-run-session not found (install dbus-daemon and dbus-bin): %v", err)
		}
		runChild(t, t.Name(), []string{runner, "--"})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // hang guard only
	defer cancel()
	d := New(nil)

	// The bus answers but nobody shows notifications yet (and none can be activated here).
	var activatable []string
	if conn, err := dbus.ConnectSessionBus(); err == nil {
		_ = conn.BusObject().Call("org.freedesktop.DBus.ListActivatableNames", 0).Store(&activatable)
		conn.Close()
	}
	if !strings.Contains(strings.Join(activatable, " "), notifyName) {
		if why := d.Unavailable()["notify"]; why != "no notification service on the D-Bus session bus" {
			t.Errorf("Unavailable()[notify] without a service = %q", why)
		}
		err := d.Notify(ctx, "t", "b")
		var perr *protocol.Error
		if !errors.As(err, &perr) || perr.Code != protocol.CodeUnavailable {
			t.Errorf("Notify without a service = %v, want unavailable", err)
		}
	}

	for _, tc := range []struct {
		name        string
		caps        []string
		title, body string
		wantTitle   string
		wantBody    string
	}{
		{"plain server", []string{"body"}, "Tether <test>", "a & b <i>x</i>\nline 2", "Tether <test>", "a & b <i>x</i>\nline 2"},
		{"markup server gets escaped text", []string{"body", "body-markup"}, "Tether <test>", "a & b <i>x</i>", "Tether &lt;test&gt;", "a &amp; b &lt;i&gt;x&lt;/i&gt;"},
		{"markup server gets an escaped title", []string{"body-markup"}, `<a href="https://evil.example">Update</a> &amp;`, "b",
			`&lt;a href="https://evil.example"&gt;Update&lt;/a&gt; &amp;amp;`, "b"},
		{"unicode", []string{"body"}, "Grüße ✓", "日本語", "Grüße ✓", "日本語"},
		{"empty body", []string{"body"}, "only a title", "", "only a title", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeNotifications{caps: tc.caps}
			serveNotifications(t, f)
			if err := d.Notify(ctx, tc.title, tc.body); err != nil {
				t.Fatalf("Notify = %v", err)
			}
			got := f.shown()
			want := shown{appName, tc.wantTitle, tc.wantBody}
			if len(got) != 1 || got[0] != want {
				t.Errorf("service was shown %q, want [%q]", got, want)
			}
			if why := d.Unavailable()["notify"]; why != "" {
				t.Errorf("Unavailable()[notify] = %q with a service, want \"\"", why)
			}
		})
	}
}

func TestNotifyWithoutSessionBus(t *testing.T) {
	for _, tc := range []struct{ name, addr string }{
		{"socket missing", "unix:path=/nonexistent/tether-test/bus"},
		{"address garbage", "nonsense"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", tc.addr)
			d := New(nil)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // hang guard only
			defer cancel()
			err := d.Notify(ctx, "t", "b")
			var perr *protocol.Error
			if !errors.As(err, &perr) || perr.Code != protocol.CodeUnavailable || !strings.Contains(perr.Message, "no D-Bus session bus") {
				t.Fatalf("Notify = %v, want unavailable: no D-Bus session bus …", err)
			}
			if why := d.Unavailable()["notify"]; !strings.Contains(why, "no D-Bus session bus") {
				t.Errorf("Unavailable()[notify] = %q", why)
			}
		})
	}
}
