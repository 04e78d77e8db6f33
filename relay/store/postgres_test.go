package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tether-desktop/tether/internal/pgtest"
)

func openPostgresTest(t testing.TB, url string, o pgOptions) *PostgreSQL {
	t.Helper()
	p, err := openPostgres(context.Background(), url, o)
	if err != nil {
		t.Fatalf("openPostgres: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestPostgresConcurrentMigrate opens one fresh database from three stores
// at once, as three relay nodes starting together: every open succeeds, the
// schema is made once (without the advisory lock the later CREATE TABLEs
// fail), and opening again changes nothing.
func TestPostgresConcurrentMigrate(t *testing.T) {
	url := pgtest.DB(t)
	const n = 3
	stores := make([]*PostgreSQL, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = OpenPostgres(context.Background(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	ctx := context.Background()
	var v int
	if err := stores[0].pool.QueryRow(ctx, `SELECT version FROM tether_schema`).Scan(&v); err != nil || v != PostgresSchemaVersion() {
		t.Fatalf("schema version = %d, %v; want %d", v, err, PostgresSchemaVersion())
	}
	if err := stores[0].CreateSession(ctx, Session{ID: "s", CreatedAt: time.Now()}, hash("s")); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[n-1].SessionByToken(ctx, hash("s")); err != nil {
		t.Errorf("another node does not see the write: %v", err)
	}
	again := openPostgresTest(t, url, pgOptions{})
	if _, err := again.SessionByToken(ctx, hash("s")); err != nil {
		t.Errorf("after reopening: %v", err)
	}
}

// TestPostgresSchemaTooNew refuses a database written by a newer program.
func TestPostgresSchemaTooNew(t *testing.T) {
	url := pgtest.DB(t)
	p := openPostgresTest(t, url, pgOptions{})
	if _, err := p.pool.Exec(context.Background(), `UPDATE tether_schema SET version = 99`); err != nil {
		t.Fatal(err)
	}
	_, err := OpenPostgres(context.Background(), url)
	if !errors.Is(err, errSchemaTooNew) || !strings.Contains(err.Error(), "99") {
		t.Fatalf("OpenPostgres of a version 99 database = %v, want errSchemaTooNew naming 99", err)
	}
}

// TestPostgresRestart stops PostgreSQL under a live store: calls fail with
// ErrUnavailable within a bound instead of hanging, and once the server is
// back the same store works again by itself.
func TestPostgresRestart(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDB(t)
	const timeout = 2 * time.Second
	p := openPostgresTest(t, url, pgOptions{timeout: timeout})
	ctx := context.Background()
	now := time.Now()
	if err := p.CreateDevice(ctx, Device{ID: "d1", Name: "n", OS: "linux", CreatedAt: now}, hash("d1")); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Device", func() error { _, err := p.Device(ctx, "d1"); return err }},
		{"DeviceByToken", func() error { _, err := p.DeviceByToken(ctx, hash("d1")); return err }},
		{"TouchDevice", func() error { return p.TouchDevice(ctx, "d1", "n", "linux", now) }},
		{"RemoveDevicePairings", func() error { _, err := p.RemoveDevicePairings(ctx, "d1"); return err }},
		{"CountPairingAttempt", func() error { _, _, err := p.CountPairingAttempt(ctx, hash("c"), now, time.Minute); return err }},
		{"PairedDevices", func() error { _, err := p.PairedDevices(ctx, "s"); return err }},
	}
	for _, c := range calls {
		done := make(chan error, 1)
		go func() { done <- c.call() }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("%s with the server down = %v, want ErrUnavailable", c.name, err)
			} else {
				t.Logf("%s: %v", c.name, err)
			}
		case <-time.After(timeout + 10*time.Second):
			t.Fatalf("%s with the server down did not return", c.name)
		}
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// The pool reconnects by itself: poll (bounded) until a read works.
	// Every failure seen meanwhile must be ErrUnavailable.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := p.Device(ctx, "d1")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Device while the server comes back = %v, want ErrUnavailable", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover within 30 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := p.TouchDevice(ctx, "d1", "after", "linux", now); err != nil {
		t.Errorf("write after the restart: %v", err)
	}
	if d, err := p.DeviceByToken(ctx, hash("d1")); err != nil || d.Name != "after" {
		t.Errorf("device after the restart = %+v, %v", d, err)
	}
}

// TestOpenURL picks the backend from the --store value and never shows a
// password in its errors.
func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := OpenURL(ctx, dir, "")
	if err != nil {
		t.Fatalf("OpenURL(empty): %v", err)
	}
	if _, ok := s.(*SQLite); !ok {
		t.Errorf("OpenURL(empty) = %T, want *SQLite", s)
	}
	s.Close()

	for _, bad := range []string{"mysql://u:sekrit@h/db", "sekrit", "file:///tmp/x.db", "postgres:sekrit"} {
		_, err := OpenURL(ctx, dir, bad)
		if err == nil || strings.Contains(err.Error(), "sekrit") {
			t.Errorf("OpenURL(%q) = %v, want an error without the secret", bad, err)
		}
	}

	// A server that is not there: ErrUnavailable, quickly (refused).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	_, err = OpenURL(ctx, dir, fmt.Sprintf("postgresql://u:sekrit@127.0.0.1:%d/db?sslmode=disable", port))
	if !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "sekrit") {
		t.Errorf("OpenURL(closed port) = %v, want ErrUnavailable without the password", err)
	}

	url := pgtest.DB(t)
	s, err = OpenURL(ctx, dir, url)
	if err != nil {
		t.Fatalf("OpenURL(postgres): %v", err)
	}
	defer s.Close()
	if _, ok := s.(*PostgreSQL); !ok {
		t.Errorf("OpenURL(%s) = %T, want *PostgreSQL", url, s)
	}
}

// TestPostgresMapErr checks the error table of mapErr for errors that are
// hard to provoke for real; TestPostgresRestart provokes the connection
// ones.
func TestPostgresMapErr(t *testing.T) {
	p := &PostgreSQL{where: "postgres test"}
	ctx := context.Background()
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "m"} }
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"no rows", pgx.ErrNoRows, ErrNotFound},
		{"unique", pg("23505"), ErrConflict},
		{"foreign key", pg("23503"), ErrNotFound},
		{"admin shutdown", pg("57P01"), ErrUnavailable},
		{"cannot connect now", pg("57P03"), ErrUnavailable},
		{"too many connections", pg("53300"), ErrUnavailable},
		{"connection failure", pg("08006"), ErrUnavailable},
		{"serialization", pg("40001"), ErrUnavailable},
		{"read-only standby", pg("25006"), ErrUnavailable},
		{"check violation", pg("23514"), nil},
		{"syntax", pg("42601"), nil},
		{"eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), ErrUnavailable},
		{"net", &net.OpError{Op: "dial", Err: errors.New("refused")}, ErrUnavailable},
		{"own timeout", fmt.Errorf("x: %w", context.DeadlineExceeded), ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.mapErr(ctx, "op", tt.err)
			if tt.want == nil {
				for _, e := range []error{ErrNotFound, ErrConflict, ErrUnavailable, ErrExpired} {
					if errors.Is(got, e) {
						t.Errorf("mapErr(%v) = %v, want none of the sentinels", tt.err, got)
					}
				}
				return
			}
			if !errors.Is(got, tt.want) {
				t.Errorf("mapErr(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.mapErr(cctx, "op", context.Canceled); !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
		t.Errorf("a canceled caller maps to %v, want context.Canceled only", err)
	}
}

// TestPostgresLeastPrivilege opens a current database as a user that may
// read and write the tables but not create any (PostgreSQL 15's default for
// the public schema): a relay node needs no more once the schema is there.
func TestPostgresLeastPrivilege(t *testing.T) {
	url := pgtest.DB(t)
	owner := openPostgresTest(t, url, pgOptions{})
	ctx := context.Background()
	for _, q := range []string{
		`CREATE ROLE relay_rw LOGIN`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO relay_rw`,
		`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO relay_rw`,
	} {
		if _, err := owner.pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		for _, q := range []string{`DROP OWNED BY relay_rw`, `DROP ROLE relay_rw`} {
			owner.pool.Exec(context.WithoutCancel(ctx), q)
		}
	})
	rw := openPostgresTest(t, strings.Replace(url, "postgres@", "relay_rw@", 1), pgOptions{})
	if err := rw.CreateDevice(ctx, Device{ID: "d1", CreatedAt: time.Now()}, hash("d1")); err != nil {
		t.Errorf("CreateDevice as relay_rw: %v", err)
	}
}
