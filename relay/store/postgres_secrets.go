package store

import (
	"context"
	"fmt"
)

// SharedKey returns the secret named name, creating it first if missing.
// The INSERT … ON CONFLICT DO NOTHING waits for a concurrent insert of the
// same name to commit, and the read that follows is a statement of its
// own, so it sees whichever row won: every node gets the same bytes.
func (p *PostgreSQL) SharedKey(ctx context.Context, name string) ([]byte, error) {
	if name == "" {
		return nil, fmt.Errorf("shared key: empty name")
	}
	fresh, err := newSecret()
	if err != nil {
		return nil, err
	}
	if _, err := p.exec(ctx, "create shared key",
		`INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, err
	}
	var key []byte
	if err := p.queryRow(ctx, "read shared key", `SELECT value FROM secrets WHERE name = $1`, []any{name}, &key); err != nil {
		return nil, err
	}
	return key, nil
}
