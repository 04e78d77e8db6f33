package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tether-desktop/tether/internal/perm"
)

// FileName is the name of the database file Open keeps in its directory.
// SQLite adds FileName+"-wal" and FileName+"-shm" beside it.
const FileName = "tether.db"

// busyTimeout is how long a statement waits for another connection's write
// lock before it fails with SQLITE_BUSY (mapped to ErrUnavailable).
const busyTimeout = 5 * time.Second

// maxConns bounds the connection pool. WAL lets readers run beside the one
// writer; more connections than this only add waiting and memory.
const maxConns = 8

// errClosed is returned by every method called after Close.
var errClosed = fmt.Errorf("%w: store is closed", ErrUnavailable)

// errSchemaTooNew is wrapped by Open when the database was written by a newer
// program than this one.
var errSchemaTooNew = errors.New("store: database schema is newer than this program knows")

// migrations are the schema steps, in order. Step i brings the database to
// PRAGMA user_version i+1. Never edit a released step: append a new one.
var migrations = []string{
	// 1: the initial schema. Times are unix milliseconds; hashes are BLOBs.
	`
CREATE TABLE devices (
	id         TEXT    NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	os         TEXT    NOT NULL,
	token_hash BLOB    NOT NULL UNIQUE CHECK (length(token_hash) > 0),
	created_at INTEGER NOT NULL,
	last_seen  INTEGER             -- NULL until the device first connects
) STRICT;

CREATE TABLE sessions (
	id         TEXT    NOT NULL PRIMARY KEY,
	label      TEXT    NOT NULL,
	token_hash BLOB    NOT NULL UNIQUE CHECK (length(token_hash) > 0),
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE pairings (
	session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	device_id  TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (session_id, device_id)
) STRICT;
CREATE INDEX pairings_by_device ON pairings (device_id);

CREATE TABLE pairing_codes (
	code_hash  BLOB    NOT NULL PRIMARY KEY CHECK (length(code_hash) > 0),
	device_id  TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX pairing_codes_by_expiry ON pairing_codes (expires_at);
CREATE INDEX pairing_codes_by_device ON pairing_codes (device_id);
`,
	// 2: when each session was last used (sessions.go), for idle expiry;
	// and an index for the sweep of devices that never connected.
	`
ALTER TABLE sessions ADD COLUMN last_used INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET last_used = created_at;
CREATE INDEX sessions_by_last_used ON sessions (last_used);
CREATE INDEX devices_never_connected ON devices (created_at) WHERE last_seen IS NULL;
`,
	// 3: attempt counts of pairing codes, shared by every user of the
	// storage (sqlite_attempts.go); keyed by the hash of the code tried,
	// which need not exist.
	`
CREATE TABLE pairing_attempts (
	code_hash  BLOB    NOT NULL PRIMARY KEY CHECK (length(code_hash) > 0),
	attempts   INTEGER NOT NULL,
	window_end INTEGER NOT NULL
) STRICT;
CREATE INDEX pairing_attempts_by_end ON pairing_attempts (window_end);
`,
	// 4: named secrets shared by every user of the storage (SharedKey,
	// sqlite_secrets.go).
	`
CREATE TABLE secrets (
	name  TEXT NOT NULL PRIMARY KEY CHECK (length(name) > 0),
	value BLOB NOT NULL CHECK (length(value) > 0)
) STRICT;
`,
	// 5: every pairing gets an id of its own (random, shown to the device's
	// owner), the name derived from the browser's User-Agent, the address
	// it paired from and when it was last seen (sqlite_pairings.go).
	// Pairings made before get a random id and empty name and address.
	`
ALTER TABLE pairings ADD COLUMN id        TEXT;
ALTER TABLE pairings ADD COLUMN name      TEXT NOT NULL DEFAULT '';
ALTER TABLE pairings ADD COLUMN address   TEXT NOT NULL DEFAULT '';
ALTER TABLE pairings ADD COLUMN last_seen INTEGER;
UPDATE pairings SET id = 'p_' || lower(hex(randomblob(12))) WHERE id IS NULL;
CREATE UNIQUE INDEX pairings_by_id ON pairings (id);
CREATE INDEX pairings_by_session ON pairings (session_id);
`,
}

