package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tether-desktop/tether/relay/store"
)

// testSessionIdleExpiry: lookups refuse sessions idle past SessionIdleTTL,
// mark stale ones used (observed through the sweep), and the sweep deletes
// idle sessions with their pairings.
func testSessionIdleExpiry(t *testing.T, open Open) {
	s, _ := open(t)
	c, ok := s.(Clocked)
	if !ok {
		t.Fatalf("%T has no SetClock", s)
	}
	ctx := context.Background()
	now := time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
	c.SetClock(func() time.Time { return now })
	mustCreateDevice(t, s, "d1", base)

	mustCreateSession(t, s, "idle", now.Add(-store.SessionIdleTTL-time.Millisecond))
	mustCreateSession(t, s, "edge", now.Add(-store.SessionIdleTTL))
	mustCreateSession(t, s, "stale", now.Add(-2*time.Hour))
	mustCreateSession(t, s, "fresh", now.Add(-30*time.Minute))
	mustPair(t, s, "idle", "d1")

	_, err := s.SessionByToken(ctx, hash("sess-idle"))
	if !errors.Is(err, store.ErrNotFound) || !errors.Is(err, store.ErrExpired) {
		t.Fatalf("SessionByToken(idle) = %v, want ErrNotFound and ErrExpired", err)
	}
	for _, id := range []string{"edge", "stale", "fresh"} {
		if _, err := s.SessionByToken(ctx, hash("sess-"+id)); err != nil {
			t.Fatalf("SessionByToken(%s) = %v", id, err)
		}
	}
	// The refused lookup did not mark idle used: the sweep takes it.
	if n, err := s.ExpireIdleSessions(ctx, now.Add(-store.SessionIdleTTL)); err != nil || n != 1 {
		t.Fatalf("ExpireIdleSessions(TTL) = %d, %v; want 1 (idle)", n, err)
	}
	if ids, err := s.PairedSessions(ctx, "d1"); err != nil || len(ids) != 0 {
		t.Errorf("pairings of the expired session = %v, %v; want none", ids, err)
	}
	// edge and stale were last used long ago, so their lookups marked them
	// used now; fresh was used 30 minutes ago, recently enough that its
	// lookup wrote nothing: a sweep of a minute's idleness takes only fresh.
	if n, err := s.ExpireIdleSessions(ctx, now.Add(-time.Minute)); err != nil || n != 1 {
		t.Errorf("ExpireIdleSessions(1 min) = %d, %v; want 1 (fresh)", n, err)
	}
	c.SetClock(nil)
	for id, want := range map[string]bool{"idle": false, "edge": true, "stale": true, "fresh": false} {
		// By the wall clock (2026) the marks of 2027 are not idle.
		if got := sessionExists(t, s, id); got != want {
			t.Errorf("session %s exists = %v, want %v", id, got, want)
		}
	}
	mustCreateSession(t, s, "today", time.Now())
	if !sessionExists(t, s, "today") {
		t.Error("a session made now is refused by the wall clock")
	}
}

