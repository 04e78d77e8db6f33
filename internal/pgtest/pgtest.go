// Package pgtest runs a real PostgreSQL 15 server (Debian's postgresql
// package) for tests: one shared server per test binary run, a fresh
// database per test, and dedicated servers for tests that stop and start
// theirs.
//
// PostgreSQL refuses to run as root, so when the tests run as root every
// server command runs as the postgres user (su postgres -s /bin/sh -c …) in
// a directory that user owns. Tests skip when PostgreSQL is missing, unless
// TETHER_REQUIRE_POSTGRES=1 or TETHER_REQUIRE_DESKTOP=1 is set (scripts/test
// sets them): then they fail. Every wait is bounded.
//
// A package that uses DB must stop the shared server from its TestMain:
//
//	func TestMain(m *testing.M) { code := m.Run(); pgtest.StopShared(); os.Exit(code) }
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BinDir holds the PostgreSQL 15 programs on Debian. Tests of this package
// point it elsewhere; nothing else should.
var BinDir = "/usr/lib/postgresql/15/bin"

// cmdTimeout bounds every server command (initdb, pg_ctl start and stop)
// and every administrative query.
const cmdTimeout = 60 * time.Second

// Server is one PostgreSQL server on 127.0.0.1 with trust authentication
// for the user postgres. Its methods are safe for concurrent use.
type Server struct {
	dir  string // owned by the server's user: data/, log, the Unix socket
	port int
	su   bool // run the server's programs as the postgres user

	mu      sync.Mutex
	running bool
	dbs     int // databases made by NewDB, to name the next
}

// Available says whether PostgreSQL can run here, and why not.
func Available() error {
	for _, p := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(BinDir, p)); err != nil {
			return fmt.Errorf("PostgreSQL 15 not installed (apt-get install postgresql): %w", err)
		}
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return fmt.Errorf("running as root and there is no postgres user to run PostgreSQL as: %w", err)
		}
	}
	return nil
}

// required says whether a missing PostgreSQL fails the tests instead of
// skipping them.
func required() bool {
	return os.Getenv("TETHER_REQUIRE_POSTGRES") == "1" || os.Getenv("TETHER_REQUIRE_DESKTOP") == "1"
}

// skipUnlessAvailable skips t when PostgreSQL cannot run, or fails it when
// it is required.
func skipUnlessAvailable(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if required() {
			t.Fatalf("PostgreSQL required (TETHER_REQUIRE_POSTGRES or TETHER_REQUIRE_DESKTOP is set): %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// Start starts a server of t's own, stopped and removed when t ends. It
// skips t when PostgreSQL cannot run here (see the package doc). It blocks
// until the server accepts connections (a few seconds, initdb included).
func Start(t testing.TB) *Server {
	t.Helper()
	skipUnlessAvailable(t)
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.destroy(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

var shared struct {
	mu  sync.Mutex
	srv *Server
	err error
}

// DB creates a fresh database on the shared server of this test binary
// (started at the first call) and returns its URL. It skips t when
// PostgreSQL cannot run here.
func DB(t testing.TB) string {
	t.Helper()
	skipUnlessAvailable(t)
	shared.mu.Lock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = start()
	}
	srv, err := shared.srv, shared.err
	shared.mu.Unlock()
	if err != nil {
		t.Fatalf("shared PostgreSQL server: %v", err)
	}
	return srv.NewDB(t)
}

// StopShared stops and removes the shared server, if one was started. Call
// it from TestMain after m.Run.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		if err := shared.srv.destroy(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
		shared.srv = nil
	}
}

// start makes a data directory and starts a server on a free port.
func start() (*Server, error) {
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{dir: dir, su: os.Geteuid() == 0}
	if s.su {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: give %s to postgres: %w", dir, err)
		}
	}
	if _, err := s.run("initdb", "-D", s.data(), "--auth=trust", "-U", "postgres",
		"--no-locale", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A port picked free can be taken before the server binds it: try a
	// few.
	for try := 0; ; try++ {
		if s.port, err = freePort(); err == nil {
			if err = s.Start(); err == nil {
				return s, nil
			}
		}
		if try == 2 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Start starts the server (again, after Stop) on its port and waits until
// it accepts connections, at most cmdTimeout.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", s.port, s.dir)
	if _, err := s.run("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "log"),
		"-w", "-t", strconv.Itoa(int(cmdTimeout.Seconds())), "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("%w\nserver log:\n%s", err, lastLines(string(log), 20))
	}
	s.running = true
	return nil
}

// Stop stops the server at once (pg_ctl stop -m immediate: connections are
// cut, no checkpoint) and waits until it is gone, at most cmdTimeout.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil
	}
	if _, err := s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w",
		"-t", strconv.Itoa(int(cmdTimeout.Seconds())), "stop"); err != nil {
		return err
	}
	s.running = false
	return nil
}

// destroy stops the server and removes its directory.
func (s *Server) destroy() error {
	err := s.Stop()
	if rerr := os.RemoveAll(s.dir); rerr != nil && err == nil {
		err = fmt.Errorf("pgtest: remove %s: %w", s.dir, rerr)
	}
	return err
}

// URL is the URL of database db on the server, as user postgres over TCP.
func (s *Server) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDB creates an empty database, named after t, and returns its URL. It
// is left on the server when t ends (the server's directory goes with the
// server).
func (s *Server) NewDB(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.dbs++
	name := fmt.Sprintf("t%d_%s", s.dbs, unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "_"))
	s.mu.Unlock()
	if len(name) > 63 {
		name = name[:63]
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	if err := s.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return s.URL(name)
}

// Exec runs one SQL statement in database db as the superuser.
func (s *Server) Exec(ctx context.Context, db, sql string) error {
	conn, err := pgx.Connect(ctx, s.URL(db))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// run runs one of the server's programs, as the postgres user when the
// tests run as root, in the server's directory, at most cmdTimeout.
func (s *Server) run(prog string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout+5*time.Second)
	defer cancel()
	argv := append([]string{filepath.Join(BinDir, prog)}, args...)
	var cmd *exec.Cmd
	if s.su {
		quoted := make([]string, len(argv))
		for i, a := range argv {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		cmd = exec.CommandContext(ctx, "su", "postgres", "-s", "/bin/sh", "-c", "exec "+strings.Join(quoted, " "))
	} else {
		cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	}
	cmd.Dir = s.dir
	// pg_ctl -l sends the server's own output to the log file, so the
	// server that outlives pg_ctl does not hold these pipes open.
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s", cmdTimeout)
		}
		return out, fmt.Errorf("pgtest: %s %s: %w\n%s", prog, strings.Join(args, " "), err, out)
	}
	return out, nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
