package store

import (
	"context"
	"fmt"
	"time"
)

// SetClock makes the store read the time from now wherever it needs the
// current time itself (the idle check of SessionByToken) instead of from
// time.Now, as SQLite.SetClock does. Safe to call at any time, concurrently
// with lookups.
func (p *PostgreSQL) SetClock(now func() time.Time) {
	if now == nil {
		p.clock.Store(nil)
		return
	}
	p.clock.Store(&now)
}

// now returns the current time by the store's clock.
func (p *PostgreSQL) now() time.Time {
	if f := p.clock.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// SessionByToken returns the session whose token hashes to tokenHash, or
// ErrNotFound; a session unused for longer than SessionIdleTTL is
// ErrNotFound too (the error also matches ErrExpired). A session last used
// more than sessionTouchEvery ago is marked used now; that write is best
// effort and does not fail the lookup.
func (p *PostgreSQL) SessionByToken(ctx context.Context, tokenHash []byte) (Session, error) {
	var (
		sess     Session
		lastUsed time.Time
	)
	err := p.queryRow(ctx, "session by token",
		`SELECT id, label, created_at, last_used FROM sessions WHERE token_hash = $1`,
		[]any{tokenHash}, &sess.ID, &sess.Label, &sess.CreatedAt, &lastUsed)
	if err != nil {
		return Session{}, err
	}
	sess.CreatedAt = sess.CreatedAt.UTC()
	now := p.now()
	if lastUsed.Before(now.Add(-SessionIdleTTL)) {
		return Session{}, fmt.Errorf("store: session by token: unused since %s: %w: %w",
			lastUsed.UTC().Format(time.RFC3339), ErrNotFound, ErrExpired)
	}
	if now.Sub(lastUsed) > sessionTouchEvery {
		_, _ = p.exec(ctx, "mark session used",
			`UPDATE sessions SET last_used = $1 WHERE id = $2 AND last_used < $1`, pgMS(now), sess.ID)
	}
	return sess, nil
}

// ExpireIdleSessions deletes the sessions last used before idleSince, with
// their pairings, and says how many.
func (p *PostgreSQL) ExpireIdleSessions(ctx context.Context, idleSince time.Time) (int, error) {
	n, err := p.exec(ctx, "expire idle sessions", `DELETE FROM sessions WHERE last_used < $1`, pgMS(idleSince))
	return int(n), err
}