// testDeleteNeverConnectedDevices: the sweep of devices that registered and
// never connected takes their codes, pairings and orphaned sessions.
func testDeleteNeverConnectedDevices(t *testing.T, open Open) {
	s, _ := open(t)
	ctx := context.Background()
	now := base
	mustCreateDevice(t, s, "old-never", now.Add(-48*time.Hour))
	mustCreateDevice(t, s, "old-seen", now.Add(-48*time.Hour))
	mustCreateDevice(t, s, "new-never", now.Add(-time.Hour))
	if err := s.TouchDevice(ctx, "old-seen", "n", "linux", now.Add(-47*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ code, dev string }{{"c-old", "old-never"}, {"c-seen", "old-seen"}, {"c-new", "new-never"}} {
		if err := s.CreatePairingCode(ctx, hash(c.code), c.dev, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	mustCreateSession(t, s, "only-old", base)
	mustCreateSession(t, s, "both", base)
	mustPair(t, s, "only-old", "old-never")
	mustPair(t, s, "both", "old-never")
	mustPair(t, s, "both", "old-seen")

	n, err := s.DeleteNeverConnectedDevices(ctx, now.Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("DeleteNeverConnectedDevices = %d, %v; want 1", n, err)
	}
	if _, err := s.Device(ctx, "old-never"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old never-connected device: %v, want ErrNotFound", err)
	}
	if _, err := s.DeviceByToken(ctx, hash("dev-old-never")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("its token still works: %v", err)
	}
	if _, err := s.RedeemPairingCode(ctx, hash("c-old"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("its pairing code: %v, want ErrNotFound", err)
	}
	for _, d := range []string{"old-seen", "new-never"} {
		if _, err := s.Device(ctx, d); err != nil {
			t.Errorf("device %s: %v", d, err)
		}
	}
	if dev, err := s.RedeemPairingCode(ctx, hash("c-new"), now); err != nil || dev != "new-never" {
		t.Errorf("code of the new device = %q, %v", dev, err)
	}
	if sessionExists(t, s, "only-old") {
		t.Error("session paired only with the deleted device kept")
	}
	if devs, err := s.PairedDevices(ctx, "both"); err != nil || len(devs) != 1 || devs[0].ID != "old-seen" {
		t.Errorf("PairedDevices(both) = %v, %v; want [old-seen]", devs, err)
	}
	if n, err := s.DeleteNeverConnectedDevices(ctx, now.Add(-24*time.Hour)); err != nil || n != 0 {
		t.Errorf("second sweep = %d, %v; want 0", n, err)
	}
}

// testSecondHandle: what one store writes, another on the same storage
// reads, also after the first is closed (one relay node writes, another
// serves).
func testSecondHandle(t *testing.T, open Open) {
	s, another := open(t)
	ctx := context.Background()
	d := mustCreateDevice(t, s, "d1", base)
	mustCreateSession(t, s, "s1", base)
	mustPair(t, s, "s1", "d1")
	if err := s.CreatePairingCode(ctx, hash("c"), "d1", base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2 := another()
	got, err := s2.DeviceByToken(ctx, hash("dev-d1"))
	if err != nil || !sameDevice(got, d) {
		t.Errorf("device on the second store = %+v, %v; want %+v", got, err, d)
	}
	if _, err := s2.SessionByToken(ctx, hash("sess-s1")); err != nil {
		t.Errorf("session on the second store: %v", err)
	}
	if ok, err := s2.IsPaired(ctx, "s1", "d1"); err != nil || !ok {
		t.Errorf("pairing on the second store = %v, %v", ok, err)
	}
	if dev, err := s2.RedeemPairingCode(ctx, hash("c"), base); err != nil || dev != "d1" {
		t.Errorf("code on the second store = %q, %v", dev, err)
	}
}

// testCanceledContext: a call with an ended context returns its error.
func testCanceledContext(t *testing.T, open Open) {
	s, _ := open(t)
	mustCreateDevice(t, s, "d1", base)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Device(ctx, "d1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Device with canceled ctx = %v, want context.Canceled", err)
	}
	if err := s.TouchDevice(ctx, "d1", "n", "o", base); !errors.Is(err, context.Canceled) {
		t.Errorf("TouchDevice with canceled ctx = %v, want context.Canceled", err)
	}
	if _, err := s.RemoveDevicePairings(ctx, "d1"); !errors.Is(err, context.Canceled) {
		t.Errorf("RemoveDevicePairings with canceled ctx = %v, want context.Canceled", err)
	}
}

// testClosed: every method of a closed store fails with ErrUnavailable.
func testClosed(t *testing.T, open Open) {
	s, _ := open(t)
	mustCreateDevice(t, s, "d1", base)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"CreateDevice":  func() error { return s.CreateDevice(ctx, store.Device{ID: "d2"}, hash("d2")) },
		"DeviceByToken": func() error { _, err := s.DeviceByToken(ctx, hash("dev-d1")); return err },
		"Device":        func() error { _, err := s.Device(ctx, "d1"); return err },
		"TouchDevice":   func() error { return s.TouchDevice(ctx, "d1", "n", "o", base) },
		"DeleteNeverConnectedDevices": func() error {
			_, err := s.DeleteNeverConnectedDevices(ctx, base)
			return err
		},
		"CreatePairingCode": func() error { return s.CreatePairingCode(ctx, hash("c"), "d1", base) },
		"RedeemPairingCode": func() error { _, err := s.RedeemPairingCode(ctx, hash("c"), base); return err },
		"DeleteExpiredCodes": func() error {
			_, err := s.DeleteExpiredCodes(ctx, base)
			return err
		},
		"CountPairingAttempt": func() error {
			_, _, err := s.CountPairingAttempt(ctx, hash("c"), base, time.Minute)
			return err
		},
		"DeletePairingAttempts": func() error { _, err := s.DeletePairingAttempts(ctx, base); return err },
		"CreateSession":         func() error { return s.CreateSession(ctx, store.Session{ID: "s"}, hash("s")) },
		"SessionByToken":        func() error { _, err := s.SessionByToken(ctx, hash("s")); return err },
		"ExpireIdleSessions":    func() error { _, err := s.ExpireIdleSessions(ctx, base); return err },
		"AddPairing":            func() error { return s.AddPairing(ctx, "s", "d1", base) },
		"RemovePairing":         func() error { return s.RemovePairing(ctx, "s", "d1") },
		"RemoveDevicePairings":  func() error { _, err := s.RemoveDevicePairings(ctx, "d1"); return err },
		"IsPaired":              func() error { _, err := s.IsPaired(ctx, "s", "d1"); return err },
		"PairedDevices":         func() error { _, err := s.PairedDevices(ctx, "s"); return err },
		"PairedSessions":        func() error { _, err := s.PairedSessions(ctx, "d1"); return err },
		"RecordPairing": func() error {
			_, _, err := s.RecordPairing(ctx, store.Pairing{SessionID: "s", DeviceID: "d1"})
			return err
		},
		"DevicePairings":    func() error { _, err := s.DevicePairings(ctx, "d1"); return err },
		"SessionPairings":   func() error { _, err := s.SessionPairings(ctx, "s"); return err },
		"RemovePairingByID": func() error { _, err := s.RemovePairingByID(ctx, "d1", "p_x"); return err },
		"TouchPairings":     func() error { return s.TouchPairings(ctx, "s", "", base) },
		"Close":             s.Close,
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s after Close = %v, want ErrUnavailable", name, err)
		}
	}
}