// SQLite is the Store kept in one SQLite file (modernc.org/sqlite, pure Go,
// WAL journal). All methods are safe for concurrent use; each blocks until
// SQLite answers, at most about busyTimeout when another writer holds the
// lock, or until ctx ends.
type SQLite struct {
	db     *sql.DB
	path   string
	closed atomic.Bool

	// Prepared statements of the hot reads (prepared once per pooled
	// connection by database/sql): a third less time serially, half under
	// parallel load (BenchmarkDeviceByToken).
	deviceByToken  *sql.Stmt // every agent connection
	sessionByToken *sql.Stmt // every client request
	isPaired       *sql.Stmt // every command

	clock atomic.Pointer[func() time.Time] // SetClock; nil means time.Now
}

var _ Store = (*SQLite)(nil)

// Open opens (creating if needed) the store in dir: the directory is made
// with mode 0700 when missing, tightened to 0700 (with a log line on
// slog.Default) when others could read it, and refused when it belongs to
// another user (perm.PrivateDir); the database file dir/tether.db and its WAL
// files get mode 0600, and pending schema migrations are applied. A database
// written by a newer program is refused with a clear error. Failures of the
// storage itself (cannot create, read-only, disk full, locked) wrap
// ErrUnavailable. Open blocks while it migrates; the caller owns the result
// and must Close it.
func Open(dir string) (*SQLite, error) {
	if err := perm.PrivateDir(dir, nil); err != nil {
		return nil, fmt.Errorf("store: data directory: %w: %w", ErrUnavailable, err)
	}
	path := filepath.Join(dir, FileName)
	if err := prepareFiles(path); err != nil {
		return nil, err
	}
	return openPath(path, options{})
}

// creating serialises prepareFiles within this process (see there).
var creating sync.Mutex

// prepareFiles creates the database file with mode 0600 before SQLite sees
// it (SQLite gives its -wal and -shm files the mode of the database file) and
// tightens the mode of existing files that are readable by others.
//
// It never opens a file that already exists: closing any descriptor of the
// database file drops every POSIX lock this process holds on it, including
// those of SQLite connections that are open (an Open of the same directory
// in another goroutine), after which other processes take locks they must
// not get. For the same reason the file is created (O_EXCL) and its
// descriptor closed under creating, so that no other Open in this process
// reaches SQLite between the two.
func prepareFiles(path string) error {
	creating.Lock()
	defer creating.Unlock()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
	case err != nil:
		return fmt.Errorf("store: create %s: %w: %w", path, ErrUnavailable, err)
	default:
		if err := f.Close(); err != nil {
			return fmt.Errorf("store: create %s: %w: %w", path, ErrUnavailable, err)
		}
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("store: stat %s: %w: %w", p, ErrUnavailable, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, 0o600); err != nil {
				return fmt.Errorf("store: restrict mode of %s: %w: %w", p, ErrUnavailable, err)
			}
		}
	}
	return nil
}

// options are the knobs of openPath beyond the path; the zero value is what
// Open uses. Tests set them to reach failure paths.
type options struct {
	readOnly     bool          // SQLite URI mode=ro: every write fails with SQLITE_READONLY
	busyTimeout  time.Duration // 0 means the package's busyTimeout
	extraPragmas []string      // appended to the DSN's _pragma list
}

