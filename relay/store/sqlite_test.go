package store

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// base is an instant with a sub-millisecond part, to check that times come
// back at millisecond precision. It is the start of the test run rather than
// a fixed date, so that sessions created at base never look idle for longer
// than SessionIdleTTL by the wall clock SessionByToken reads.
var base = time.Now().UTC().Truncate(time.Second).Add(123_456_789)

func openTest(t testing.TB) (*SQLite, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func hash(s string) []byte { return []byte("h:" + s) }

func mustCreateDevice(t testing.TB, s *SQLite, id string, created time.Time) Device {
	t.Helper()
	d := Device{ID: id, Name: "name-" + id, OS: "linux", CreatedAt: created}
	if err := s.CreateDevice(context.Background(), d, hash("dev-"+id)); err != nil {
		t.Fatalf("CreateDevice(%s): %v", id, err)
	}
	d.CreatedAt = created.Truncate(time.Millisecond)
	return d
}

func mustCreateSession(t testing.TB, s *SQLite, id string) Session {
	t.Helper()
	sess := Session{ID: id, Label: "label-" + id, CreatedAt: base}
	if err := s.CreateSession(context.Background(), sess, hash("sess-"+id)); err != nil {
		t.Fatalf("CreateSession(%s): %v", id, err)
	}
	sess.CreatedAt = base.Truncate(time.Millisecond)
	return sess
}

func sameDevice(a, b Device) bool {
	return a.ID == b.ID && a.Name == b.Name && a.OS == b.OS &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastSeen.Equal(b.LastSeen)
}

func TestOpenPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	// A write makes sure the -wal and -shm files exist.
	mustCreateDevice(t, s, "d1", base)

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode = %o, want 700", got)
	}
	for _, name := range []string{FileName, FileName + "-wal", FileName + "-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("stat %s: %v", name, err)
			continue
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode = %o, want 600", name, got)
		}
	}
}

func TestOpenTightensLooseFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %o, want 600", got)
	}
}

func TestOpenFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) string // returns the dir to open
		want  error
	}{
		{"dir blocked by a file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(p, "data")
		}, ErrUnavailable},
		{"db is a directory", func(t *testing.T) string {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, FileName), 0o700); err != nil {
				t.Fatal(err)
			}
			return dir
		}, ErrUnavailable},
		{"not a database", func(t *testing.T) string {
			dir := t.TempDir()
			junk := bytes.Repeat([]byte("this is not sqlite "), 400)
			if err := os.WriteFile(filepath.Join(dir, FileName), junk, 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}, ErrUnavailable},
		{"schema newer than the code", func(t *testing.T) string {
			dir := t.TempDir()
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.db.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion()+1)); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return dir
		}, errSchemaTooNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t)
			s, err := Open(dir)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
			t.Logf("error (as expected): %v", err)
		})
	}
}

// errAny stands for "an error that is not one of the package's sentinels".
var errAny = errors.New("any other error")

func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want == errAny:
		if err == nil {
			t.Fatal("succeeded, want an error")
		}
		for _, e := range []error{ErrNotFound, ErrConflict, ErrExpired, ErrUnavailable} {
			if errors.Is(err, e) {
				t.Fatalf("error %v is %v, want none of the sentinels", err, e)
			}
		}
	case want != nil && !errors.Is(err, want):
		t.Fatalf("error = %v, want %v", err, want)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	s, dir := openTest(t)
	ctx := context.Background()
	d := mustCreateDevice(t, s, "d1", base)
	mustCreateSession(t, s, "s1")
	if err := s.AddPairing(ctx, "s1", "d1", base); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePairingCode(ctx, hash("c"), "d1", base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2, err := Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	got, err := s2.DeviceByToken(ctx, hash("dev-d1"))
	if err != nil || !sameDevice(got, d) {
		t.Errorf("device after reopen = %+v, %v; want %+v", got, err, d)
	}
	if _, err := s2.SessionByToken(ctx, hash("sess-s1")); err != nil {
		t.Errorf("session after reopen: %v", err)
	}
	if ok, err := s2.IsPaired(ctx, "s1", "d1"); err != nil || !ok {
		t.Errorf("pairing after reopen = %v, %v", ok, err)
	}
	if dev, err := s2.RedeemPairingCode(ctx, hash("c"), base); err != nil || dev != "d1" {
		t.Errorf("code after reopen = %q, %v", dev, err)
	}
}

