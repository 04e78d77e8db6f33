package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgTimeout is how long one call of the PostgreSQL store may wait for the
// server (connecting included) before it fails with ErrUnavailable, unless
// the caller's context ends first.
const pgTimeout = 5 * time.Second

// pgMigrationLock is the key of the transaction-scoped advisory lock that
// migrations run under, so that relay nodes starting at once apply each step
// exactly once. Advisory locks are per database; the value is arbitrary but
// fixed ("tether" in ASCII).
const pgMigrationLock int64 = 0x746574686572

// pgMigrations are the PostgreSQL schema steps, in order: step i brings
// tether_schema.version to i+1. Never edit a released step: append one. The
// tables mirror the SQLite ones (migrations in sqlite.go) with PostgreSQL
// types: timestamptz at millisecond precision, bytea hashes, and an identity
// column in pairings standing for SQLite's rowid (the insertion order).
var pgMigrations = []string{
	// 1: the schema of SQLite version 3.
	`
CREATE TABLE devices (
	id         text        NOT NULL PRIMARY KEY,
	name       text        NOT NULL,
	os         text        NOT NULL,
	token_hash bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) > 0),
	created_at timestamptz NOT NULL,
	last_seen  timestamptz            -- NULL until the device first connects
);
CREATE INDEX devices_never_connected ON devices (created_at) WHERE last_seen IS NULL;

CREATE TABLE sessions (
	id         text        NOT NULL PRIMARY KEY,
	label      text        NOT NULL,
	token_hash bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) > 0),
	created_at timestamptz NOT NULL,
	last_used  timestamptz NOT NULL
);
CREATE INDEX sessions_by_last_used ON sessions (last_used);

CREATE TABLE pairings (
	session_id text        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	device_id  text        NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL,
	seq        bigint      GENERATED ALWAYS AS IDENTITY,
	PRIMARY KEY (session_id, device_id)
);
CREATE INDEX pairings_by_device ON pairings (device_id);

CREATE TABLE pairing_codes (
	code_hash  bytea       NOT NULL PRIMARY KEY CHECK (octet_length(code_hash) > 0),
	device_id  text        NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	expires_at timestamptz NOT NULL
);
CREATE INDEX pairing_codes_by_expiry ON pairing_codes (expires_at);
CREATE INDEX pairing_codes_by_device ON pairing_codes (device_id);

CREATE TABLE pairing_attempts (
	code_hash  bytea       NOT NULL PRIMARY KEY CHECK (octet_length(code_hash) > 0),
	attempts   integer     NOT NULL,
	window_end timestamptz NOT NULL
);
CREATE INDEX pairing_attempts_by_end ON pairing_attempts (window_end);
`,
	// 2: named secrets shared by every node (SharedKey).
	`
CREATE TABLE secrets (
	name  text  NOT NULL PRIMARY KEY CHECK (length(name) > 0),
	value bytea NOT NULL CHECK (octet_length(value) > 0)
);
`,
	// 3: SQLite's version 5: a pairing's own id, name, address and last
	// seen (postgres_pairings.go); pairings made before get a random id.
	`
ALTER TABLE pairings
	ADD COLUMN id        text,
	ADD COLUMN name      text NOT NULL DEFAULT '',
	ADD COLUMN address   text NOT NULL DEFAULT '',
	ADD COLUMN last_seen timestamptz;
UPDATE pairings SET id = 'p_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 24) WHERE id IS NULL;
ALTER TABLE pairings ALTER COLUMN id SET NOT NULL;
CREATE UNIQUE INDEX pairings_by_id ON pairings (id);
CREATE INDEX pairings_by_session ON pairings (session_id);
`,
}

// PostgresSchemaVersion is the schema version this program writes to a
// PostgreSQL database (tether_schema.version after all migrations).
func PostgresSchemaVersion() int { return len(pgMigrations) }

