package pgtest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// TestServerStopStart: a fresh database takes statements; a stopped server
// refuses connections; started again it serves the same data.
func TestServerStopStart(t *testing.T) {
	s := Start(t)
	url := s.NewDB(t)
	if !strings.HasPrefix(url, "postgres://postgres@127.0.0.1:") {
		t.Errorf("URL = %q", url)
	}
	db := url[strings.LastIndex(url, "/")+1 : strings.Index(url, "?")]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Exec(ctx, db, `CREATE TABLE t (v int); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, db, `SELECT 1`); err == nil {
		t.Fatal("a stopped server answered")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, db, `INSERT INTO t SELECT v + 1 FROM t`); err != nil {
		t.Errorf("after the restart: %v", err)
	}
	if other := s.NewDB(t); other == url {
		t.Errorf("two databases with one URL %q", url)
	}
}

// TestMissingPostgres: without the programs Available says why, so tests
// skip (or fail when required).
func TestMissingPostgres(t *testing.T) {
	old := BinDir
	BinDir = t.TempDir()
	defer func() { BinDir = old }()
	if err := Available(); err == nil || !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Errorf("Available() = %v, want the missing programs named", err)
	}
	t.Setenv("TETHER_REQUIRE_POSTGRES", "")
	t.Setenv("TETHER_REQUIRE_DESKTOP", "")
	if required() {
		t.Error("required without the variables")
	}
	t.Setenv("TETHER_REQUIRE_POSTGRES", "1")
	if !required() {
		t.Error("not required with TETHER_REQUIRE_POSTGRES=1")
	}
}
