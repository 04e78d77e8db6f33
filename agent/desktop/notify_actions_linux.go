package desktop

import (
	"context"
	"slices"
	"time"

	"github.com/godbus/dbus/v5"
)

// actionLifetime is the longest a notification's buttons are listened
// for. Servers close most notifications long before (and say so with
// NotificationClosed); a click after it does nothing.
const actionLifetime = 30 * time.Minute

// maxAwaited bounds the notifications whose buttons are listened for at
// once (each holds a session bus connection); beyond it, notifications
// show without buttons.
const maxAwaited = 32

// The signals of the notification service about a notification's fate.
const (
	signalActionInvoked = notifyIface + ".ActionInvoked"
	signalClosed        = notifyIface + ".NotificationClosed"
)

// notifyActions shows title and body with a button per action when the
// service lists the "actions" capability, and then, in a goroutine owned by
// n, listens on the same connection for the service's ActionInvoked and
// NotificationClosed signals about that notification (matched by id): a
// click on one of actions calls chosen with it, once; a close, the
// lifetime's end or n.close end the wait without calling it. Without the
// capability, or with n.maxAwaited notifications already awaited, the
// notification is shown as plain text and chosen is never called. It
// blocks until the notification is shown or ctx ends.
func (n *notifier) notifyActions(ctx context.Context, title, body string, actions []string, chosen func(string)) error {
	if len(actions) == 0 || chosen == nil {
		return n.notify(ctx, title, body)
	}
	if int(n.pending.Add(1)) > n.maxAwaited {
		n.pending.Add(-1)
		return n.notify(ctx, title, body)
	}
	// The connection lives as long as the wait; ctx bounds only the showing.
	waitCtx, endWait := context.WithTimeout(n.life, n.lifetime)
	showing := context.AfterFunc(ctx, endWait)
	handedOver := false
	defer func() {
		showing()
		if !handedOver {
			endWait()
			n.pending.Add(-1)
		}
	}()
	conn, err := connect(waitCtx)
	if err != nil {
		return err
	}
	defer func() {
		if !handedOver {
			conn.Close()
		}
	}()
	caps, err := capabilities(ctx, conn)
	if err != nil {
		return err
	}
	if !slices.Contains(caps, "actions") {
		_, err := n.show(ctx, conn, caps, title, body, nil)
		return err
	}
	// Listen before showing: a service may answer before Notify returns.
	signals := make(chan *dbus.Signal, 16)
	conn.Signal(signals)
	if err := conn.AddMatchSignalContext(ctx, dbus.WithMatchSender(notifyName),
		dbus.WithMatchObjectPath(notifyPath), dbus.WithMatchInterface(notifyIface)); err != nil {
		return callError("listen to the notification service", err)
	}
	id, err := n.show(ctx, conn, caps, title, body, actions)
	if err != nil {
		return err
	}
	if !showing() { // ctx ended as the notification was shown: no wait
		return nil
	}
	handedOver = true
	n.waits.Add(1)
	go func() {
		action := awaitAction(waitCtx, signals, id, actions)
		endWait()
		conn.Close()
		if action == "" {
			n.pending.Add(-1)
			n.waits.Done()
			return
		}
		n.waits.Done() // close does not wait for chosen: it is the caller's
		n.log.Debug("notification action chosen", "id", id, "action", action)
		chosen(action)
		n.pending.Add(-1)
	}()
	return nil
}

// awaitAction returns the action of actions invoked on notification id, or
// "" once it is closed or ctx ends.
func awaitAction(ctx context.Context, signals <-chan *dbus.Signal, id uint32, actions []string) string {
	for {
		select {
		case <-ctx.Done():
			return ""
		case s, ok := <-signals:
			if !ok {
				return ""
			}
			if s.Path != notifyPath || len(s.Body) < 2 {
				continue
			}
			if sid, _ := s.Body[0].(uint32); sid != id {
				continue
			}
			switch s.Name {
			case signalActionInvoked:
				if key, _ := s.Body[1].(string); slices.Contains(actions, key) {
					return key
				}
			case signalClosed:
				return ""
			}
		}
	}
}

// close stops every wait for a button and waits for the waits to end.
func (n *notifier) close() {
	n.stop()
	n.waits.Wait()
}

// waiting is the number of notifications whose buttons are still awaited
// or whose chosen action still runs.
func (n *notifier) waiting() int { return int(n.pending.Load()) }
