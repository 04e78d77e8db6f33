package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// createSessionAt creates session id (token hash("sess-"+id)) last used at t.
func createSessionAt(t *testing.T, s *SQLite, id string, at time.Time) {
	t.Helper()
	if err := s.CreateSession(context.Background(), Session{ID: id, CreatedAt: at}, hash("sess-"+id)); err != nil {
		t.Fatalf("CreateSession(%s): %v", id, err)
	}
}

// lastUsed reads a session's last_used column, or fails t.
func lastUsed(t *testing.T, s *SQLite, id string) time.Time {
	t.Helper()
	var v int64
	if err := s.db.QueryRow(`SELECT last_used FROM sessions WHERE id = ?`, id).Scan(&v); err != nil {
		t.Fatalf("last_used of %s: %v", id, err)
	}
	return fromMS(v)
}

func sessionExists(t *testing.T, s *SQLite, id string) bool {
	t.Helper()
	var ok bool
	if err := s.db.QueryRow(`SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?)`, id).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func mustPair(t *testing.T, s *SQLite, sess, dev string) {
	t.Helper()
	if err := s.AddPairing(context.Background(), sess, dev, base); err != nil {
		t.Fatalf("AddPairing(%s, %s): %v", sess, dev, err)
	}
}

func TestSessionIdleExpiry(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	now := time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	mustCreateDevice(t, s, "d1", base)

	createSessionAt(t, s, "idle", now.Add(-SessionIdleTTL-time.Millisecond))
	createSessionAt(t, s, "edge", now.Add(-SessionIdleTTL))
	createSessionAt(t, s, "stale", now.Add(-2*sessionTouchEvery))
	createSessionAt(t, s, "fresh", now.Add(-sessionTouchEvery/2))
	mustPair(t, s, "idle", "d1")

	t.Run("lookup refuses an idle session", func(t *testing.T) {
		_, err := s.SessionByToken(ctx, hash("sess-idle"))
		if !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrExpired) {
			t.Fatalf("SessionByToken(idle) = %v, want ErrNotFound and ErrExpired", err)
		}
		if !lastUsed(t, s, "idle").Equal(now.Add(-SessionIdleTTL - time.Millisecond)) {
			t.Error("a refused lookup marked the session used")
		}
	})
	t.Run("lookup at the limit passes", func(t *testing.T) {
		if _, err := s.SessionByToken(ctx, hash("sess-edge")); err != nil {
			t.Fatalf("SessionByToken(edge) = %v", err)
		}
	})
	t.Run("lookup marks a stale session used", func(t *testing.T) {
		if _, err := s.SessionByToken(ctx, hash("sess-stale")); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(t, s, "stale"); !got.Equal(now) {
			t.Errorf("last_used = %v, want %v", got, now)
		}
	})
	t.Run("lookup does not write for a fresh session", func(t *testing.T) {
		if _, err := s.SessionByToken(ctx, hash("sess-fresh")); err != nil {
			t.Fatal(err)
		}
		if got, want := lastUsed(t, s, "fresh"), now.Add(-sessionTouchEvery/2); !got.Equal(want) {
			t.Errorf("last_used = %v, want %v (unchanged)", got, want)
		}
	})
	t.Run("sweep", func(t *testing.T) {
		n, err := s.ExpireIdleSessions(ctx, now.Add(-SessionIdleTTL))
		if err != nil || n != 1 {
			t.Fatalf("ExpireIdleSessions = %d, %v; want 1", n, err)
		}
		if sessionExists(t, s, "idle") {
			t.Error("idle session kept")
		}
		if ids, err := s.PairedSessions(ctx, "d1"); err != nil || len(ids) != 0 {
			t.Errorf("pairings of the expired session = %v, %v", ids, err)
		}
		for _, id := range []string{"edge", "stale", "fresh"} {
			if !sessionExists(t, s, id) {
				t.Errorf("session %s deleted", id)
			}
		}
		// The edge and stale sessions were marked used just now by their
		// lookups, the fresh one was not (it was used 30 min ago): a sweep
		// of everything idle for a minute takes only the fresh one.
		if n, err := s.ExpireIdleSessions(ctx, now.Add(-time.Minute)); err != nil || n != 1 {
			t.Errorf("ExpireIdleSessions(1 min) = %d, %v; want 1 (fresh)", n, err)
		}
		for id, want := range map[string]bool{"edge": true, "stale": true, "fresh": false} {
			if sessionExists(t, s, id) != want {
				t.Errorf("session %s exists = %v, want %v", id, !want, want)
			}
		}
	})
	t.Run("wall clock by default", func(t *testing.T) {
		s.SetClock(nil)
		createSessionAt(t, s, "today", time.Now())
		if _, err := s.SessionByToken(ctx, hash("sess-today")); err != nil {
			t.Errorf("SessionByToken(today) by the wall clock = %v", err)
		}
	})
}

