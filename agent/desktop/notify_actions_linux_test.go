package desktop

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// chosenLog records the actions a notification's callback was called with.
type chosenLog struct {
	mu  sync.Mutex
	got []string
}

func (c *chosenLog) chosen(action string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, action)
}

func (c *chosenLog) calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// waitIdle waits (bounded) until d awaits no button and runs no action.
func waitIdle(t *testing.T, d *Desktop) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); d.notifier.waiting() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("still waiting for %d notifications' buttons after 20 s", d.notifier.waiting())
		}
	}
}

// TestNotifyActions runs under a private session bus with a notification
// service written here that answers as a person would: a click on a
// button calls the callback once (whatever else the service sends), a
// closed notification calls nothing, a service without buttons gets plain
// text, and the wait for a click ends with its lifetime or Close, so no
// connection or goroutine outlives an unanswered notification.
func TestNotifyActions(t *testing.T) {
	if !inSessionBus(t) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // hang guard only
	defer cancel()
	actions := []string{"Open", "Show in folder"}
	pairs := []string{"Open", "Open", "Show in folder", "Show in folder"}
	buttons := []string{"body", "actions"}

	for _, tc := range []struct {
		name        string
		caps        []string
		answer      func(f *fakeNotifications, id uint32, actions []string)
		lifetime    time.Duration
		wantActions []string // the actions array the service was sent
		wantChosen  []string
	}{
		{"a click runs the action once", buttons, func(f *fakeNotifications, id uint32, _ []string) {
			// Sent before Notify returns: the agent must listen first.
			f.emit("ActionInvoked", id+100, "Open")       // another notification's
			f.emit("ActionInvoked", id, "default")        // not one of ours
			f.emit("ActionInvoked", id, "Show in folder") // the click
			f.emit("ActionInvoked", id, "Open")           // a second signal: ignored
			f.emit("NotificationClosed", id, uint32(2))
		}, 0, pairs, []string{"Show in folder"}},
		{"a closed notification runs none", buttons, func(f *fakeNotifications, id uint32, _ []string) {
			f.emit("NotificationClosed", id+100, uint32(2))
			f.emit("NotificationClosed", id, uint32(2))
			f.emit("ActionInvoked", id, "Open") // too late
		}, 0, pairs, nil},
		{"a service without buttons gets plain text", []string{"body"}, func(f *fakeNotifications, id uint32, _ []string) {
			f.emit("ActionInvoked", id, "Open") // never listened to
		}, 0, []string{}, nil},
		{"an unanswered notification is forgotten after its lifetime", buttons, nil, 300 * time.Millisecond, pairs, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(nil)
			defer d.Close()
			if tc.lifetime > 0 {
				d.notifier.lifetime = tc.lifetime
			}
			f := &fakeNotifications{caps: tc.caps, answer: tc.answer}
			serveNotifications(t, f)
			var log chosenLog
			if err := d.NotifyActions(ctx, "photo.jpg from Chrome on Android", "Saved in Downloads/Tether", actions, log.chosen); err != nil {
				t.Fatalf("NotifyActions = %v", err)
			}
			if got := f.shown(); len(got) != 1 || got[0] != (shown{appName, "photo.jpg from Chrome on Android", "Saved in Downloads/Tether"}) {
				t.Errorf("service was shown %q", got)
			}
			f.mu.Lock()
			sent := f.actions
			f.mu.Unlock()
			if len(sent) != 1 || !slices.Equal(sent[0], tc.wantActions) {
				t.Errorf("actions sent = %q, want [%q]", sent, tc.wantActions)
			}
			waitIdle(t, d)
			if got := tc.wantChosen; !slices.Equal(log.calls(), got) {
				t.Errorf("callback called with %q, want %q", log.calls(), got)
			}
		})
	}

	t.Run("beyond the bound, notifications come without buttons", func(t *testing.T) {
		d := New(nil)
		defer d.Close()
		d.notifier.maxAwaited = 1
		f := &fakeNotifications{caps: buttons}
		serveNotifications(t, f)
		var log chosenLog
		for range 2 {
			if err := d.NotifyActions(ctx, "t", "b", actions, log.chosen); err != nil {
				t.Fatalf("NotifyActions = %v", err)
			}
		}
		f.mu.Lock()
		sent := f.actions
		f.mu.Unlock()
		if len(sent) != 2 || !slices.Equal(sent[0], pairs) || len(sent[1]) != 0 || d.notifier.waiting() != 1 {
			t.Errorf("actions sent %q with %d awaited; want buttons on the first only, 1 awaited", sent, d.notifier.waiting())
		}
	})

	t.Run("Close ends the wait", func(t *testing.T) {
		d := New(nil)
		f := &fakeNotifications{caps: buttons}
		serveNotifications(t, f)
		var log chosenLog
		if err := d.NotifyActions(ctx, "t", "b", actions, log.chosen); err != nil {
			t.Fatalf("NotifyActions = %v", err)
		}
		if n := d.notifier.waiting(); n != 1 {
			t.Fatalf("waiting() = %d after showing, want 1", n)
		}
		d.Close()
		if n := d.notifier.waiting(); n != 0 || len(log.calls()) != 0 {
			t.Errorf("after Close: waiting() = %d, calls %q; want 0, none", n, log.calls())
		}
	})
}
