package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SessionIdleTTL is how long a session may go unused: SessionByToken refuses
// one idle for longer, and the relay's sweep deletes it (ExpireIdleSessions).
// It equals the session cookie's default lifetime, so a browser that kept its
// cookie never meets it, while a token stolen from a forgotten script stops
// working.
const SessionIdleTTL = 90 * 24 * time.Hour

// sessionTouchEvery is how stale a session's last use may be before a lookup
// writes the new time: at most one write a session per period, not one per
// request.
const sessionTouchEvery = time.Hour

// SetClock makes the store read the time from now wherever it needs the
// current time itself (the idle check of SessionByToken) instead of from
// time.Now: the relay passes its own clock, so that its tests' fake time and
// the store agree. Safe to call at any time, concurrently with lookups.
func (s *SQLite) SetClock(now func() time.Time) {
	if now == nil {
		s.clock.Store(nil)
		return
	}
	s.clock.Store(&now)
}

// now returns the current time by the store's clock.
func (s *SQLite) now() time.Time {
	if f := s.clock.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// checkIdle refuses a session last used before SessionIdleTTL ago, and marks
// one last used more than sessionTouchEvery ago as used now. The mark is best
// effort: a failure (a busy database) only means the next lookup tries again,
// so it does not fail the lookup.
func (s *SQLite) checkIdle(ctx context.Context, id string, lastUsed time.Time) error {
	now := s.now()
	if lastUsed.Before(now.Add(-SessionIdleTTL)) {
		return fmt.Errorf("store: session by token: unused since %s: %w: %w",
			lastUsed.Format(time.RFC3339), ErrNotFound, ErrExpired)
	}
	if now.Sub(lastUsed) > sessionTouchEvery {
		_, _ = s.db.ExecContext(ctx, `UPDATE sessions SET last_used = ? WHERE id = ? AND last_used < ?`,
			ms(now), id, ms(now))
	}
	return nil
}

// ExpireIdleSessions deletes the sessions last used before idleSince, with
// their pairings, and says how many. It blocks on the database.
func (s *SQLite) ExpireIdleSessions(ctx context.Context, idleSince time.Time) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE last_used < ?`, ms(idleSince))
	if err != nil {
		return 0, s.mapErr(ctx, "expire idle sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.mapErr(ctx, "expire idle sessions", err)
	}
	return int(n), nil
}

// DeleteNeverConnectedDevices deletes the devices created before olderThan
// that never connected (no last_seen), with their pairing codes and
// pairings, and the sessions that were paired with nothing else; it says how
// many devices went. It blocks on the database and runs as one transaction.
func (s *SQLite) DeleteNeverConnectedDevices(ctx context.Context, olderThan time.Time) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	var n int64
	err := s.inTx(ctx, "delete never-connected devices", func(tx *sql.Tx) error {
		sessions, err := queryStrings(ctx, tx,
			`SELECT DISTINCT p.session_id FROM pairings p JOIN devices d ON d.id = p.device_id
			 WHERE d.last_seen IS NULL AND d.created_at < ?`, ms(olderThan))
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE last_seen IS NULL AND created_at < ?`, ms(olderThan))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		return deleteUnpairedSessions(ctx, tx, sessions)
	})
	return int(n), err
}

// deleteUnpairedSessions deletes those of ids that have no pairing left.
func deleteUnpairedSessions(ctx context.Context, tx *sql.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx,
		`DELETE FROM sessions WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM pairings WHERE session_id = ?1)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, id := range ids {
		if _, err := st.ExecContext(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// inTx runs fn in one write transaction and commits it. Errors of the
// package (ErrNotFound from fn) come back as they are; database errors are
// mapped by mapErr under op.
func (s *SQLite) inTx(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrExpired) || errors.Is(err, ErrConflict) {
			return err
		}
		return s.mapErr(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
		return s.mapErr(ctx, op, err)
	}
	return nil
}
