package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tether-desktop/tether/internal/pgtest"
)

// checkMigratedPairings checks that the pairings s1–d1 and s2–d1 made
// before the pairing records existed came through the migration with
// distinct random ids and empty names, and that new pairings still work.
func checkMigratedPairings(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	ps, err := s.DevicePairings(ctx, "d1")
	if err != nil || len(ps) != 2 {
		t.Fatalf("DevicePairings(d1) after migration = %+v, %v; want 2", ps, err)
	}
	for _, p := range ps {
		if !strings.HasPrefix(p.ID, "p_") || len(p.ID) != 26 || p.Name != "" || !p.LastSeen.IsZero() {
			t.Errorf("migrated pairing %+v: want a p_ id of 24 hex digits, no name, never seen", p)
		}
	}
	if ps[0].ID == ps[1].ID {
		t.Errorf("migrated pairings share the id %s", ps[0].ID)
	}
	if _, err := s.RemovePairingByID(ctx, "d1", ps[0].ID); err != nil {
		t.Errorf("remove a migrated pairing by id: %v", err)
	}
	if _, created, err := s.RecordPairing(ctx, Pairing{SessionID: "s2", DeviceID: "d2", Name: "curl", CreatedAt: time.Now()}); err != nil || !created {
		t.Errorf("RecordPairing after migration = %v, %v", created, err)
	}
}

// TestMigratePairingsSQLite opens a database written at schema version 4
// (before pairing records) that holds pairings.
func TestMigratePairingsSQLite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	db, err := sql.Open("sqlite", dsn(path, options{}))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range migrations[:4] {
		if _, err := db.Exec(m); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
	}
	for _, q := range []string{
		`PRAGMA user_version = 4`,
		`INSERT INTO devices (id, name, os, token_hash, created_at) VALUES ('d1', 'n', 'linux', x'01', 1), ('d2', 'n', 'linux', x'02', 1)`,
		`INSERT INTO sessions (id, label, token_hash, created_at, last_used) VALUES ('s1', '', x'03', 1, ` + strconv.FormatInt(time.Now().UnixMilli(), 10) + `), ('s2', '', x'04', 1, ` + strconv.FormatInt(time.Now().UnixMilli(), 10) + `)`,
		`INSERT INTO pairings (session_id, device_id, created_at) VALUES ('s1', 'd1', 1), ('s2', 'd1', 2)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open a version 4 database: %v", err)
	}
	defer s.Close()
	checkMigratedPairings(t, s)
}

// TestMigratePairingsPostgres does the same on PostgreSQL, from its schema
// version 2.
func TestMigratePairingsPostgres(t *testing.T) {
	url := pgtest.DB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range pgMigrations[:2] {
		if _, err := conn.Exec(ctx, m); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
	}
	for _, q := range []string{
		`CREATE TABLE tether_schema (one boolean NOT NULL PRIMARY KEY DEFAULT true CHECK (one), version integer NOT NULL)`,
		`INSERT INTO tether_schema (version) VALUES (2)`,
		`INSERT INTO devices (id, name, os, token_hash, created_at) VALUES ('d1', 'n', 'linux', '\x01', now()), ('d2', 'n', 'linux', '\x02', now())`,
		`INSERT INTO sessions (id, label, token_hash, created_at, last_used) VALUES ('s1', '', '\x03', now(), now()), ('s2', '', '\x04', now(), now())`,
		`INSERT INTO pairings (session_id, device_id, created_at) VALUES ('s1', 'd1', now()), ('s2', 'd1', now() + interval '1 second')`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close(ctx)
	s := openPostgresTest(t, url, pgOptions{})
	checkMigratedPairings(t, s)
}
