package store

import (
	"context"
	"crypto/rand"
	"fmt"
)

// newSecret returns SharedKeySize random bytes.
func newSecret() ([]byte, error) {
	b := make([]byte, SharedKeySize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("make a secret: %w", err)
	}
	return b, nil
}

// SharedKey returns the secret named name, creating it first if missing:
// an INSERT that keeps an existing row, then a read, so that of several
// callers at once every one reads the row the first wrote. See Store.
func (s *SQLite) SharedKey(ctx context.Context, name string) ([]byte, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	if name == "" {
		return nil, fmt.Errorf("shared key: empty name")
	}
	fresh, err := newSecret()
	if err != nil {
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, s.mapErr(ctx, "create shared key", err)
	}
	var key []byte
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&key); err != nil {
		return nil, s.mapErr(ctx, "read shared key", err)
	}
	return key, nil
}