func TestForgetDeletesSessionsWithoutPairings(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	for _, d := range []string{"d1", "d2", "d3"} {
		mustCreateDevice(t, s, d, base)
	}
	for _, id := range []string{"s1", "s2", "s3", "new"} {
		mustCreateSession(t, s, id)
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
	if _, err := s.SessionByToken(ctx, hash("sess-s1")); !errors.Is(err, ErrNotFound) {
		t.Errorf("SessionByToken after its last pairing was removed = %v, want ErrNotFound", err)
	}
	// A session that has no pairing yet (a pairing in progress) is not
	// deleted by a removal that finds nothing.
	if err := s.RemovePairing(ctx, "new", "d1"); !errors.Is(err, ErrNotFound) {
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

func TestDeleteNeverConnectedDevices(t *testing.T) {
	s, _ := openTest(t)
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
	mustCreateSession(t, s, "only-old")
	mustCreateSession(t, s, "both")
	mustPair(t, s, "only-old", "old-never")
	mustPair(t, s, "both", "old-never")
	mustPair(t, s, "both", "old-seen")

	n, err := s.DeleteNeverConnectedDevices(ctx, now.Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("DeleteNeverConnectedDevices = %d, %v; want 1", n, err)
	}
	if _, err := s.Device(ctx, "old-never"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old never-connected device: %v, want ErrNotFound", err)
	}
	if _, err := s.DeviceByToken(ctx, hash("dev-old-never")); !errors.Is(err, ErrNotFound) {
		t.Errorf("its token still works: %v", err)
	}
	if _, err := s.RedeemPairingCode(ctx, hash("c-old"), now); !errors.Is(err, ErrNotFound) {
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
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteNeverConnectedDevices(ctx, now); !errors.Is(err, ErrUnavailable) {
		t.Errorf("after Close = %v, want ErrUnavailable", err)
	}
	if _, err := s.ExpireIdleSessions(ctx, now); !errors.Is(err, ErrUnavailable) {
		t.Errorf("ExpireIdleSessions after Close = %v, want ErrUnavailable", err)
	}
}

// TestMigrationAddsLastUsed opens a database written at schema version 1 and
// checks that its sessions keep working: last_used starts at created_at.
func TestMigrationAddsLastUsed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, FileName)
	if err := prepareDir(dir, path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, options{}))
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now().Add(-time.Hour).Truncate(time.Millisecond).UTC()
	for _, q := range []string{migrations[0], "PRAGMA user_version = 1"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	if _, err := db.Exec(`INSERT INTO sessions (id, label, token_hash, created_at) VALUES ('s1', '', ?, ?)`, hash("sess-s1"), ms(created)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open of a version 1 database: %v", err)
	}
	defer s.Close()
	if got := lastUsed(t, s, "s1"); !got.Equal(created) {
		t.Errorf("last_used after migration = %v, want created_at %v", got, created)
	}
	if _, err := s.SessionByToken(context.Background(), hash("sess-s1")); err != nil {
		t.Errorf("session after migration: %v", err)
	}
}

// prepareDir makes dir and an empty database file at path, as Open would.
func prepareDir(dir, path string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return prepareFiles(path)
}
