package desktop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/tether-desktop/tether/protocol"
)

// The freedesktop.org notification service.
const (
	notifyName  = "org.freedesktop.Notifications"
	notifyPath  = dbus.ObjectPath("/org/freedesktop/Notifications")
	notifyIface = "org.freedesktop.Notifications"
	appName     = "Tether"
)

// notifier sends notifications to org.freedesktop.Notifications on the D-Bus
// session bus. It opens a private connection for each call (notifications are
// rare and rate limited), so there is no connection to go stale; a
// notification with buttons keeps its connection until it is answered,
// closed, or its lifetime ends (notify_actions_linux.go).
type notifier struct {
	log        *slog.Logger
	lifetime   time.Duration // longest wait for a button; tests shorten it
	maxAwaited int           // most notifications awaited at once; tests lower it

	life    context.Context // ends at close: every wait for a button stops
	stop    context.CancelFunc
	waits   sync.WaitGroup
	pending atomic.Int32 // notifications whose buttons are still awaited
}

func newNotifier(log *slog.Logger) *notifier {
	life, stop := context.WithCancel(context.Background())
	return &notifier{log: log, lifetime: actionLifetime, maxAwaited: maxAwaited, life: life, stop: stop}
}

// connect opens a private session bus connection that closes when ctx ends.
// It never starts a bus (no dbus-launch).
func connect(ctx context.Context) (*dbus.Conn, error) {
	conn, err := dbus.SessionBusPrivateNoAutoStartup(dbus.WithContext(ctx))
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeUnavailable, "no D-Bus session bus: %v", err)
	}
	if err := conn.Auth(nil); err != nil {
		conn.Close()
		return nil, protocol.Errorf(protocol.CodeUnavailable, "no D-Bus session bus: authenticate: %v", err)
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, protocol.Errorf(protocol.CodeUnavailable, "no D-Bus session bus: hello: %v", err)
	}
	return conn, nil
}

func (n *notifier) notify(ctx context.Context, title, body string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn, err := connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	caps, err := capabilities(ctx, conn)
	if err != nil {
		return err
	}
	_, err = n.show(ctx, conn, caps, title, body, nil)
	return err
}

// capabilities asks the notification service what it can do.
func capabilities(ctx context.Context, conn *dbus.Conn) ([]string, error) {
	var caps []string
	if err := conn.Object(notifyName, notifyPath).CallWithContext(ctx, notifyIface+".GetCapabilities", 0).Store(&caps); err != nil {
		return nil, callError("ask the notification service what it can do", err)
	}
	return caps, nil
}

// show asks the service on conn (which has caps) to show title and body
// with a button per action (none when actions is nil), and returns the
// notification's id.
func (n *notifier) show(ctx context.Context, conn *dbus.Conn, caps []string, title, body string, actions []string) (uint32, error) {
	// A server that announces body-markup reads the body as markup: escape it
	// so the text shows as sent. The specification says the summary is plain
	// text, but servers that render markup (some render it in the summary
	// too) get an escaped title as well: a sender's "<a href=…>" must never
	// become a link or change the look of the notification.
	if slices.Contains(caps, "body-markup") {
		title, body = markupEscaper.Replace(title), markupEscaper.Replace(body)
	}
	// The actions array pairs a key with its label; the label is the key.
	pairs := make([]string, 0, 2*len(actions))
	for _, a := range actions {
		pairs = append(pairs, a, a)
	}
	var id uint32
	call := conn.Object(notifyName, notifyPath).CallWithContext(ctx, notifyIface+".Notify", 0,
		appName, uint32(0), "", title, body, pairs, map[string]dbus.Variant{}, int32(-1))
	if err := call.Store(&id); err != nil {
		return 0, callError("show the notification", err)
	}
	n.log.Debug("notification shown", "id", id, "actions", len(actions))
	return id, nil
}

// check reports why notify cannot run, "" if it can: the session bus must
// answer and the notification service must be running or activatable.
func (n *notifier) check(ctx context.Context) string {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn, err := connect(ctx)
	if err != nil {
		return protocol.AsError(err).Message
	}
	defer conn.Close()
	bus := conn.BusObject()
	var owned bool
	if err := bus.CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, notifyName).Store(&owned); err != nil {
		return fmt.Sprintf("session bus does not answer: %v", err)
	}
	if owned {
		return ""
	}
	var activatable []string
	if err := bus.CallWithContext(ctx, "org.freedesktop.DBus.ListActivatableNames", 0).Store(&activatable); err != nil {
		return fmt.Sprintf("session bus does not answer: %v", err)
	}
	if slices.Contains(activatable, notifyName) {
		return ""
	}
	return "no notification service on the D-Bus session bus"
}

// callError turns a failed D-Bus call into a result error: unavailable when
// no service can take it, internal otherwise.
func callError(what string, err error) error {
	var derr dbus.Error
	if errors.As(err, &derr) {
		switch derr.Name {
		case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner", "org.freedesktop.DBus.Error.Spawn.ServiceNotFound":
			return protocol.Errorf(protocol.CodeUnavailable, "no notification service on the D-Bus session bus")
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

var markupEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
