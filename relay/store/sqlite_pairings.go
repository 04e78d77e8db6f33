package store

import (
	"context"
	"database/sql"
	"time"
)

// pairingColumns are the columns scanPairing reads, of pairings p.
const pairingColumns = `p.id, p.session_id, p.device_id, p.name, p.address, p.created_at, p.last_seen`

// scanPairing reads the columns of pairingColumns.
func scanPairing(row interface{ Scan(...any) error }) (Pairing, error) {
	var (
		p        Pairing
		created  int64
		lastSeen sql.NullInt64
	)
	if err := row.Scan(&p.ID, &p.SessionID, &p.DeviceID, &p.Name, &p.Address, &created, &lastSeen); err != nil {
		return Pairing{}, err
	}
	p.CreatedAt = fromMS(created)
	if lastSeen.Valid {
		p.LastSeen = fromMS(lastSeen.Int64)
	}
	return p, nil
}

// RecordPairing pairs p.SessionID and p.DeviceID (see Store), in one
// transaction: the existing pairing of the two wins over p.
func (s *SQLite) RecordPairing(ctx context.Context, p Pairing) (Pairing, bool, error) {
	if s.closed.Load() {
		return Pairing{}, false, errClosed
	}
	if p.ID == "" {
		p.ID = newPairingID()
	}
	var (
		out     Pairing
		created bool
	)
	err := s.inTx(ctx, "record pairing", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT OR IGNORE INTO pairings (id, session_id, device_id, name, address, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			p.ID, p.SessionID, p.DeviceID, p.Name, p.Address, ms(p.CreatedAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		created = n == 1
		out, err = scanPairing(tx.QueryRowContext(ctx,
			`SELECT `+pairingColumns+` FROM pairings p WHERE p.session_id = ? AND p.device_id = ?`, p.SessionID, p.DeviceID))
		return err
	})
	if err != nil {
		return Pairing{}, false, err
	}
	return out, created, nil
}

// DevicePairings lists the pairings of a device, oldest first. An unknown
// device has none.
func (s *SQLite) DevicePairings(ctx context.Context, deviceID string) ([]Pairing, error) {
	return s.pairings(ctx, "device pairings", `p.device_id = ?`, deviceID)
}

// SessionPairings lists the pairings of a session, oldest first. An unknown
// session has none.
func (s *SQLite) SessionPairings(ctx context.Context, sessionID string) ([]Pairing, error) {
	return s.pairings(ctx, "session pairings", `p.session_id = ?`, sessionID)
}

// pairings lists the pairings matching where (on pairings p), oldest first.
func (s *SQLite) pairings(ctx context.Context, op, where string, arg any) ([]Pairing, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+pairingColumns+` FROM pairings p WHERE `+where+` ORDER BY p.created_at, p.rowid`, arg)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	defer rows.Close()
	out := []Pairing{}
	for rows.Next() {
		p, err := scanPairing(rows)
		if err != nil {
			return nil, s.mapErr(ctx, op, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return out, nil
}

// RemovePairingByID unpairs the pairing id of deviceID and returns its
// session, deleting the session when it has no pairing left, in one
// transaction; ErrNotFound when deviceID has no pairing id.
func (s *SQLite) RemovePairingByID(ctx context.Context, deviceID, id string) (string, error) {
	if s.closed.Load() {
		return "", errClosed
	}
	var session string
	err := s.inTx(ctx, "remove pairing "+id, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			`DELETE FROM pairings WHERE id = ? AND device_id = ? RETURNING session_id`, id, deviceID).Scan(&session)
		if err == sql.ErrNoRows {
			return s.mapErr(ctx, "remove pairing "+id, err)
		}
		if err != nil {
			return err
		}
		return deleteUnpairedSessions(ctx, tx, []string{session})
	})
	return session, err
}

// TouchPairings records that session was seen at t on its pairing with
// deviceID, or on all of them when deviceID is "". Times never go back.
func (s *SQLite) TouchPairings(ctx context.Context, sessionID, deviceID string, t time.Time) error {
	if s.closed.Load() {
		return errClosed
	}
	_, err := s.db.ExecContext(ctx,
		`UPDATE pairings SET last_seen = ?1 WHERE session_id = ?2 AND (?3 = '' OR device_id = ?3)
		 AND (last_seen IS NULL OR last_seen < ?1)`, ms(t), sessionID, deviceID)
	return s.mapErr(ctx, "touch pairings", err)
}
