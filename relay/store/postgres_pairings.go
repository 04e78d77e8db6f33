package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgScanPairing reads the columns of pairingColumns.
func pgScanPairing(row pgx.Row) (Pairing, error) {
	var (
		p        Pairing
		lastSeen *time.Time
	)
	if err := row.Scan(&p.ID, &p.SessionID, &p.DeviceID, &p.Name, &p.Address, &p.CreatedAt, &lastSeen); err != nil {
		return Pairing{}, err
	}
	p.CreatedAt = p.CreatedAt.UTC()
	if lastSeen != nil {
		p.LastSeen = lastSeen.UTC()
	}
	return p, nil
}

// RecordPairing pairs p.SessionID and p.DeviceID (see Store), in one
// transaction: the existing pairing of the two wins over p.
func (p *PostgreSQL) RecordPairing(ctx context.Context, in Pairing) (Pairing, bool, error) {
	if in.ID == "" {
		in.ID = newPairingID()
	}
	var (
		out     Pairing
		created bool
	)
	err := p.inTx(ctx, "record pairing", func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`INSERT INTO pairings (id, session_id, device_id, name, address, created_at) VALUES ($1, $2, $3, $4, $5, $6)
			 ON CONFLICT (session_id, device_id) DO NOTHING`,
			in.ID, in.SessionID, in.DeviceID, in.Name, in.Address, pgMS(in.CreatedAt))
		if err != nil {
			return err
		}
		created = tag.RowsAffected() == 1
		out, err = pgScanPairing(tx.QueryRow(ctx,
			`SELECT `+pairingColumns+` FROM pairings p WHERE p.session_id = $1 AND p.device_id = $2`, in.SessionID, in.DeviceID))
		return err
	})
	if err != nil {
		return Pairing{}, false, err
	}
	return out, created, nil
}

// DevicePairings lists the pairings of a device, oldest first. An unknown
// device has none.
func (p *PostgreSQL) DevicePairings(ctx context.Context, deviceID string) ([]Pairing, error) {
	return p.pairings(ctx, "device pairings", `p.device_id = $1`, deviceID)
}

// SessionPairings lists the pairings of a session, oldest first. An unknown
// session has none.
func (p *PostgreSQL) SessionPairings(ctx context.Context, sessionID string) ([]Pairing, error) {
	return p.pairings(ctx, "session pairings", `p.session_id = $1`, sessionID)
}

// pairings lists the pairings matching where (on pairings p), oldest first.
func (p *PostgreSQL) pairings(ctx context.Context, op, where string, arg any) ([]Pairing, error) {
	cctx, cancel, err := p.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	rows, err := p.pool.Query(cctx,
		`SELECT `+pairingColumns+` FROM pairings p WHERE `+where+` ORDER BY p.created_at, p.seq`, arg)
	if err != nil {
		return nil, p.mapErr(ctx, op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Pairing, error) { return pgScanPairing(r) })
	if err != nil {
		return nil, p.mapErr(ctx, op, err)
	}
	if out == nil {
		out = []Pairing{}
	}
	return out, nil
}

// RemovePairingByID unpairs the pairing id of deviceID and returns its
// session, deleting the session when it has no pairing left, in one
// transaction; ErrNotFound when deviceID has no pairing id.
func (p *PostgreSQL) RemovePairingByID(ctx context.Context, deviceID, id string) (string, error) {
	var session string
	err := p.inTx(ctx, "remove pairing "+id, func(ctx context.Context, tx pgx.Tx) error {
		err := tx.QueryRow(ctx,
			`DELETE FROM pairings WHERE id = $1 AND device_id = $2 RETURNING session_id`, id, deviceID).Scan(&session)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return pgDeleteUnpairedSessions(ctx, tx, []string{session})
	})
	return session, err
}

// TouchPairings records that session was seen at t on its pairing with
// deviceID, or on all of them when deviceID is "". Times never go back.
func (p *PostgreSQL) TouchPairings(ctx context.Context, sessionID, deviceID string, t time.Time) error {
	_, err := p.exec(ctx, "touch pairings",
		`UPDATE pairings SET last_seen = $1 WHERE session_id = $2 AND ($3 = '' OR device_id = $3)
		 AND (last_seen IS NULL OR last_seen < $1)`, pgMS(t), sessionID, deviceID)
	return err
}
