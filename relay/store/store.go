// Package store keeps the relay's durable state: devices, browser sessions,
// the pairings between them and pending pairing codes.
//
// Store is the interface the relay's handlers use; Open returns the SQLite
// implementation (modernc.org/sqlite, pure Go, WAL), the default of one
// node, and OpenPostgres the PostgreSQL one (pgx, pure Go) that several relay
// nodes share; OpenURL picks one from the --store URL. Both pass the same
// conformance suite (package storetest). Secrets never reach the store in
// clear: callers pass hashes of tokens and codes.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors returned by every Store implementation.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExpired  = errors.New("store: expired")
	ErrConflict = errors.New("store: already exists")
	// ErrUnavailable wraps failures of the storage itself (disk full,
	// read-only file, locked database): temporary, worth a 503.
	ErrUnavailable = errors.New("store: unavailable")
)

// SharedKeySize is the size in bytes of the secrets SharedKey makes.
const SharedKeySize = 32

// Device is one registered desktop.
type Device struct {
	ID        string
	Name      string
	OS        string
	CreatedAt time.Time
	LastSeen  time.Time // zero when it never connected
}

// Session is one browser (or script) that paired with one or more devices.
type Session struct {
	ID        string
	Label     string
	CreatedAt time.Time
}

// Pairing is one browser session paired with one device, as the device's
// owner sees it (store/pairings.go): an ID of its own (random, never the
// session's token or id), the name the relay derived from the browser's
// User-Agent, the client address it paired from, and when it paired and
// was last seen (zero when never seen since).
type Pairing struct {
	ID        string
	SessionID string
	DeviceID  string
	Name      string
	Address   string
	CreatedAt time.Time
	LastSeen  time.Time
}