func TestMigrationRerunIsNoop(t *testing.T) {
	s, dir := openTest(t)
	ctx := context.Background()
	mustCreateDevice(t, s, "d1", base)

	schema := func(s *SQLite) string {
		t.Helper()
		rows, err := s.db.Query(`SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			b.WriteString(line + "\n")
		}
		return b.String()
	}
	before := schema(s)
	if v, err := userVersion(ctx, s.db); err != nil || v != SchemaVersion() || v == 0 {
		t.Fatalf("user_version = %d, %v; want %d", v, err, SchemaVersion())
	}
	if err := s.migrate(ctx); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if after := schema(s2); after != before {
		t.Errorf("schema changed on re-run:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if _, err := s2.Device(ctx, "d1"); err != nil {
		t.Errorf("device lost after re-run: %v", err)
	}
	if v, _ := userVersion(ctx, s2.db); v != SchemaVersion() {
		t.Errorf("user_version = %d, want %d", v, SchemaVersion())
	}
}

func TestUnavailable(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// run sets the failure up on a store in dir and returns the error
		// of one write.
		run func(t *testing.T, dir string) error
	}{
		{"read-only database", func(t *testing.T, dir string) error {
			// Tests run as root, which ignores file modes, so the
			// read-only file is simulated with SQLite's mode=ro.
			ro, err := openPath(filepath.Join(dir, FileName), options{readOnly: true})
			if err != nil {
				t.Fatalf("open read-only: %v", err)
			}
			defer ro.Close()
			if _, err := ro.Device(ctx, "d0"); err != nil {
				t.Errorf("read on read-only store: %v", err)
			}
			return ro.CreateDevice(ctx, Device{ID: "d1", CreatedAt: base}, hash("d1"))
		}},
		{"disk full", func(t *testing.T, dir string) error {
			// max_page_count caps the file at its current size: the
			// next page SQLite needs fails with SQLITE_FULL.
			full, err := openPath(filepath.Join(dir, FileName), options{extraPragmas: []string{"max_page_count(1)"}})
			if err != nil {
				t.Fatalf("open capped: %v", err)
			}
			defer full.Close()
			big := strings.Repeat("x", 1<<20)
			return full.CreateDevice(ctx, Device{ID: "d1", Name: big, CreatedAt: base}, hash("d1"))
		}},
		{"locked past the busy timeout", func(t *testing.T, dir string) error {
			s, err := openPath(filepath.Join(dir, FileName), options{busyTimeout: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Another connection holds the write lock.
			other, err := sql.Open("sqlite", filepath.Join(dir, FileName))
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			conn, err := other.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
				t.Fatal(err)
			}
			defer conn.ExecContext(ctx, "ROLLBACK")
			return s.TouchDevice(ctx, "d0", "n", "o", base)
		}},
		{"closed store", func(t *testing.T, dir string) error {
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return s.CreateDevice(ctx, Device{ID: "d1"}, hash("d1"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := openTest(t)
			mustCreateDevice(t, s, "d0", base)
			err := tt.run(t, dir)
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("error = %v, want one wrapping ErrUnavailable", err)
			}
			t.Logf("error (as expected): %v", err)
			// The original store still works.
			if _, err := s.Device(ctx, "d0"); err != nil {
				t.Errorf("store after failure: %v", err)
			}
		})
	}
}

// TestMapErrCodes checks the code table of mapErr for codes that are hard to
// provoke for real; TestUnavailable provokes the main ones.
func TestMapErrCodes(t *testing.T) {
	s := &SQLite{path: "x"}
	ctx := context.Background()
	tests := []struct {
		code int
		want error
	}{
		{sqlite3.SQLITE_CONSTRAINT_UNIQUE, ErrConflict},
		{sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, ErrConflict},
		{sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, ErrNotFound},
		{sqlite3.SQLITE_FULL, ErrUnavailable},
		{sqlite3.SQLITE_READONLY, ErrUnavailable},
		{sqlite3.SQLITE_READONLY_DBMOVED, ErrUnavailable},
		{sqlite3.SQLITE_IOERR_WRITE, ErrUnavailable},
		{sqlite3.SQLITE_CANTOPEN, ErrUnavailable},
		{sqlite3.SQLITE_BUSY, ErrUnavailable},
		{sqlite3.SQLITE_BUSY_SNAPSHOT, ErrUnavailable},
		{sqlite3.SQLITE_LOCKED, ErrUnavailable},
		{sqlite3.SQLITE_CONSTRAINT_NOTNULL, errAny},
		{sqlite3.SQLITE_CONSTRAINT_CHECK, errAny},
		{sqlite3.SQLITE_ERROR, errAny},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			in := codeErr(tt.code)
			err := s.mapErr(ctx, "op", fmt.Errorf("driver: %w", in))
			checkErr(t, err, tt.want)
			if !errors.Is(err, in) && tt.want != ErrConflict {
				t.Errorf("%v does not keep the SQLite error", err)
			}
		})
	}
	if err := s.mapErr(ctx, "op", sql.ErrNoRows); !errors.Is(err, ErrNotFound) {
		t.Errorf("ErrNoRows maps to %v, want ErrNotFound", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.mapErr(cctx, "op", codeErr(sqlite3.SQLITE_INTERRUPT)); !errors.Is(err, context.Canceled) {
		t.Errorf("interrupt under a canceled ctx maps to %v, want context.Canceled", err)
	}
}

// codeErr has the method set of *sqlite.Error, whose fields cannot be set
// from outside the driver.
type codeErr int

func (e codeErr) Error() string { return fmt.Sprintf("sqlite code %d", int(e)) }
func (e codeErr) Code() int     { return int(e) }

// TestOpenOddPaths checks the file: URI escaping: relative paths and names
// with characters that mean something in a URI.
func TestOpenOddPaths(t *testing.T) {
	tests := []struct{ name, dir string }{
		{"relative", "data"},
		{"relative nested", "a/b c"},
		{"uri characters", "we?ird #dir%20&x=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			t.Chdir(root)
			s, err := Open(tt.dir)
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.dir, err)
			}
			mustCreateDevice(t, s, "d1", base)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// The database is where it was asked to be, not elsewhere.
			if _, err := os.Stat(filepath.Join(root, tt.dir, FileName)); err != nil {
				t.Fatalf("database file: %v", err)
			}
			entries, _ := os.ReadDir(root)
			if len(entries) != 1 {
				t.Errorf("root holds %d entries, want 1 (the data dir)", len(entries))
			}
			s2, err := Open(filepath.Join(root, tt.dir))
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if _, err := s2.Device(context.Background(), "d1"); err != nil {
				t.Errorf("device via absolute path: %v", err)
			}
		})
	}
}

func TestDSN(t *testing.T) {
	tests := []struct{ path, prefix string }{
		{"/var/lib/tether/tether.db", "file:///var/lib/tether/tether.db?"},
		{"/a b/we?ird#.db", "file:///a%20b/we%3Fird%23.db?"},
		{"rel/tether.db", "file:rel/tether.db?"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := dsn(tt.path, options{})
			if !strings.HasPrefix(got, tt.prefix) {
				t.Errorf("dsn(%q) = %q, want prefix %q", tt.path, got, tt.prefix)
			}
			for _, want := range []string{"busy_timeout%285000%29", "journal_mode%28WAL%29", "synchronous%28NORMAL%29", "foreign_keys%28ON%29", "_txlock=immediate"} {
				if !strings.Contains(got, want) {
					t.Errorf("dsn(%q) = %q lacks %q", tt.path, got, want)
				}
			}
		})
	}
	if got := dsn("/x.db", options{readOnly: true, busyTimeout: 50 * time.Millisecond}); !strings.Contains(got, "mode=ro") || !strings.Contains(got, "busy_timeout%2850%29") {
		t.Errorf("dsn with options = %q", got)
	}
}

// TestPragmasOnEveryConnection checks that pooled connections, not just the
// first, run with the DSN's pragmas.
func TestPragmasOnEveryConnection(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 4 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		checks := []struct {
			pragma, want string
		}{
			{"journal_mode", "wal"},
			{"synchronous", "1"}, // NORMAL
			{"foreign_keys", "1"},
			{"busy_timeout", "5000"},
		}
		for _, ck := range checks {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+ck.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != ck.want {
				t.Errorf("connection %d: PRAGMA %s = %s, want %s", len(conns), ck.pragma, got, ck.want)
			}
		}
	}
}

// openChildEnv makes this test binary a child of TestConcurrentOpen: its
// value is the store directory the child opens.
const openChildEnv = "TETHER_STORE_OPEN_CHILD"

// TestConcurrentOpen opens one fresh directory at the same moment from
// several goroutines and from two other processes (this test binary run
// again): every open succeeds, the schema is made once, and each sees the
// others' writes. Before the busy retry about 1 run in 100 failed with
// "read schema version: database is locked (SQLITE_BUSY)".
func TestConcurrentOpen(t *testing.T) {
	if dir := os.Getenv(openChildEnv); dir != "" {
		openChild(t, dir)
		return
	}
	dir := filepath.Join(t.TempDir(), "data")
	const n, procs = 4, 2
	// The children say "ready" once started, then wait for a line on stdin,
	// so that their Open and the goroutines' run at the same moment.
	starts := make([]io.WriteCloser, procs)
	outs := make([]*bytes.Buffer, procs)
	cmds := make([]*exec.Cmd, procs)
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentOpen$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), openChildEnv+"="+dir, fmt.Sprintf("TETHER_STORE_OPEN_CHILD_ID=p%d", i))
		outs[i] = &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		var err error
		if starts[i], err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
		hang := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() }) // hang guard only
		defer hang.Stop()
	}
	// A child is ready once its ready file exists (written just before it
	// waits for the start).
	for i := range procs {
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(dir + fmt.Sprintf(".ready-p%d", i)); err == nil {
				break
			}
			if time.Now().After(deadline) { // hang guard only
				t.Fatalf("child %d not ready after a minute", i)
			}
		}
	}
	for _, in := range starts {
		fmt.Fprintln(in, "go")
	}
	stores := make([]*SQLite, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(dir) })
	}
	wg.Wait()
	for i, cmd := range cmds {
		starts[i].Close()
		if err := cmd.Wait(); err != nil { // outs[i] is complete once Wait returns
			t.Errorf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	ctx := context.Background()
	if err := stores[0].CreateSession(ctx, Session{ID: "s", CreatedAt: base}, hash("s")); err != nil {
		t.Fatal(err)
	}
	for i := range procs {
		id := fmt.Sprintf("p%d", i)
		if _, err := stores[n-1].SessionByToken(ctx, hash(id)); err != nil {
			t.Errorf("the session written by child %d is not there: %v", i, err)
		}
	}
	if _, err := stores[n-1].SessionByToken(ctx, hash("s")); err != nil {
		t.Errorf("other handle does not see the write: %v", err)
	}
	if v, err := userVersion(ctx, stores[1].db); err != nil || v != SchemaVersion() {
		t.Errorf("schema version %d (%v), want %d", v, err, SchemaVersion())
	}
}

// openChild is the child of TestConcurrentOpen: it writes its ready file
// beside dir, waits for a line on stdin, opens dir and writes a session named after itself.
func openChild(t *testing.T, dir string) {
	id := os.Getenv("TETHER_STORE_OPEN_CHILD_ID")
	if err := os.WriteFile(dir+".ready-"+id, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatalf("waiting for the start: %v", err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open in child %s: %v", id, err)
	}
	defer s.Close()
	if err := s.CreateSession(context.Background(), Session{ID: id, CreatedAt: base}, hash(id)); err != nil {
		t.Fatalf("CreateSession in child %s: %v", id, err)
	}
}