// PostgreSQL is the Store kept in a PostgreSQL database that several relay
// nodes may share (pgx/v5 with its pgxpool). It has the semantics of SQLite
// (the storetest suite checks both). All methods are safe for concurrent
// use; each blocks until the server answers, at most about pgTimeout, or
// until ctx ends. When the server cannot be reached (restarting, network
// gone) methods fail with an error wrapping ErrUnavailable, and the pool
// reconnects by itself once it is back: the same value works again without
// being reopened.
type PostgreSQL struct {
	pool    *pgxpool.Pool
	where   string        // host:port/database, for error messages; no password
	timeout time.Duration // per call
	closed  atomic.Bool

	clock atomic.Pointer[func() time.Time] // SetClock; nil means time.Now
}

var _ Store = (*PostgreSQL)(nil)

// pgOptions are the knobs of openPostgres beyond the URL; the zero value is
// what OpenPostgres uses.
type pgOptions struct {
	timeout time.Duration // 0 means pgTimeout
}

// OpenPostgres connects to the PostgreSQL database at rawURL (postgres:// or
// postgresql://, with libpq's parameters, pool_max_conns among them) and
// applies pending schema migrations under an advisory lock, so that nodes
// opening one database at once migrate it exactly once. A database written
// by a newer program is refused. A server that cannot be reached is an
// error wrapping ErrUnavailable. OpenPostgres blocks while it connects and
// migrates, at most about pgTimeout unless ctx ends earlier; the caller
// owns the result and must Close it.
func OpenPostgres(ctx context.Context, rawURL string) (*PostgreSQL, error) {
	return openPostgres(ctx, rawURL, pgOptions{})
}

func openPostgres(ctx context.Context, rawURL string, o pgOptions) (*PostgreSQL, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, fmt.Errorf("store: PostgreSQL URL %s is not valid", redactURL(rawURL))
	}
	if o.timeout <= 0 {
		o.timeout = pgTimeout
	}
	if cfg.ConnConfig.ConnectTimeout <= 0 || cfg.ConnConfig.ConnectTimeout > o.timeout {
		cfg.ConnConfig.ConnectTimeout = o.timeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "tether-relay"
	}
	where := fmt.Sprintf("postgres %s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w: %w", where, ErrUnavailable, err)
	}
	p := &PostgreSQL{pool: pool, where: where, timeout: o.timeout}
	if err := p.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: open %s: %w", where, err)
	}
	return p, nil
}

// redactURL returns u with its password hidden, or a placeholder when u
// does not parse.
func redactURL(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return pu.Redacted()
}

// migrate brings the schema up to date in one transaction that first takes
// the advisory lock pgMigrationLock: a second node waits for the first to
// commit, then finds nothing left to do.
func (p *PostgreSQL) migrate(ctx context.Context) error {
	return p.inTx(ctx, "migrate", func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgMigrationLock); err != nil {
			return err
		}
		// Create the version table only when missing: a user allowed to
		// read and write the tables but not to create any can still start a
		// relay on a current database.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('tether_schema') IS NOT NULL`).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE TABLE tether_schema (
				one     boolean NOT NULL PRIMARY KEY DEFAULT true CHECK (one),
				version integer NOT NULL);
				INSERT INTO tether_schema (version) VALUES (0)`); err != nil {
				return err
			}
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT version FROM tether_schema`).Scan(&v); err != nil {
			return err
		}
		current := v
		if v > len(pgMigrations) {
			return fmt.Errorf("%w: %s has version %d, this program knows up to %d; run a newer tether-relay",
				errSchemaTooNew, p.where, v, len(pgMigrations))
		}
		for ; v < len(pgMigrations); v++ {
			if _, err := tx.Exec(ctx, pgMigrations[v]); err != nil {
				return fmt.Errorf("migrate to version %d: %w", v+1, err)
			}
		}
		if v == current {
			return nil
		}
		_, err := tx.Exec(ctx, `UPDATE tether_schema SET version = $1`, v)
		return err
	})
}