// dsn builds the modernc.org/sqlite DSN for path. The pragmas travel in the
// DSN so every pooled connection gets them.
func dsn(path string, o options) string {
	bt := o.busyTimeout
	if bt <= 0 {
		bt = busyTimeout
	}
	q := url.Values{}
	q.Set("_txlock", "immediate") // transactions take the write lock up front and wait for it
	q["_pragma"] = append([]string{
		"busy_timeout(" + strconv.FormatInt(bt.Milliseconds(), 10) + ")",
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
		"foreign_keys(ON)",
	}, o.extraPragmas...)
	if o.readOnly {
		q.Set("mode", "ro")
	}
	// An absolute path becomes "file:///abs/path?…" (a URI with an empty
	// authority; "file:///C:/dir/…" on Windows), a relative one
	// "file:rel/path?…". Both are %-escaped, so '?', '#' and '%' in names
	// stay part of the name.
	p := filepath.ToSlash(path)
	u := url.URL{Scheme: "file", RawQuery: q.Encode()}
	if filepath.IsAbs(path) {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		u.Path = p
	} else {
		u.Opaque = (&url.URL{Path: p}).EscapedPath()
	}
	return u.String()
}

// openPath opens the database at path and migrates it.
func openPath(path string, o options) (*SQLite, error) {
	db, err := sql.Open("sqlite", dsn(path, o))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	s := &SQLite{db: db, path: path}
	bound := o.busyTimeout
	if bound <= 0 {
		bound = busyTimeout
	}
	if err := retryOpenRace(bound, func() error { return s.migrate(context.Background()) }); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.deviceByToken, `SELECT ` + deviceColumns + ` FROM devices d WHERE d.token_hash = ?`},
		{&s.sessionByToken, `SELECT id, label, created_at, last_used FROM sessions WHERE token_hash = ?`},
		{&s.isPaired, `SELECT EXISTS (SELECT 1 FROM pairings WHERE session_id = ? AND device_id = ?)`},
	} {
		err := retryOpenRace(bound, func() (err error) { *p.stmt, err = db.Prepare(p.query); return err })
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open %s: %w", path, s.mapErr(context.Background(), "prepare statements", err))
		}
	}
	return s, nil
}

