package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/tether-desktop/tether/internal/sendfile"
	"github.com/tether-desktop/tether/protocol"
)

// notificationServer is a small org.freedesktop.Notifications service with
// buttons: it records each notification and answers it at once as a person
// would, clicking the button click names for its summary ("" closes it).
type notificationServer struct {
	conn *dbus.Conn

	mu    sync.Mutex
	click func(summary string) string
	shown []shownNotice
}

// shownNotice is one notification the server was asked to show.
type shownNotice struct {
	summary, body string
	actions       []string // the labels, one per button
}

func (s *notificationServer) GetCapabilities() ([]string, *dbus.Error) {
	return []string{"body", "actions"}, nil
}

func (s *notificationServer) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "tether-e2e", "tether tests", "1", "1.2", nil
}

func (s *notificationServer) Notify(app string, replaces uint32, icon, summary, body string,
	actions []string, hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	var labels []string
	for i := 1; i < len(actions); i += 2 {
		labels = append(labels, actions[i])
	}
	s.mu.Lock()
	s.shown = append(s.shown, shownNotice{summary, body, labels})
	id := uint32(len(s.shown))
	click := ""
	if s.click != nil {
		click = s.click(summary)
	}
	s.mu.Unlock()
	for i := 0; i+1 < len(actions); i += 2 {
		if actions[i+1] == click {
			s.conn.Emit("/org/freedesktop/Notifications", "org.freedesktop.Notifications.ActionInvoked", id, actions[i])
		}
	}
	s.conn.Emit("/org/freedesktop/Notifications", "org.freedesktop.Notifications.NotificationClosed", id, uint32(2))
	return id, nil
}

func (s *notificationServer) CloseNotification(uint32) *dbus.Error { return nil }

// setClick changes how the next notifications are answered.
func (s *notificationServer) setClick(f func(summary string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.click = f
}

// notices returns the notifications whose summary contains part.
func (s *notificationServer) notices(part string) []shownNotice {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []shownNotice
	for _, n := range s.shown {
		if strings.Contains(n.summary, part) {
			out = append(out, n)
		}
	}
	return out
}

// serveNotifications puts a notificationServer on conn's session bus.
func serveNotifications(t *testing.T, conn *dbus.Conn) *notificationServer {
	t.Helper()
	s := &notificationServer{conn: conn}
	if err := conn.Export(s, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own the notification service's name: %v %v", reply, err)
	}
	return s
}

// notificationButtons checks the buttons of the running agent's notices
// (TestTrayPairedBrowsersOverDBus runs it): the pairings so far were
// announced with Unpair (nobody clicked), a click on the Unpair of a new
// pairing unpairs that browser, and files sent by the browser of token
// come with Open and Show in folder, which open (through the xdg-open that
// appends to opened) the saved file and the inbox folder.
func notificationButtons(t *testing.T, notes *notificationServer, cli *agentProc, relayURL, token, device, inbox, opened string) {
	t.Helper()
	for _, name := range []string{"Chrome on Android", "curl"} {
		if n := notes.notices(name + " paired with this computer"); len(n) != 1 || !slices.Equal(n[0].actions, []string{"Unpair"}) {
			t.Errorf("pairing notices of %s: %+v, want one with Unpair", name, n)
		}
	}

	notes.setClick(func(summary string) string {
		if strings.HasPrefix(summary, "Firefox on Linux paired") {
			return "Unpair"
		}
		return ""
	})
	pairWithUA(t, relayURL, cli.pairingCode(), "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	waitFor(t, "the browser unpaired from its notice", func() bool {
		out, err := cli.cli("browsers", "--json")
		var left []protocol.PairedBrowser
		return len(notes.notices("Firefox on Linux paired")) == 1 && err == nil &&
			json.Unmarshal([]byte(out), &left) == nil && len(left) == 1 && left[0].Name == "curl"
	})

	notes.setClick(func(summary string) string {
		switch {
		case strings.HasPrefix(summary, "open-me.txt from "):
			return "Open"
		case strings.HasPrefix(summary, "show-me.txt from "):
			return "Show in folder"
		}
		return ""
	})
	c := dialClient(t, relayURL, token)
	c.presence(device, func(p protocol.Presence) bool {
		return p.Online && contains(p.Capabilities, protocol.CommandReceiveFiles)
	})
	for _, name := range []string{"open-me.txt", "show-me.txt"} {
		res, err := sendfile.Send(c.conn, name, device, name, strings.NewReader("hello"), 5, sendfile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		savedAs(t, res)
		if n := notes.notices(name + " from curl"); len(n) != 1 || !slices.Equal(n[0].actions, []string{"Open", "Show in folder"}) {
			t.Errorf("notices of %s: %+v, want one with Open and Show in folder", name, n)
		}
	}
	waitFor(t, "the file and the folder opened from their notices", func() bool {
		b, _ := os.ReadFile(opened)
		lines := strings.Split(string(b), "\n")
		return slices.Contains(lines, filepath.Join(inbox, "open-me.txt")) && slices.Contains(lines, inbox)
	})
	if b, _ := os.ReadFile(opened); strings.Contains(string(b), "show-me.txt") {
		t.Errorf("a file opened that nobody asked for:\n%s", b)
	}
}
