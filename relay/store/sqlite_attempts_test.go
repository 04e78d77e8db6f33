package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestMigrationAddsPairingAttempts opens a database written at schema
// version 2 and checks that it gains the attempt counts and keeps its rows.
func TestMigrationAddsPairingAttempts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, FileName)
	if err := prepareDir(dir, path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, options{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{migrations[0], migrations[1], "PRAGMA user_version = 2",
		`INSERT INTO devices (id, name, os, token_hash, created_at) VALUES ('d1', 'n', 'linux', X'01', 0)`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open of a version 2 database: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	if v, err := userVersion(ctx, s.db); err != nil || v != SchemaVersion() || v < 3 {
		t.Errorf("user_version = %d, %v; want %d", v, err, SchemaVersion())
	}
	if n, _, err := s.CountPairingAttempt(ctx, hash("c"), time.Now(), time.Minute); err != nil || n != 1 {
		t.Errorf("CountPairingAttempt after migration = %d, %v; want 1", n, err)
	}
	if _, err := s.Device(ctx, "d1"); err != nil {
		t.Errorf("device after migration: %v", err)
	}
}