// Close closes the pool, waiting for connections in use to be returned.
// Later calls fail with an error wrapping ErrUnavailable.
func (p *PostgreSQL) Close() error {
	if p.closed.Swap(true) {
		return errClosed
	}
	p.pool.Close()
	return nil
}

// call returns the context of one call: ctx bounded by the store's timeout.
// A closed store returns errClosed.
func (p *PostgreSQL) call(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if p.closed.Load() {
		return nil, nil, errClosed
	}
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	return cctx, cancel, nil
}

// mapErr turns a pgx error into the package's errors: no rows is
// ErrNotFound, a unique violation ErrConflict, a foreign key violation
// ErrNotFound; an ended caller's ctx returns ctx's error; a server that
// cannot be reached, is shutting down, or did not answer within the
// store's timeout wraps ErrUnavailable. ctx is the caller's context, not
// the call's.
func (p *PostgreSQL) mapErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrExpired) || errors.Is(err, ErrConflict) ||
		errors.Is(err, ErrUnavailable) || errors.Is(err, errSchemaTooNew) {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("store: %s: %w", op, cerr)
	}
	if p.closed.Load() {
		return fmt.Errorf("store: %s: %w", op, errClosed)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505": // unique_violation
			return fmt.Errorf("store: %s: %w", op, ErrConflict)
		case pe.Code == "23503": // foreign_key_violation: the device or session does not exist
			return fmt.Errorf("store: %s: %w: %w", op, ErrNotFound, err)
		case pgUnavailable(pe.Code):
			return fmt.Errorf("store: %s on %s: %w: %w", op, p.where, ErrUnavailable, err)
		default:
			return fmt.Errorf("store: %s: %w", op, err)
		}
	}
	if pgConnectionLost(err) {
		return fmt.Errorf("store: %s on %s: %w: %w", op, p.where, ErrUnavailable, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// pgUnavailable says whether an SQLSTATE reports a failure of the server
// rather than of the request: connection exceptions (08), insufficient
// resources (53), operator intervention such as a shutdown (57), system
// errors (58), serialization failures and deadlocks (40001, 40P01), a lock
// not available (55P03), and a read-only server (25006, a standby after a
// failover).
func pgUnavailable(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"),
		strings.HasPrefix(code, "57"), strings.HasPrefix(code, "58"):
		return true
	}
	switch code {
	case "40001", "40P01", "55P03", "25006":
		return true
	}
	return false
}

// pgConnectionLost says whether err (not from the server's SQL) comes from
// the link to it: a failed connect, a network error, a connection closed
// under a query, or the store's own deadline.
func pgConnectionLost(err error) bool {
	var (
		ce *pgconn.ConnectError
		ne net.Error
	)
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, context.DeadlineExceeded) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}

// inTx runs fn in one transaction bounded by the store's timeout and
// commits it, mapping errors under op.
func (p *PostgreSQL) inTx(ctx context.Context, op string, fn func(context.Context, pgx.Tx) error) error {
	cctx, cancel, err := p.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	tx, err := p.pool.Begin(cctx)
	if err != nil {
		return p.mapErr(ctx, op, err)
	}
	defer func() {
		// A no-op after Commit; bounded of its own, since cctx may be over.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), p.timeout)
		defer rcancel()
		tx.Rollback(rctx)
	}()
	if err := fn(cctx, tx); err != nil {
		return p.mapErr(ctx, op, err)
	}
	return p.mapErr(ctx, op, tx.Commit(cctx))
}