// retryOpenRace runs fn, the first statements of Open, again while it fails
// only because another connection (in this process or another) is opening
// the same fresh file at the same moment, for at most bound. The busy
// timeout (set before any other pragma on every connection) covers waiting
// for a lock, but not these:
//   - SQLITE_BUSY returned at once instead of waiting, when waiting could
//     deadlock: two connections that both hold a read lock and both want
//     to write, as "PRAGMA journal_mode=WAL" on a fresh file does;
//   - SQLITE_LOCKED, the same within one process's shared cache.
//
// Each retry starts from a clean state (migrate re-reads the version under
// its write lock), so a retry never applies a step twice.
func retryOpenRace(bound time.Duration, fn func() error) error {
	deadline := time.Now().Add(bound)
	pause := 2 * time.Millisecond
	for {
		err := fn()
		if err == nil || !openRace(err) || time.Now().After(deadline) {
			return err
		}
		// Jitter, so that two openers that collided do not collide again.
		time.Sleep(pause/2 + rand.N(pause))
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// openRace says whether err is one of the transient failures of two
// connections opening a fresh database at once (see retryOpenRace).
func openRace(err error) bool {
	var se coder
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}

// SchemaVersion is the schema version this program writes (PRAGMA
// user_version after all migrations).
func SchemaVersion() int { return len(migrations) }

// migrate brings the schema up to date. Steps run in one IMMEDIATE
// transaction, so concurrent openers of the same file apply them once; a
// database that is already current is not written at all.
func (s *SQLite) migrate(ctx context.Context) error {
	v, err := userVersion(ctx, s.db)
	if err != nil {
		return s.mapErr(ctx, "read schema version", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("%w: %s has version %d, this program knows up to %d; run a newer tether-relay",
			errSchemaTooNew, s.path, v, len(migrations))
	}
	if v == len(migrations) {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.mapErr(ctx, "begin migration", err)
	}
	defer tx.Rollback()
	// Read again under the write lock: another process may have migrated.
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return s.mapErr(ctx, "read schema version", err)
	}
	for ; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return s.mapErr(ctx, fmt.Sprintf("migrate to version %d", v+1), err)
		}
		// PRAGMA takes no bound parameters; v+1 is our own integer.
		if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(v+1)); err != nil {
			return s.mapErr(ctx, fmt.Sprintf("set schema version %d", v+1), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.mapErr(ctx, "commit migration", err)
	}
	return nil
}

func userVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// Close waits for running statements, checkpoints the WAL and closes the
// database. Later calls fail with an error wrapping ErrUnavailable.
func (s *SQLite) Close() error {
	if s.closed.Swap(true) {
		return errClosed
	}
	for _, st := range []*sql.Stmt{s.deviceByToken, s.sessionByToken, s.isPaired} {
		st.Close()
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// mapErr turns a database error into the package's errors: no rows is
// ErrNotFound, a UNIQUE or PRIMARY KEY violation is ErrConflict, failures of
// the storage wrap ErrUnavailable, and an ended ctx returns ctx's error.
func (s *SQLite) mapErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("store: %s: %w", op, cerr)
	}
	if s.closed.Load() {
		return fmt.Errorf("store: %s: %w", op, errClosed)
	}
	var se coder
	if !errors.As(err, &se) {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	switch code := se.Code(); {
	case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("store: %s: %w", op, ErrConflict)
	case code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		// The device or session referred to does not exist.
		return fmt.Errorf("store: %s: %w: %w", op, ErrNotFound, err)
	case unavailable(code):
		return fmt.Errorf("store: %s: %w: %w", op, ErrUnavailable, err)
	default:
		return fmt.Errorf("store: %s: %w", op, err)
	}
}

// coder is the part of *sqlite.Error that mapErr reads: the SQLite result
// code, extended codes included.
type coder interface {
	error
	Code() int
}

var _ coder = (*sqlite.Error)(nil)

// unavailable says whether an SQLite result code (primary or extended) is a
// failure of the storage rather than of the request.
func unavailable(code int) bool {
	switch code & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
		sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_PERM, sqlite3.SQLITE_PROTOCOL,
		sqlite3.SQLITE_NOLFS, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

// ms converts t to unix milliseconds, the unit of every time column.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS converts unix milliseconds back to a UTC time.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// CreateDevice registers d with the token whose hash is tokenHash. An ID or
// token hash that already exists is ErrConflict. d.LastSeen is stored when
// it is not zero.
func (s *SQLite) CreateDevice(ctx context.Context, d Device, tokenHash []byte) error {
	if s.closed.Load() {
		return errClosed
	}
	var lastSeen sql.NullInt64
	if !d.LastSeen.IsZero() {
		lastSeen = sql.NullInt64{Int64: ms(d.LastSeen), Valid: true}
	}
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO devices (id, name, os, token_hash, created_at, last_seen) VALUES (?, ?, ?, ?, ?, ?)`,
		d.ID, d.Name, d.OS, tokenHash, ms(d.CreatedAt), lastSeen)
	return s.mapErr(ctx, "create device", err)
}

const deviceColumns = `d.id, d.name, d.os, d.created_at, d.last_seen`

// scanDevice reads the columns of deviceColumns.
func scanDevice(row interface{ Scan(...any) error }) (Device, error) {
	var (
		d        Device
		created  int64
		lastSeen sql.NullInt64
	)
	if err := row.Scan(&d.ID, &d.Name, &d.OS, &created, &lastSeen); err != nil {
		return Device{}, err
	}
	d.CreatedAt = fromMS(created)
	if lastSeen.Valid {
		d.LastSeen = fromMS(lastSeen.Int64)
	}
	return d, nil
}

// DeviceByToken returns the device whose token hashes to tokenHash, or
// ErrNotFound.
func (s *SQLite) DeviceByToken(ctx context.Context, tokenHash []byte) (Device, error) {
	if s.closed.Load() {
		return Device{}, errClosed
	}
	d, err := scanDevice(s.deviceByToken.QueryRowContext(ctx, tokenHash))
	if err != nil {
		return Device{}, s.mapErr(ctx, "device by token", err)
	}
	return d, nil
}

// Device returns the device with id, or ErrNotFound.
func (s *SQLite) Device(ctx context.Context, id string) (Device, error) {
	if s.closed.Load() {
		return Device{}, errClosed
	}
	d, err := scanDevice(s.db.QueryRowContext(ctx,
		`SELECT `+deviceColumns+` FROM devices d WHERE d.id = ?`, id))
	if err != nil {
		return Device{}, s.mapErr(ctx, "device "+id, err)
	}
	return d, nil
}

// TouchDevice records that device id was seen at t with its current name and
// OS, or returns ErrNotFound for an unknown id.
func (s *SQLite) TouchDevice(ctx context.Context, id, name, osName string, t time.Time) error {
	if s.closed.Load() {
		return errClosed
	}
	res, err := s.db.ExecContext(ctx,
		`UPDATE devices SET name = ?, os = ?, last_seen = ? WHERE id = ?`, name, osName, ms(t), id)
	if err != nil {
		return s.mapErr(ctx, "touch device "+id, err)
	}
	return s.oneRow(ctx, "touch device "+id, res)
}

// oneRow turns an UPDATE or DELETE that changed nothing into ErrNotFound.
func (s *SQLite) oneRow(ctx context.Context, op string, res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if n == 0 {
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	return nil
}

// CreatePairingCode stores a code (by hash) for deviceID, valid until
// expires. A hash that already exists is ErrConflict; an unknown device is
// ErrNotFound.
func (s *SQLite) CreatePairingCode(ctx context.Context, codeHash []byte, deviceID string, expires time.Time) error {
	if s.closed.Load() {
		return errClosed
	}
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO pairing_codes (code_hash, device_id, expires_at) VALUES (?, ?, ?)`,
		codeHash, deviceID, ms(expires))
	return s.mapErr(ctx, "create pairing code", err)
}

// RedeemPairingCode deletes the code and returns its device in one
// statement, so of many concurrent redeemers exactly one gets the device and
// the others ErrNotFound. A code whose time is up (expires_at <= now) is
// deleted too and returns ErrExpired.
func (s *SQLite) RedeemPairingCode(ctx context.Context, codeHash []byte, now time.Time) (string, error) {
	if s.closed.Load() {
		return "", errClosed
	}
	var (
		deviceID string
		expires  int64
	)
	err := s.db.QueryRowContext(ctx,
		`DELETE FROM pairing_codes WHERE code_hash = ? RETURNING device_id, expires_at`,
		codeHash).Scan(&deviceID, &expires)
	if err != nil {
		return "", s.mapErr(ctx, "redeem pairing code", err)
	}
	if expires <= ms(now) {
		return "", fmt.Errorf("store: redeem pairing code: %w", ErrExpired)
	}
	return deviceID, nil
}

// DeleteExpiredCodes removes codes whose time is up (expires_at <= now) and
// says how many.
func (s *SQLite) DeleteExpiredCodes(ctx context.Context, now time.Time) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM pairing_codes WHERE expires_at <= ?`, ms(now))
	if err != nil {
		return 0, s.mapErr(ctx, "delete expired codes", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.mapErr(ctx, "delete expired codes", err)
	}
	return int(n), nil
}

// CreateSession stores a new session reachable with the token hashing to
// tokenHash. An ID or token hash that already exists is ErrConflict.
func (s *SQLite) CreateSession(ctx context.Context, sess Session, tokenHash []byte) error {
	if s.closed.Load() {
		return errClosed
	}
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO sessions (id, label, token_hash, created_at, last_used) VALUES (?, ?, ?, ?, ?)`,
		sess.ID, sess.Label, tokenHash, ms(sess.CreatedAt), ms(sess.CreatedAt))
	return s.mapErr(ctx, "create session", err)
}

