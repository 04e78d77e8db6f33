package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/relay/store"
)

// testPairingRecords: a pairing keeps its name, address and time, gets a
// random id that is neither the session's id nor its token hash, and a
// second pairing of the same two keeps the first record.
func testPairingRecords(t *testing.T, open Open) {
	s, another := open(t)
	ctx := context.Background()
	mustCreateDevice(t, s, "d1", base)
	mustCreateDevice(t, s, "d2", base)
	mustCreateSession(t, s, "s1", base)
	mustCreateSession(t, s, "s2", base)

	p1, created, err := s.RecordPairing(ctx, store.Pairing{SessionID: "s1", DeviceID: "d1",
		Name: "Chrome on Android", Address: "192.0.2.7", CreatedAt: base})
	if err != nil || !created {
		t.Fatalf("RecordPairing(s1, d1) = %+v, %v, %v; want created", p1, created, err)
	}
	if !strings.HasPrefix(p1.ID, "p_") || len(p1.ID) < 20 || strings.Contains(p1.ID, "s1") {
		t.Errorf("pairing id %q: want a random p_… id unrelated to the session", p1.ID)
	}
	want := store.Pairing{ID: p1.ID, SessionID: "s1", DeviceID: "d1", Name: "Chrome on Android",
		Address: "192.0.2.7", CreatedAt: base.Truncate(time.Millisecond)}
	if p1 != want {
		t.Errorf("RecordPairing stored %+v, want %+v", p1, want)
	}
	again, created, err := s.RecordPairing(ctx, store.Pairing{SessionID: "s1", DeviceID: "d1",
		Name: "Firefox on Linux", Address: "198.51.100.1", CreatedAt: base.Add(time.Hour)})
	if err != nil || created || again != want {
		t.Errorf("second RecordPairing(s1, d1) = %+v, %v, %v; want the first one, not created", again, created, err)
	}
	p2, _, err := s.RecordPairing(ctx, store.Pairing{SessionID: "s1", DeviceID: "d2", Name: "Chrome on Android", CreatedAt: base.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	p3, _, err := s.RecordPairing(ctx, store.Pairing{SessionID: "s2", DeviceID: "d1", Name: "curl", CreatedAt: base.Add(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if p1.ID == p2.ID || p1.ID == p3.ID {
		t.Errorf("pairing ids repeat: %s %s %s", p1.ID, p2.ID, p3.ID)
	}
	// The legacy AddPairing makes a pairing with an id too (at base: first).
	mustCreateSession(t, s, "s3", base)
	mustPair(t, s, "s3", "d2")

	other := another()
	got, err := other.DevicePairings(ctx, "d1")
	if err != nil || len(got) != 2 || got[0] != want || got[1].ID != p3.ID || got[1].Name != "curl" {
		t.Errorf("DevicePairings(d1) = %+v, %v; want [%s %s]", got, err, p1.ID, p3.ID)
	}
	got, err = other.DevicePairings(ctx, "d2")
	if err != nil || len(got) != 2 || got[1].ID != p2.ID || !strings.HasPrefix(got[0].ID, "p_") || got[0].SessionID != "s3" {
		t.Errorf("DevicePairings(d2) = %+v, %v", got, err)
	}
	got, err = other.SessionPairings(ctx, "s1")
	if err != nil || len(got) != 2 || got[0].DeviceID != "d1" || got[1].DeviceID != "d2" {
		t.Errorf("SessionPairings(s1) = %+v, %v; want d1 then d2", got, err)
	}
	for _, q := range []func() ([]store.Pairing, error){
		func() ([]store.Pairing, error) { return other.DevicePairings(ctx, "nope") },
		func() ([]store.Pairing, error) { return other.SessionPairings(ctx, "nope") },
	} {
		if none, err := q(); err != nil || none == nil || len(none) != 0 {
			t.Errorf("pairings of an unknown id = %#v, %v; want an empty list", none, err)
		}
	}
	_, _, err = s.RecordPairing(ctx, store.Pairing{SessionID: "s1", DeviceID: "nope", CreatedAt: base})
	checkErr(t, err, store.ErrNotFound)
}

// testPairingRemoveByID: a pairing is removed by its id only on its own
// device; the session goes with its last pairing.
func testPairingRemoveByID(t *testing.T, open Open) {
	s, _ := open(t)
	ctx := context.Background()
	mustCreateDevice(t, s, "d1", base)
	mustCreateDevice(t, s, "d2", base)
	mustCreateSession(t, s, "s1", base)
	mustCreateSession(t, s, "s2", base)
	rec := func(sess, dev string) store.Pairing {
		p, _, err := s.RecordPairing(ctx, store.Pairing{SessionID: sess, DeviceID: dev, CreatedAt: base})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p11, p12, p21 := rec("s1", "d1"), rec("s1", "d2"), rec("s2", "d1")

	_, err := s.RemovePairingByID(ctx, "d2", p11.ID) // another device's pairing
	checkErr(t, err, store.ErrNotFound)
	_, err = s.RemovePairingByID(ctx, "d1", "p_unknown")
	checkErr(t, err, store.ErrNotFound)

	if sess, err := s.RemovePairingByID(ctx, "d1", p11.ID); err != nil || sess != "s1" {
		t.Fatalf("RemovePairingByID(d1, %s) = %q, %v; want s1", p11.ID, sess, err)
	}
	_, err = s.RemovePairingByID(ctx, "d1", p11.ID)
	checkErr(t, err, store.ErrNotFound)
	if ok, _ := s.IsPaired(ctx, "s1", "d1"); ok {
		t.Error("s1 still paired with d1")
	}
	if !sessionExists(t, s, "s1") {
		t.Error("s1 was deleted although it is still paired with d2")
	}
	if sess, err := s.RemovePairingByID(ctx, "d2", p12.ID); err != nil || sess != "s1" {
		t.Fatalf("RemovePairingByID(d2, %s) = %q, %v", p12.ID, sess, err)
	}
	if sessionExists(t, s, "s1") {
		t.Error("s1 outlived its last pairing")
	}
	if ok, _ := s.IsPaired(ctx, "s2", "d1"); !ok {
		t.Errorf("s2's pairing %s went too", p21.ID)
	}
}

// testPairingLastSeen: TouchPairings marks one pairing or all of a
// session's, and never moves a time back.
func testPairingLastSeen(t *testing.T, open Open) {
	s, _ := open(t)
	ctx := context.Background()
	mustCreateDevice(t, s, "d1", base)
	mustCreateDevice(t, s, "d2", base)
	mustCreateSession(t, s, "s1", base)
	mustPair(t, s, "s1", "d1")
	mustPair(t, s, "s1", "d2")
	seen := func(dev string) time.Time {
		t.Helper()
		ps, err := s.DevicePairings(ctx, dev)
		if err != nil || len(ps) != 1 {
			t.Fatalf("DevicePairings(%s) = %+v, %v", dev, ps, err)
		}
		return ps[0].LastSeen
	}
	if !seen("d1").IsZero() {
		t.Errorf("a new pairing was seen at %v, want never", seen("d1"))
	}
	t1, t2 := base.Add(time.Minute), base.Add(2*time.Minute)
	checkErr(t, s.TouchPairings(ctx, "s1", "", t1), nil)
	if !seen("d1").Equal(t1.Truncate(time.Millisecond)) || !seen("d2").Equal(t1.Truncate(time.Millisecond)) {
		t.Errorf("after touching all: seen %v and %v, want %v", seen("d1"), seen("d2"), t1)
	}
	checkErr(t, s.TouchPairings(ctx, "s1", "d2", t2), nil)
	if !seen("d1").Equal(t1.Truncate(time.Millisecond)) || !seen("d2").Equal(t2.Truncate(time.Millisecond)) {
		t.Errorf("after touching d2: seen %v and %v, want %v and %v", seen("d1"), seen("d2"), t1, t2)
	}
	checkErr(t, s.TouchPairings(ctx, "s1", "", base), nil)
	if !seen("d2").Equal(t2.Truncate(time.Millisecond)) {
		t.Errorf("an older time moved last seen back to %v", seen("d2"))
	}
	checkErr(t, s.TouchPairings(ctx, "nope", "", t2), nil)
}