// exec runs one statement bounded by the store's timeout and returns how
// many rows it changed.
func (p *PostgreSQL) exec(ctx context.Context, op, query string, args ...any) (int64, error) {
	cctx, cancel, err := p.call(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	tag, err := p.pool.Exec(cctx, query, args...)
	if err != nil {
		return 0, p.mapErr(ctx, op, err)
	}
	return tag.RowsAffected(), nil
}

// queryRow runs one query bounded by the store's timeout and scans its
// single row into dest.
func (p *PostgreSQL) queryRow(ctx context.Context, op, query string, args []any, dest ...any) error {
	cctx, cancel, err := p.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return p.mapErr(ctx, op, p.pool.QueryRow(cctx, query, args...).Scan(dest...))
}

// pgMS is t at the millisecond precision of every time the store keeps (the
// precision of SQLite's columns), in UTC.
func pgMS(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// pgStrings collects a query's rows of one text column on q, a pool or a
// transaction.
func pgStrings(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, query string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if out == nil {
		out = []string{}
	}
	return out, err
}

// CreateDevice registers d with the token whose hash is tokenHash. An ID or
// token hash that already exists is ErrConflict. d.LastSeen is stored when
// it is not zero.
func (p *PostgreSQL) CreateDevice(ctx context.Context, d Device, tokenHash []byte) error {
	var lastSeen *time.Time
	if !d.LastSeen.IsZero() {
		t := pgMS(d.LastSeen)
		lastSeen = &t
	}
	_, err := p.exec(ctx, "create device",
		`INSERT INTO devices (id, name, os, token_hash, created_at, last_seen) VALUES ($1, $2, $3, $4, $5, $6)`,
		d.ID, d.Name, d.OS, tokenHash, pgMS(d.CreatedAt), lastSeen)
	return err
}

// pgScanDevice reads the columns of deviceColumns.
func pgScanDevice(row pgx.Row) (Device, error) {
	var (
		d        Device
		lastSeen *time.Time
	)
	if err := row.Scan(&d.ID, &d.Name, &d.OS, &d.CreatedAt, &lastSeen); err != nil {
		return Device{}, err
	}
	d.CreatedAt = d.CreatedAt.UTC()
	if lastSeen != nil {
		d.LastSeen = lastSeen.UTC()
	}
	return d, nil
}

// device runs a query for one device.
func (p *PostgreSQL) device(ctx context.Context, op, query string, arg any) (Device, error) {
	cctx, cancel, err := p.call(ctx)
	if err != nil {
		return Device{}, err
	}
	defer cancel()
	d, err := pgScanDevice(p.pool.QueryRow(cctx, query, arg))
	if err != nil {
		return Device{}, p.mapErr(ctx, op, err)
	}
	return d, nil
}

// DeviceByToken returns the device whose token hashes to tokenHash, or
// ErrNotFound.
func (p *PostgreSQL) DeviceByToken(ctx context.Context, tokenHash []byte) (Device, error) {
	return p.device(ctx, "device by token",
		`SELECT `+deviceColumns+` FROM devices d WHERE d.token_hash = $1`, tokenHash)
}

// Device returns the device with id, or ErrNotFound.
func (p *PostgreSQL) Device(ctx context.Context, id string) (Device, error) {
	return p.device(ctx, "device "+id, `SELECT `+deviceColumns+` FROM devices d WHERE d.id = $1`, id)
}

// TouchDevice records that device id was seen at t with its current name and
// OS, or returns ErrNotFound for an unknown id.
func (p *PostgreSQL) TouchDevice(ctx context.Context, id, name, osName string, t time.Time) error {
	n, err := p.exec(ctx, "touch device "+id,
		`UPDATE devices SET name = $1, os = $2, last_seen = $3 WHERE id = $4`, name, osName, pgMS(t), id)
	if err == nil && n == 0 {
		err = fmt.Errorf("store: touch device %s: %w", id, ErrNotFound)
	}
	return err
}

// DeleteNeverConnectedDevices deletes the devices created before olderThan
// that never connected, with their pairing codes and pairings, and the
// sessions that were paired with nothing else; it says how many devices
// went. It runs as one transaction.
func (p *PostgreSQL) DeleteNeverConnectedDevices(ctx context.Context, olderThan time.Time) (int, error) {
	var n int64
	err := p.inTx(ctx, "delete never-connected devices", func(ctx context.Context, tx pgx.Tx) error {
		sessions, err := pgStrings(ctx, tx,
			`SELECT DISTINCT p.session_id FROM pairings p JOIN devices d ON d.id = p.device_id
			 WHERE d.last_seen IS NULL AND d.created_at < $1`, pgMS(olderThan))
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM devices WHERE last_seen IS NULL AND created_at < $1`, pgMS(olderThan))
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		return pgDeleteUnpairedSessions(ctx, tx, sessions)
	})
	return int(n), err
}

// pgDeleteUnpairedSessions deletes those of ids that have no pairing left.
func pgDeleteUnpairedSessions(ctx context.Context, tx pgx.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `DELETE FROM sessions s WHERE s.id = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM pairings p WHERE p.session_id = s.id)`, ids)
	return err
}

// CreatePairingCode stores a code (by hash) for deviceID, valid until
// expires. A hash that already exists is ErrConflict; an unknown device is
// ErrNotFound.
func (p *PostgreSQL) CreatePairingCode(ctx context.Context, codeHash []byte, deviceID string, expires time.Time) error {
	_, err := p.exec(ctx, "create pairing code",
		`INSERT INTO pairing_codes (code_hash, device_id, expires_at) VALUES ($1, $2, $3)`,
		codeHash, deviceID, pgMS(expires))
	return err
}

// RedeemPairingCode deletes the code and returns its device in one
// statement: of many concurrent redeemers, on any number of nodes, exactly
// one gets the device (the others wait for its row lock, then find the row
// gone: ErrNotFound). A code whose time is up (expires_at <= now) is deleted
// too and returns ErrExpired.
func (p *PostgreSQL) RedeemPairingCode(ctx context.Context, codeHash []byte, now time.Time) (string, error) {
	var (
		deviceID string
		expires  time.Time
	)
	err := p.queryRow(ctx, "redeem pairing code",
		`DELETE FROM pairing_codes WHERE code_hash = $1 RETURNING device_id, expires_at`,
		[]any{codeHash}, &deviceID, &expires)
	if err != nil {
		return "", err
	}
	if !expires.After(pgMS(now)) {
		return "", fmt.Errorf("store: redeem pairing code: %w", ErrExpired)
	}
	return deviceID, nil
}

// DeleteExpiredCodes removes codes whose time is up (expires_at <= now) and
// says how many.
func (p *PostgreSQL) DeleteExpiredCodes(ctx context.Context, now time.Time) (int, error) {
	n, err := p.exec(ctx, "delete expired codes", `DELETE FROM pairing_codes WHERE expires_at <= $1`, pgMS(now))
	return int(n), err
}

// CountPairingAttempt counts one attempt with the code hashing to codeHash
// in one INSERT … ON CONFLICT DO UPDATE, which PostgreSQL runs atomically
// whichever node sends it. See Store.
func (p *PostgreSQL) CountPairingAttempt(ctx context.Context, codeHash []byte, now time.Time, window time.Duration) (int, time.Time, error) {
	var (
		n   int
		end time.Time
	)
	err := p.queryRow(ctx, "count pairing attempt", `
		INSERT INTO pairing_attempts AS a (code_hash, attempts, window_end) VALUES ($1, 1, $3)
		ON CONFLICT (code_hash) DO UPDATE SET
			attempts   = CASE WHEN a.window_end <= $2 THEN 1 ELSE a.attempts + 1 END,
			window_end = CASE WHEN a.window_end <= $2 THEN $3 ELSE a.window_end END
		RETURNING attempts, window_end`,
		[]any{codeHash, pgMS(now), pgMS(now.Add(window))}, &n, &end)
	return n, end.UTC(), err
}

// DeletePairingAttempts forgets the attempt counts whose window ended at or
// before now and says how many.
func (p *PostgreSQL) DeletePairingAttempts(ctx context.Context, now time.Time) (int, error) {
	n, err := p.exec(ctx, "delete pairing attempts", `DELETE FROM pairing_attempts WHERE window_end <= $1`, pgMS(now))
	return int(n), err
}

// CreateSession stores a new session reachable with the token hashing to
// tokenHash. An ID or token hash that already exists is ErrConflict.
func (p *PostgreSQL) CreateSession(ctx context.Context, sess Session, tokenHash []byte) error {
	_, err := p.exec(ctx, "create session",
		`INSERT INTO sessions (id, label, token_hash, created_at, last_used) VALUES ($1, $2, $3, $4, $4)`,
		sess.ID, sess.Label, tokenHash, pgMS(sess.CreatedAt))
	return err
}

// AddPairing pairs session and device at time t. Pairing twice is not an
// error and keeps the first time. An unknown session or device is
// ErrNotFound.
func (p *PostgreSQL) AddPairing(ctx context.Context, sessionID, deviceID string, t time.Time) error {
	_, _, err := p.RecordPairing(ctx, Pairing{SessionID: sessionID, DeviceID: deviceID, CreatedAt: t})
	return err
}

// RemovePairing unpairs session and device, or returns ErrNotFound if they
// were not paired. A session left without pairings is deleted with it, in
// one transaction.
func (p *PostgreSQL) RemovePairing(ctx context.Context, sessionID, deviceID string) error {
	return p.inTx(ctx, "remove pairing", func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM pairings WHERE session_id = $1 AND device_id = $2`, sessionID, deviceID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return pgDeleteUnpairedSessions(ctx, tx, []string{sessionID})
	})
}

// RemoveDevicePairings unpairs every session from deviceID and returns those
// sessions, sorted. Sessions left without pairings are deleted, in the same
// transaction. An unknown or unpaired device gives an empty list.
func (p *PostgreSQL) RemoveDevicePairings(ctx context.Context, deviceID string) ([]string, error) {
	var ids []string
	err := p.inTx(ctx, "remove device pairings", func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if ids, err = pgStrings(ctx, tx, `DELETE FROM pairings WHERE device_id = $1 RETURNING session_id`, deviceID); err != nil {
			return err
		}
		return pgDeleteUnpairedSessions(ctx, tx, ids)
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids) // RETURNING has no defined order
	return ids, nil
}

// IsPaired says whether session and device are paired.
func (p *PostgreSQL) IsPaired(ctx context.Context, sessionID, deviceID string) (bool, error) {
	var ok bool
	err := p.queryRow(ctx, "is paired",
		`SELECT EXISTS (SELECT 1 FROM pairings WHERE session_id = $1 AND device_id = $2)`,
		[]any{sessionID, deviceID}, &ok)
	return ok, err
}

// PairedDevices lists the devices of a session, oldest pairing first (the
// first made among pairings of the same millisecond). An unknown session
// has none.
func (p *PostgreSQL) PairedDevices(ctx context.Context, sessionID string) ([]Device, error) {
	cctx, cancel, err := p.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	rows, err := p.pool.Query(cctx,
		`SELECT `+deviceColumns+` FROM pairings p JOIN devices d ON d.id = p.device_id
		 WHERE p.session_id = $1 ORDER BY p.created_at, p.seq`, sessionID)
	if err != nil {
		return nil, p.mapErr(ctx, "paired devices", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Device, error) { return pgScanDevice(r) })
	if err != nil {
		return nil, p.mapErr(ctx, "paired devices", err)
	}
	if out == nil {
		out = []Device{}
	}
	return out, nil
}

// PairedSessions lists the sessions paired with a device, oldest pairing
// first. An unknown device has none.
func (p *PostgreSQL) PairedSessions(ctx context.Context, deviceID string) ([]string, error) {
	cctx, cancel, err := p.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	ids, err := pgStrings(cctx, p.pool,
		`SELECT session_id FROM pairings WHERE device_id = $1 ORDER BY created_at, seq`, deviceID)
	if err != nil {
		return nil, p.mapErr(ctx, "paired sessions", err)
	}
	return ids, nil
}
