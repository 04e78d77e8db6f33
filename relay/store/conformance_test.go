package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tether-desktop/tether/internal/pgtest"
	"github.com/tether-desktop/tether/relay/store"
	"github.com/tether-desktop/tether/relay/store/storetest"
)

// TestConformanceSQLite runs the store suite against SQLite files in a
// fresh data directory per test.
func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func() store.Store) {
		dir := filepath.Join(t.TempDir(), "data")
		open := func() store.Store {
			s, err := store.Open(dir)
			if err != nil {
				t.Fatalf("Open(%s): %v", dir, err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return open(), open
	})
}

// TestConformancePostgres runs the store suite against a real PostgreSQL
// 15, a fresh database per test (internal/pgtest; skipped when PostgreSQL
// is missing unless TETHER_REQUIRE_POSTGRES=1).
func TestConformancePostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func() store.Store) {
		url := pgtest.DB(t)
		open := func() store.Store {
			s, err := store.OpenPostgres(context.Background(), url)
			if err != nil {
				t.Fatalf("OpenPostgres: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return open(), open
	})
}
