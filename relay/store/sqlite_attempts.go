package store

import (
	"context"
	"time"
)

// CountPairingAttempt counts one attempt with the code hashing to codeHash
// in one INSERT … ON CONFLICT DO UPDATE (an upsert, atomic under SQLite's
// write lock) and returns the count of the current window and its end. See
// Store. It blocks on the database.
func (s *SQLite) CountPairingAttempt(ctx context.Context, codeHash []byte, now time.Time, window time.Duration) (int, time.Time, error) {
	if s.closed.Load() {
		return 0, time.Time{}, errClosed
	}
	var n, end int64
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO pairing_attempts (code_hash, attempts, window_end) VALUES (?1, 1, ?3)
		ON CONFLICT (code_hash) DO UPDATE SET
			attempts   = CASE WHEN window_end <= ?2 THEN 1 ELSE attempts + 1 END,
			window_end = CASE WHEN window_end <= ?2 THEN ?3 ELSE window_end END
		RETURNING attempts, window_end`,
		codeHash, ms(now), ms(now.Add(window))).Scan(&n, &end)
	if err != nil {
		return 0, time.Time{}, s.mapErr(ctx, "count pairing attempt", err)
	}
	return int(n), fromMS(end), nil
}

// DeletePairingAttempts forgets the attempt counts whose window ended at or
// before now and says how many. It blocks on the database.
func (s *SQLite) DeletePairingAttempts(ctx context.Context, now time.Time) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM pairing_attempts WHERE window_end <= ?`, ms(now))
	if err != nil {
		return 0, s.mapErr(ctx, "delete pairing attempts", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.mapErr(ctx, "delete pairing attempts", err)
	}
	return int(n), nil
}