// SessionByToken returns the session whose token hashes to tokenHash, or
// ErrNotFound; a session unused for longer than SessionIdleTTL is
// ErrNotFound too (the error also matches ErrExpired). A session last used
// more than sessionTouchEvery ago is marked used now (see touchSession).
func (s *SQLite) SessionByToken(ctx context.Context, tokenHash []byte) (Session, error) {
	if s.closed.Load() {
		return Session{}, errClosed
	}
	var (
		sess              Session
		created, lastUsed int64
	)
	err := s.sessionByToken.QueryRowContext(ctx, tokenHash).Scan(&sess.ID, &sess.Label, &created, &lastUsed)
	if err != nil {
		return Session{}, s.mapErr(ctx, "session by token", err)
	}
	sess.CreatedAt = fromMS(created)
	if err := s.checkIdle(ctx, sess.ID, fromMS(lastUsed)); err != nil {
		return Session{}, err
	}
	return sess, nil
}

// AddPairing pairs session and device at time t. Pairing twice is not an
// error and keeps the first time. An unknown session or device is
// ErrNotFound.
func (s *SQLite) AddPairing(ctx context.Context, sessionID, deviceID string, t time.Time) error {
	if s.closed.Load() {
		return errClosed
	}
	_, _, err := s.RecordPairing(ctx, Pairing{SessionID: sessionID, DeviceID: deviceID, CreatedAt: t})
	return err
}

