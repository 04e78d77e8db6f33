package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/internal/pgtest"
)

// crashChildEnv switches the test binary into the child of TestSurvivesKill:
// its value is the store directory.
const crashChildEnv = "TETHER_STORE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// crashChild creates a device, a session and their pairing, prints "ready",
// then keeps committing devices and prints each id after its commit returns,
// until it is killed. It exits by itself after a minute as a hang guard.
func crashChild(dir string) int {
	ctx := context.Background()
	s, err := Open(dir)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	now := time.Now()
	if err := s.CreateDevice(ctx, Device{ID: "d0", Name: "desk", OS: "linux", CreatedAt: now}, hash("dev-d0")); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if err := s.CreateSession(ctx, Session{ID: "s0", Label: "browser", CreatedAt: now}, hash("sess-s0")); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if err := s.AddPairing(ctx, "s0", "d0", now); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	deadline := time.Now().Add(time.Minute)
	for i := 1; time.Now().Before(deadline); i++ {
		id := fmt.Sprintf("d%d", i)
		if err := s.CreateDevice(ctx, Device{ID: id, Name: "n", OS: "o", CreatedAt: now}, hash("dev-"+id)); err != nil {
			fmt.Println("error:", err)
			return 1
		}
		if err := s.AddPairing(ctx, "s0", id, now); err != nil {
			fmt.Println("error:", err)
			return 1
		}
		fmt.Println("committed", id)
	}
	return 2
}

// TestSurvivesKill runs a child process that writes to the store, kills it
// with SIGKILL in the middle of its writes, and checks that the reopened
// store has every row the child saw committed and passes an integrity check.
func TestSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	// Read until ready and then a number of further commits; the reader
	// stops at EOF, which the kill below causes.
	const wantCommits = 200
	sc := bufio.NewScanner(out)
	var committed []string
	ready := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "ready":
			ready = true
		case strings.HasPrefix(line, "committed "):
			committed = append(committed, strings.TrimPrefix(line, "committed "))
		default:
			t.Fatalf("child: %s", line)
		}
		if len(committed) == wantCommits {
			break
		}
	}
	if !ready || len(committed) < wantCommits {
		t.Fatalf("child stopped early: ready=%v, %d commits, scan error %v", ready, len(committed), sc.Err())
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	killed = true
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(interface{ Signaled() bool }); !ok || !ws.Signaled() {
		t.Fatalf("child was not killed by a signal: %v", err)
	}

	s, err := Open(dir)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	var check string
	if err := s.db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	if _, err := s.DeviceByToken(ctx, hash("dev-d0")); err != nil {
		t.Errorf("device d0: %v", err)
	}
	if _, err := s.SessionByToken(ctx, hash("sess-s0")); err != nil {
		t.Errorf("session s0: %v", err)
	}
	for _, id := range append([]string{"d0"}, committed...) {
		if ok, err := s.IsPaired(ctx, "s0", id); err != nil || !ok {
			t.Errorf("pairing s0-%s after kill: %v, %v", id, ok, err)
		}
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM devices").Scan(&n); err != nil {
		t.Fatal(err)
	}
	t.Logf("child saw %d commits before the kill; %d devices on disk", len(committed), n)
}
