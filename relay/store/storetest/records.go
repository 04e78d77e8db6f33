package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tether-desktop/tether/relay/store"
)

// testDevices: registration, lookups by token and id, and last seen.
func testDevices(t *testing.T, open Open) {
	s, _ := open(t)
	ctx := context.Background()
	d1 := mustCreateDevice(t, s, "d1", base)

	t.Run("create", func(t *testing.T) {
		tests := []struct {
			name  string
			dev   store.Device
			token []byte
			want  error // nil: success; errAny: some error that is none of the sentinels
		}{
			{"new", store.Device{ID: "d2", Name: "laptop", OS: "windows", CreatedAt: base}, hash("t2"), nil},
			{"same id", store.Device{ID: "d1", Name: "x", OS: "x", CreatedAt: base}, hash("other"), store.ErrConflict},
			{"same token", store.Device{ID: "d3", Name: "x", OS: "x", CreatedAt: base}, hash("dev-d1"), store.ErrConflict},
			{"empty token", store.Device{ID: "d4", Name: "x", OS: "x", CreatedAt: base}, nil, errAny},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				checkErr(t, s.CreateDevice(ctx, tt.dev, tt.token), tt.want)
			})
		}
	})

	t.Run("lookup", func(t *testing.T) {
		tests := []struct {
			name string
			get  func() (store.Device, error)
			want store.Device
			err  error
		}{
			{"by token", func() (store.Device, error) { return s.DeviceByToken(ctx, hash("dev-d1")) }, d1, nil},
			{"by id", func() (store.Device, error) { return s.Device(ctx, "d1") }, d1, nil},
			{"unknown token", func() (store.Device, error) { return s.DeviceByToken(ctx, hash("nope")) }, store.Device{}, store.ErrNotFound},
			{"unknown id", func() (store.Device, error) { return s.Device(ctx, "nope") }, store.Device{}, store.ErrNotFound},
			{"nil token", func() (store.Device, error) { return s.DeviceByToken(ctx, nil) }, store.Device{}, store.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := tt.get()
				checkErr(t, err, tt.err)
				if !sameDevice(got, tt.want) {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
			})
		}
		if !d1.LastSeen.IsZero() {
			t.Errorf("new device has LastSeen %v, want zero", d1.LastSeen)
		}
	})

	t.Run("touch", func(t *testing.T) {
		seen := base.Add(time.Hour + 999*time.Microsecond)
		if err := s.TouchDevice(ctx, "d1", "renamed", "darwin", seen); err != nil {
			t.Fatalf("TouchDevice: %v", err)
		}
		got, err := s.Device(ctx, "d1")
		if err != nil {
			t.Fatal(err)
		}
		want := store.Device{ID: "d1", Name: "renamed", OS: "darwin", CreatedAt: d1.CreatedAt, LastSeen: seen.Truncate(time.Millisecond)}
		if !sameDevice(got, want) {
			t.Errorf("after touch got %+v, want %+v", got, want)
		}
		if err := s.TouchDevice(ctx, "nope", "n", "o", seen); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TouchDevice(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("created with last seen", func(t *testing.T) {
		d := store.Device{ID: "d5", Name: "n", OS: "linux", CreatedAt: base, LastSeen: base.Add(time.Minute)}
		if err := s.CreateDevice(ctx, d, hash("t5")); err != nil {
			t.Fatal(err)
		}
		got, err := s.DeviceByToken(ctx, hash("t5"))
		if err != nil || !got.LastSeen.Equal(d.LastSeen.Truncate(time.Millisecond)) {
			t.Errorf("DeviceByToken = %+v, %v; want LastSeen %v", got, err, d.LastSeen)
		}
	})
}

// testSessions: creation, conflicts and lookup by token.
func testSessions(t *testing.T, open Open) {
	s, _ := open(t)
	ctx := context.Background()
	s1 := mustCreateSession(t, s, "s1", base)

	tests := []struct {
		name  string
		sess  store.Session
		token []byte
		want  error
	}{
		{"new", store.Session{ID: "s2", Label: "", CreatedAt: base}, hash("t2"), nil},
		{"same id", store.Session{ID: "s1", CreatedAt: base}, hash("other"), store.ErrConflict},
		{"same token", store.Session{ID: "s3", CreatedAt: base}, hash("sess-s1"), store.ErrConflict},
		{"empty token", store.Session{ID: "s4", CreatedAt: base}, []byte{}, errAny},
	}
	for _, tt := range tests {
		t.Run("create "+tt.name, func(t *testing.T) {
			checkErr(t, s.CreateSession(ctx, tt.sess, tt.token), tt.want)
		})
	}
	got, err := s.SessionByToken(ctx, hash("sess-s1"))
	if err != nil {
		t.Fatalf("SessionByToken: %v", err)
	}
	if got.ID != s1.ID || got.Label != s1.Label || !got.CreatedAt.Equal(s1.CreatedAt) {
		t.Errorf("SessionByToken = %+v, want %+v", got, s1)
	}
	if _, err := s.SessionByToken(ctx, hash("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SessionByToken(unknown) = %v, want ErrNotFound", err)
	}
}

// testPairingCodes: creation, single use, expiry and the sweep of expired
// codes.
func testPairingCodes(t *testing.T, open Open) {
	s, _ := open(t)
	ctx := context.Background()
	mustCreateDevice(t, s, "d1", base)
	mustCreateDevice(t, s, "d2", base)

	expires := base.Add(10 * time.Minute)
	for _, c := range []struct {
		code, dev string
		exp       time.Time
	}{
		{"valid", "d1", expires},
		{"valid2", "d2", expires},
		{"old", "d1", base.Add(-time.Second)},
		{"edge", "d1", base},
		{"old2", "d2", base.Add(-time.Hour)},
	} {
		if err := s.CreatePairingCode(ctx, hash(c.code), c.dev, c.exp); err != nil {
			t.Fatalf("CreatePairingCode(%s): %v", c.code, err)
		}
	}
	t.Run("create", func(t *testing.T) {
		checkErr(t, s.CreatePairingCode(ctx, hash("valid"), "d2", expires), store.ErrConflict)
		checkErr(t, s.CreatePairingCode(ctx, hash("new"), "no-such-device", expires), store.ErrNotFound)
		checkErr(t, s.CreatePairingCode(ctx, nil, "d1", expires), errAny)
	})

	// Order matters: each redeem consumes its code.
	steps := []struct {
		name    string
		code    string
		wantDev string
		wantErr error
	}{
		{"valid", "valid", "d1", nil},
		{"used twice", "valid", "", store.ErrNotFound},
		{"unknown", "never", "", store.ErrNotFound},
		{"expired", "old", "", store.ErrExpired},
		{"expired is gone", "old", "", store.ErrNotFound},
		{"expires exactly now", "edge", "", store.ErrExpired},
	}
	for _, st := range steps {
		t.Run("redeem "+st.name, func(t *testing.T) {
			dev, err := s.RedeemPairingCode(ctx, hash(st.code), base)
			checkErr(t, err, st.wantErr)
			if dev != st.wantDev {
				t.Errorf("device = %q, want %q", dev, st.wantDev)
			}
		})
	}

	t.Run("delete expired", func(t *testing.T) {
		n, err := s.DeleteExpiredCodes(ctx, base)
		if err != nil || n != 1 { // old2; valid2 still runs
			t.Fatalf("DeleteExpiredCodes = %d, %v; want 1", n, err)
		}
		if n, err := s.DeleteExpiredCodes(ctx, base); err != nil || n != 0 {
			t.Errorf("second DeleteExpiredCodes = %d, %v; want 0, nil", n, err)
		}
		if dev, err := s.RedeemPairingCode(ctx, hash("valid2"), base); err != nil || dev != "d2" {
			t.Errorf("valid2 after cleanup = %q, %v; want d2", dev, err)
		}
	})
}

// testPairingAttempts: counts per code within a window, a new window after
// the end, and the sweep of ended windows.
func testPairingAttempts(t *testing.T, open Open) {
	s, _ := open(t)
	ctx := context.Background()
	const window = 10 * time.Minute
	count := func(code string, now time.Time) (int, time.Time) {
		t.Helper()
		n, end, err := s.CountPairingAttempt(ctx, hash(code), now, window)
		if err != nil {
			t.Fatalf("CountPairingAttempt(%s): %v", code, err)
		}
		return n, end
	}
	wantEnd := base.Add(window).Truncate(time.Millisecond)
	for i := 1; i <= 3; i++ {
		n, end := count("a", base.Add(time.Duration(i-1)*time.Minute))
		if n != i || !end.Equal(wantEnd) {
			t.Errorf("attempt %d on a = %d, ends %v; want %d, %v", i, n, end, i, wantEnd)
		}
	}
	if n, _ := count("b", base); n != 1 {
		t.Errorf("first attempt on b = %d, want 1 (counts are per code)", n)
	}
	if n, _ := count("a", wantEnd.Add(-time.Millisecond)); n != 4 {
		t.Errorf("attempt just before the window ends = %d, want 4", n)
	}
	later := wantEnd
	n, end := count("a", later)
	if n != 1 || !end.Equal(later.Add(window)) {
		t.Errorf("attempt at the window's end = %d, ends %v; want a new window: 1, %v", n, end, later.Add(window))
	}
	if _, _, err := s.CountPairingAttempt(ctx, nil, base, window); err == nil {
		t.Error("CountPairingAttempt(nil hash) succeeded")
	}

	// b's window ended at wantEnd, a's runs until later+window.
	if n, err := s.DeletePairingAttempts(ctx, wantEnd); err != nil || n != 1 {
		t.Fatalf("DeletePairingAttempts = %d, %v; want 1 (b)", n, err)
	}
	if n, _ := count("b", later); n != 1 {
		t.Errorf("b after the sweep = %d, want 1", n)
	}
	if n, _ := count("a", later); n != 2 {
		t.Errorf("a after the sweep = %d, want 2 (its window runs on)", n)
	}
}

// testPairings: pairing, the order of listings, unpairing one and all.
func testPairings(t *testing.T, open Open) {
	s, _ := open(t)
	ctx := context.Background()
	d1 := mustCreateDevice(t, s, "d1", base)
	d2 := mustCreateDevice(t, s, "d2", base)
	d3 := mustCreateDevice(t, s, "d3", base)
	for _, id := range []string{"s1", "s2", "s3"} {
		mustCreateSession(t, s, id, base)
	}

	// s1 pairs d3, then d1, then d2 at the same millisecond as d1.
	adds := []struct {
		sess, dev string
		at        time.Time
		want      error
	}{
		{"s1", "d3", base, nil},
		{"s1", "d1", base.Add(time.Second), nil},
		{"s1", "d2", base.Add(time.Second), nil},
		{"s1", "d3", base.Add(time.Hour), nil}, // again: no error, keeps its first time
		{"s2", "d1", base, nil},
		{"s3", "d1", base.Add(-time.Minute), nil},
		{"s1", "no-such-device", base, store.ErrNotFound},
		{"no-such-session", "d1", base, store.ErrNotFound},
	}
	for _, a := range adds {
		t.Run(fmt.Sprintf("add %s %s", a.sess, a.dev), func(t *testing.T) {
			checkErr(t, s.AddPairing(ctx, a.sess, a.dev, a.at), a.want)
		})
	}

	t.Run("is paired", func(t *testing.T) {
		tests := []struct {
			sess, dev string
			want      bool
		}{
			{"s1", "d1", true}, {"s1", "d3", true}, {"s2", "d1", true},
			{"s2", "d2", false}, {"nope", "d1", false}, {"s1", "nope", false},
		}
		for _, tt := range tests {
			got, err := s.IsPaired(ctx, tt.sess, tt.dev)
			if err != nil || got != tt.want {
				t.Errorf("IsPaired(%s, %s) = %v, %v; want %v", tt.sess, tt.dev, got, err, tt.want)
			}
		}
	})

	t.Run("paired devices", func(t *testing.T) {
		got, err := s.PairedDevices(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Device{d3, d1, d2}
		if len(got) != len(want) {
			t.Fatalf("PairedDevices = %v, want %v", got, want)
		}
		for i := range want {
			if !sameDevice(got[i], want[i]) {
				t.Errorf("PairedDevices[%d] = %+v, want %+v", i, got[i], want[i])
			}
		}
		none, err := s.PairedDevices(ctx, "nope")
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("PairedDevices(unknown) = %#v, %v; want empty", none, err)
		}
	})

	t.Run("paired sessions", func(t *testing.T) {
		got, err := s.PairedSessions(ctx, "d1")
		if err != nil || !slices.Equal(got, []string{"s3", "s2", "s1"}) {
			t.Errorf("PairedSessions(d1) = %v, %v; want [s3 s2 s1]", got, err)
		}
		none, err := s.PairedSessions(ctx, "nope")
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("PairedSessions(unknown) = %#v, %v; want empty", none, err)
		}
	})

	t.Run("unpair", func(t *testing.T) {
		checkErr(t, s.RemovePairing(ctx, "s1", "d3"), nil)
		checkErr(t, s.RemovePairing(ctx, "s1", "d3"), store.ErrNotFound)
		checkErr(t, s.RemovePairing(ctx, "s2", "d2"), store.ErrNotFound)
		if ok, _ := s.IsPaired(ctx, "s1", "d3"); ok {
			t.Error("s1, d3 still paired after RemovePairing")
		}
	})

	t.Run("unpair all", func(t *testing.T) {
		got, err := s.RemoveDevicePairings(ctx, "d1")
		if err != nil || !slices.Equal(got, []string{"s1", "s2", "s3"}) {
			t.Fatalf("RemoveDevicePairings(d1) = %v, %v; want [s1 s2 s3]", got, err)
		}
		left, err := s.PairedSessions(ctx, "d1")
		if err != nil || len(left) != 0 {
			t.Errorf("PairedSessions(d1) after removal = %v, %v; want empty", left, err)
		}
		if ok, _ := s.IsPaired(ctx, "s1", "d2"); !ok {
			t.Error("s1, d2 lost its pairing")
		}
		again, err := s.RemoveDevicePairings(ctx, "d1")
		if err != nil || len(again) != 0 {
			t.Errorf("second RemoveDevicePairings = %v, %v; want empty", again, err)
		}
	})
}

// testUnpairDeletesEmptySessions: a session left without pairings goes,
// one still paired or never paired stays.
func testUnpairDeletesEmptySessions(t *testing.T, open Open) {
	s, _ := open(t)
	ctx := context.Background()
	for _, d := range []string{"d1", "d2", "d3"} {
		mustCreateDevice(t, s, d, base)
	}
	for _, id := range []string{"s1", "s2", "s3", "new"} {
		mustCreateSession(t, s, id, base)
	}
	mustPair(t, s, "s1", "d1")
	mustPair(t, s, "s1", "d2")
	mustPair(t, s, "s2", "d1")
	mustPair(t, s, "s3", "d1")
	mustPair(t, s, "s3", "d3")

	if err := s.RemovePairing(ctx, "s1", "d1"); err != nil {
		t.Fatal(err)
	}
	if !sessionExists(t, s, "s1") {
		t.Fatal("s1 deleted while still paired with d2")
	}
	if err := s.RemovePairing(ctx, "s1", "d2"); err != nil {
		t.Fatal(err)
	}
	if sessionExists(t, s, "s1") {
		t.Error("s1 kept after its last pairing was removed")
	}
	// A session with no pairing yet (a pairing in progress) is not deleted
	// by a removal that finds nothing.
	if err := s.RemovePairing(ctx, "new", "d1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RemovePairing(unpaired) = %v, want ErrNotFound", err)
	}
	if !sessionExists(t, s, "new") {
		t.Error("a failed removal deleted the session")
	}

	ids, err := s.RemoveDevicePairings(ctx, "d1")
	if err != nil || !slices.Equal(ids, []string{"s2", "s3"}) {
		t.Fatalf("RemoveDevicePairings(d1) = %v, %v; want [s2 s3]", ids, err)
	}
	if sessionExists(t, s, "s2") {
		t.Error("s2 kept without pairings")
	}
	if !sessionExists(t, s, "s3") {
		t.Error("s3 deleted while still paired with d3")
	}
	if ok, err := s.IsPaired(ctx, "s3", "d3"); err != nil || !ok {
		t.Errorf("s3-d3 pairing = %v, %v", ok, err)
	}
}