// RemovePairing unpairs session and device, or returns ErrNotFound if they
// were not paired. A session left without pairings is deleted with it, in
// one transaction.
func (s *SQLite) RemovePairing(ctx context.Context, sessionID, deviceID string) error {
	if s.closed.Load() {
		return errClosed
	}
	return s.inTx(ctx, "remove pairing", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM pairings WHERE session_id = ? AND device_id = ?`, sessionID, deviceID)
		if err != nil {
			return err
		}
		if err := s.oneRow(ctx, "remove pairing", res); err != nil {
			return err
		}
		return deleteUnpairedSessions(ctx, tx, []string{sessionID})
	})
}

// RemoveDevicePairings unpairs every session from deviceID and returns those
// sessions, sorted. Sessions left without pairings are deleted, in the same
// transaction. An unknown or unpaired device gives an empty list.
func (s *SQLite) RemoveDevicePairings(ctx context.Context, deviceID string) ([]string, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	var ids []string
	err := s.inTx(ctx, "remove device pairings", func(tx *sql.Tx) error {
		var err error
		if ids, err = queryStrings(ctx, tx, `DELETE FROM pairings WHERE device_id = ? RETURNING session_id`, deviceID); err != nil {
			return err
		}
		return deleteUnpairedSessions(ctx, tx, ids)
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids) // RETURNING has no defined order
	return ids, nil
}

// queryStrings runs a query whose rows are one text column.
func (s *SQLite) queryStrings(ctx context.Context, query string, args ...any) ([]string, error) {
	return queryStrings(ctx, s.db, query, args...)
}

// queryStrings runs a query whose rows are one text column on q, a
// database or a transaction.
func queryStrings(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// IsPaired says whether session and device are paired.
func (s *SQLite) IsPaired(ctx context.Context, sessionID, deviceID string) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	var ok bool
	err := s.isPaired.QueryRowContext(ctx, sessionID, deviceID).Scan(&ok)
	if err != nil {
		return false, s.mapErr(ctx, "is paired", err)
	}
	return ok, nil
}

// PairedDevices lists the devices of a session, oldest pairing first. An
// unknown session has none.
func (s *SQLite) PairedDevices(ctx context.Context, sessionID string) ([]Device, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+deviceColumns+` FROM pairings p JOIN devices d ON d.id = p.device_id
		 WHERE p.session_id = ? ORDER BY p.created_at, p.rowid`, sessionID)
	if err != nil {
		return nil, s.mapErr(ctx, "paired devices", err)
	}
	defer rows.Close()
	out := []Device{}
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, s.mapErr(ctx, "paired devices", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(ctx, "paired devices", err)
	}
	return out, nil
}

// PairedSessions lists the sessions paired with a device, oldest pairing
// first. An unknown device has none.
func (s *SQLite) PairedSessions(ctx context.Context, deviceID string) ([]string, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	ids, err := s.queryStrings(ctx,
		`SELECT session_id FROM pairings WHERE device_id = ? ORDER BY created_at, rowid`, deviceID)
	if err != nil {
		return nil, s.mapErr(ctx, "paired sessions", err)
	}
	return ids, nil
}
