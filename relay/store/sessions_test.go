package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// lastUsed reads a session's last_used column, or fails t.
func lastUsed(t *testing.T, s *SQLite, id string) time.Time {
	t.Helper()
	var v int64
	if err := s.db.QueryRow(`SELECT last_used FROM sessions WHERE id = ?`, id).Scan(&v); err != nil {
		t.Fatalf("last_used of %s: %v", id, err)
	}
	return fromMS(v)
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
