// Package storetest is the conformance suite of store.Store: behavioural
// tests that every implementation (SQLite, PostgreSQL) must pass alike,
// written against the interface only. Run it from an implementation's
// tests:
//
//	func TestConformance(t *testing.T) { storetest.Run(t, openMine) }
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tether-desktop/tether/relay/store"
)

// Open opens a store on fresh, empty storage for t and returns it with a
// function that opens one more store on the same storage, as a second relay
// node (or process) would. Every store it opens must be closed when t ends
// (t.Cleanup); closing one twice must be harmless.
type Open func(t *testing.T) (s store.Store, another func() store.Store)

// Clocked is the part of a store the idle-session tests need: a clock the
// test sets (store.SQLite and store.PostgreSQL have it).
type Clocked interface {
	SetClock(now func() time.Time)
}

// Run runs the whole suite against the stores open opens, each test on
// fresh storage. It blocks until every test is done.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, Open)
	}{
		{"Devices", testDevices},
		{"Sessions", testSessions},
		{"PairingCodes", testPairingCodes},
		{"PairingAttempts", testPairingAttempts},
		{"Pairings", testPairings},
		{"UnpairDeletesEmptySessions", testUnpairDeletesEmptySessions},
		{"PairingRecords", testPairingRecords},
		{"PairingRemoveByID", testPairingRemoveByID},
		{"PairingLastSeen", testPairingLastSeen},
		{"SessionIdleExpiry", testSessionIdleExpiry},
		{"DeleteNeverConnectedDevices", testDeleteNeverConnectedDevices},
		{"SecondHandleSeesEverything", testSecondHandle},
		{"RaceForOneCode", testRaceForOneCode},
		{"RaceForAttempts", testRaceForAttempts},
		{"SharedKey", testSharedKey},
		{"ConcurrentWriters", testConcurrentWriters},
		{"CanceledContext", testCanceledContext},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// base is an instant with a sub-millisecond part, to check that times come
// back at millisecond precision. It is the start of the run rather than a
// fixed date, so that sessions created at base never look idle by the wall
// clock SessionByToken reads.
var base = time.Now().UTC().Truncate(time.Second).Add(123_456_789)

// hash stands for the hash of a secret: the store keeps what it is given.
func hash(s string) []byte { return []byte("h:" + s) }

func mustCreateDevice(t *testing.T, s store.Store, id string, created time.Time) store.Device {
	t.Helper()
	d := store.Device{ID: id, Name: "name-" + id, OS: "linux", CreatedAt: created}
	if err := s.CreateDevice(context.Background(), d, hash("dev-"+id)); err != nil {
		t.Fatalf("CreateDevice(%s): %v", id, err)
	}
	d.CreatedAt = created.Truncate(time.Millisecond)
	return d
}

// mustCreateSession creates session id (token hash("sess-"+id)) created and
// last used at at.
func mustCreateSession(t *testing.T, s store.Store, id string, at time.Time) store.Session {
	t.Helper()
	sess := store.Session{ID: id, Label: "label-" + id, CreatedAt: at}
	if err := s.CreateSession(context.Background(), sess, hash("sess-"+id)); err != nil {
		t.Fatalf("CreateSession(%s): %v", id, err)
	}
	sess.CreatedAt = at.Truncate(time.Millisecond)
	return sess
}

func mustPair(t *testing.T, s store.Store, sess, dev string) {
	t.Helper()
	if err := s.AddPairing(context.Background(), sess, dev, base); err != nil {
		t.Fatalf("AddPairing(%s, %s): %v", sess, dev, err)
	}
}

// sessionExists says whether session id's token still finds it (a lookup,
// which may mark it used).
func sessionExists(t *testing.T, s store.Store, id string) bool {
	t.Helper()
	_, err := s.SessionByToken(context.Background(), hash("sess-"+id))
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrNotFound):
		return false
	}
	t.Fatalf("SessionByToken(%s): %v", id, err)
	return false
}

func sameDevice(a, b store.Device) bool {
	return a.ID == b.ID && a.Name == b.Name && a.OS == b.OS &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastSeen.Equal(b.LastSeen)
}

// errAny stands for "an error that is not one of the package's sentinels".
var errAny = errors.New("any other error")

func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want == errAny:
		if err == nil {
			t.Fatal("succeeded, want an error")
		}
		for _, e := range []error{store.ErrNotFound, store.ErrConflict, store.ErrExpired, store.ErrUnavailable} {
			if errors.Is(err, e) {
				t.Fatalf("error %v is %v, want none of the sentinels", err, e)
			}
		}
	case want != nil && !errors.Is(err, want):
		t.Fatalf("error = %v, want %v", err, want)
	}
}
