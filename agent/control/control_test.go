package control

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// shortDir is a config directory whose socket path fits every Unix limit.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "tc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func serve(t *testing.T, dir string, h Handlers) *Server {
	t.Helper()
	s, err := Listen(dir, h)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

func TestStatusAndStop(t *testing.T) {
	dir := shortDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := Status(ctx, dir, nil); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Status with no server: %v, want ErrNotRunning", err)
	}
	var stopped atomic.Bool
	var s *Server
	s = serve(t, dir, Handlers{
		Status: func() any { return map[string]string{"state": "connected"} },
		Stop:   func() { stopped.Store(true); go s.Close() },
	})
	var st struct{ State string }
	pid, err := Status(ctx, dir, &st)
	if err != nil || pid != os.Getpid() || st.State != "connected" {
		t.Fatalf("Status = %d %+v %v", pid, st, err)
	}
	if _, err := call(ctx, dir, "reboot"); err == nil {
		t.Fatal("an unknown op was answered ok")
	}
	pid, err = Stop(ctx, dir)
	if err != nil || pid != os.Getpid() || !stopped.Load() {
		t.Fatalf("Stop = %d %v (stopped %v)", pid, err, stopped.Load())
	}
	if _, err := Status(ctx, dir, nil); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Status after Stop: %v, want ErrNotRunning", err)
	}
}

func TestOwnerOnlyAndOneAgent(t *testing.T) {
	dir := shortDir(t)
	serve(t, dir, Handlers{Status: func() any { return 1 }})
	checkOwnerOnly(t, dir)
	if _, err := Listen(dir, Handlers{}); err == nil {
		t.Fatal("a second Listen on a live channel succeeded")
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	dir := shortDir(t)
	s, err := Listen(dir, Handlers{Status: func() any { return 1 }})
	if err != nil {
		t.Fatal(err)
	}
	// An agent that died leaves its socket (or control.json) behind.
	leaveBehind(s)
	s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := Status(ctx, dir, nil); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Status on a stale channel: %v, want ErrNotRunning", err)
	}
	serve(t, dir, Handlers{Status: func() any { return 2 }})
	var n int
	if _, err := Status(ctx, dir, &n); err != nil || n != 2 {
		t.Fatalf("Status = %d %v, want 2", n, err)
	}
}