// Store is the relay's durable state. All methods are safe for concurrent use
// and block until the storage answers or ctx ends.
type Store interface {
	// CreateDevice registers d, reachable with the token whose hash is tokenHash.
	CreateDevice(ctx context.Context, d Device, tokenHash []byte) error
	// DeviceByToken returns the device whose token hashes to tokenHash, or ErrNotFound.
	DeviceByToken(ctx context.Context, tokenHash []byte) (Device, error)
	// Device returns the device with id, or ErrNotFound.
	Device(ctx context.Context, id string) (Device, error)
	// TouchDevice records that device id was seen at t, with its current name and OS.
	TouchDevice(ctx context.Context, id, name, os string, t time.Time) error
	// DeleteNeverConnectedDevices deletes the devices created before
	// olderThan that never connected, with their pairing codes and pairings
	// (and sessions left without pairings), and says how many devices went.
	DeleteNeverConnectedDevices(ctx context.Context, olderThan time.Time) (int, error)

	// CreatePairingCode stores a code (by hash) for deviceID, valid until expires.
	// A hash that already exists is ErrConflict.
	CreatePairingCode(ctx context.Context, codeHash []byte, deviceID string, expires time.Time) error
	// RedeemPairingCode consumes the code atomically and returns its device:
	// ErrNotFound if unknown or already used, ErrExpired if past its time (and
	// then deletes it too). A code succeeds at most once, even under races.
	RedeemPairingCode(ctx context.Context, codeHash []byte, now time.Time) (deviceID string, err error)
	// DeleteExpiredCodes removes codes past their time and says how many.
	DeleteExpiredCodes(ctx context.Context, now time.Time) (int, error)
	// CountPairingAttempt counts one attempt to redeem the code hashing to
	// codeHash (whether or not such a code exists) and returns the attempts
	// counted in the code's current window, this one included, and when
	// that window ends. A window opens at the first attempt after the last
	// one ended (or the first ever) and lasts window. The count is one
	// atomic read-modify-write in the storage, so every relay node sharing
	// it draws on the same budget.
	CountPairingAttempt(ctx context.Context, codeHash []byte, now time.Time, window time.Duration) (attempts int, windowEnd time.Time, err error)
	// SharedKey returns the secret named name (SharedKeySize random bytes),
	// creating it the first time it is asked for: every user of the storage
	// (every relay node) gets the same bytes, even when several ask at once.
	SharedKey(ctx context.Context, name string) ([]byte, error)
	// DeletePairingAttempts forgets the attempt counts whose window ended
	// at or before now and says how many.
	DeletePairingAttempts(ctx context.Context, now time.Time) (int, error)

	// CreateSession stores a new session reachable with the token hashing to tokenHash.
	CreateSession(ctx context.Context, s Session, tokenHash []byte) error
	// SessionByToken returns the session whose token hashes to tokenHash, or
	// ErrNotFound; also ErrNotFound (matching ErrExpired too) when the session
	// was unused for longer than SessionIdleTTL. A lookup counts as a use.
	SessionByToken(ctx context.Context, tokenHash []byte) (Session, error)
	// ExpireIdleSessions deletes the sessions last used before idleSince,
	// with their pairings, and says how many.
	ExpireIdleSessions(ctx context.Context, idleSince time.Time) (int, error)

	// AddPairing pairs session and device; pairing twice is not an error.
	AddPairing(ctx context.Context, sessionID, deviceID string, t time.Time) error
	// RemovePairing unpairs them, or returns ErrNotFound if they were not
	// paired. A session left without pairings is deleted.
	RemovePairing(ctx context.Context, sessionID, deviceID string) error
	// RemoveDevicePairings unpairs every session from deviceID and returns
	// those sessions. Sessions left without pairings are deleted.
	RemoveDevicePairings(ctx context.Context, deviceID string) ([]string, error)
	// IsPaired says whether session and device are paired.
	IsPaired(ctx context.Context, sessionID, deviceID string) (bool, error)
	// PairedDevices lists the devices of a session, oldest pairing first.
	PairedDevices(ctx context.Context, sessionID string) ([]Device, error)
	// PairedSessions lists the sessions paired with a device.
	PairedSessions(ctx context.Context, deviceID string) ([]string, error)

	// RecordPairing pairs p.SessionID and p.DeviceID with p's name, address
	// and time (p.ID empty: the store picks a random one) and returns the
	// pairing as stored, with created true; when they were paired already it
	// changes nothing and returns the existing pairing with created false.
	// An unknown session or device is ErrNotFound.
	RecordPairing(ctx context.Context, p Pairing) (stored Pairing, created bool, err error)
	// DevicePairings lists the pairings of a device, oldest first.
	DevicePairings(ctx context.Context, deviceID string) ([]Pairing, error)
	// SessionPairings lists the pairings of a session, oldest first.
	SessionPairings(ctx context.Context, sessionID string) ([]Pairing, error)
	// RemovePairingByID unpairs the pairing id of deviceID and returns its
	// session, or ErrNotFound when the device has no such pairing. A
	// session left without pairings is deleted.
	RemovePairingByID(ctx context.Context, deviceID, id string) (sessionID string, err error)
	// TouchPairings records that session was seen at t: on its pairing with
	// deviceID, or on all its pairings when deviceID is "". A time older
	// than the one stored changes nothing; an unknown session is no error.
	TouchPairings(ctx context.Context, sessionID, deviceID string, t time.Time) error

	// Close releases the storage. Calls after Close fail.
	Close() error
}

// OpenURL opens the store a relay's --store flag names: the SQLite file in
// dataDir when storeURL is empty (Open), PostgreSQL for a postgres:// or
// postgresql:// URL (OpenPostgres). Anything else is an error that names at
// most the scheme (never the rest, which may hold a password). OpenURL
// blocks while it opens and migrates; the caller owns the result and must
// Close it.
func OpenURL(ctx context.Context, dataDir, storeURL string) (Store, error) {
	if storeURL == "" {
		s, err := Open(dataDir)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	scheme, _, ok := strings.Cut(storeURL, "://")
	if !ok {
		return nil, fmt.Errorf("store: the store must be empty (SQLite in the data directory) or a postgres:// URL; got something that is not a URL")
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		p, err := OpenPostgres(ctx, storeURL)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, fmt.Errorf("store: the store must be empty (SQLite in the data directory) or a postgres:// URL; got a %q URL", scheme)
}
