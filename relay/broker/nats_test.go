package broker

import (
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// startNATS runs Debian's nats-server on a free loopback port until t ends,
// skipping t (or failing it under TETHER_REQUIRE_DESKTOP=1) when missing.
func startNATS(t *testing.T) string {
	t.Helper()
	const bin = "/usr/sbin/nats-server"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("TETHER_REQUIRE_DESKTOP") == "1" {
			t.Fatalf("%s required: %v", bin, err)
		}
		t.Skipf("%s not found", bin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "nats://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatal("nats-server did not start")
		}
	}
}

// recorder collects the events a handler receives.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) handle(e Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }

// wait polls for an event matching ok, for at most d.
func (r *recorder) wait(t *testing.T, d time.Duration, what string, ok func(Event) bool) Event {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		r.mu.Lock()
		for _, e := range r.events {
			if ok(e) {
				r.mu.Unlock()
				return e
			}
		}
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, d)
		}
	}
}

func connect(t *testing.T, url, id string, r *recorder) *NATS {
	t.Helper()
	b, err := ConnectNATS([]string{url}, id, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.Start(r.handle, func() uint64 { return 7 }); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNATSBroker checks delivery by node and to all, frames only to
// watchers, heartbeats with the sequence, and a node that stops sending
// them reported down within DeadAfter and a few seconds.
func TestNATSBroker(t *testing.T) {
	url := startNATS(t)
	var ra, rb recorder
	a := connect(t, url, "a", &ra)
	b := connect(t, url, "b", &rb)
	rb.wait(t, 5*time.Second, "heartbeat of a", func(e Event) bool { return e.Kind == Heartbeat && e.From == "a" && e.Seq == 7 })
	if err := a.Send("b", Event{Kind: Command, ID: "x1", Data: []byte(`{"k":1}`)}); err != nil {
		t.Fatal(err)
	}
	rb.wait(t, 5*time.Second, "command", func(e Event) bool { return e.Kind == Command && e.ID == "x1" && e.From == "a" })
	b.Watch("d_1")
	// The subscription is made by the publisher goroutine: publish until one arrives.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		a.PublishFrame("d_1", []byte(`{"type":"telemetry"}`))
		rb.mu.Lock()
		n := 0
		for _, e := range rb.events {
			if e.Kind == Frame && e.Device == "d_1" {
				n++
			}
		}
		rb.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no frame reached the watching node")
		}
	}
	if err := a.Broadcast(Event{Kind: Unpaired, Session: "s", Device: "d_1"}); err != nil {
		t.Fatal(err)
	}
	rb.wait(t, 5*time.Second, "broadcast", func(e Event) bool { return e.Kind == Unpaired && e.From == "a" })
	ra.mu.Lock()
	for _, e := range ra.events {
		if e.From == "a" {
			t.Errorf("node a received its own %s", e.Kind)
		}
	}
	ra.mu.Unlock()

	// Node a dies without a word: b reports it down.
	start := time.Now()
	a.nc.Close()
	rb.wait(t, DeadAfter+3*time.Second, "node_down of a", func(e Event) bool { return e.Kind == NodeDown && e.From == "a" })
	if took := time.Since(start); took < DeadAfter-HeartbeatEvery {
		t.Fatalf("node a reported down after %s, before DeadAfter", took)
	}
}

// TestNATSNeverBlocks checks that a send fails at once, rather than wait,
// when the publisher's queue is full (a stalled publisher).
func TestNATSNeverBlocks(t *testing.T) {
	url := startNATS(t)
	b, err := ConnectNATS([]string{url}, "a", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// Not started: nothing takes from the queue, as if publishing stalled.
	defer b.nc.Close()
	for i := range natsQueue {
		if err := b.Send("b", Event{Kind: Command, ID: strconv.Itoa(i)}); err != nil {
			t.Fatalf("send %d of a queue of %d: %v", i, natsQueue, err)
		}
	}
	start := time.Now()
	if err := b.Send("b", Event{Kind: Command}); err != ErrUnavailable {
		t.Fatalf("send to a full queue: %v, want ErrUnavailable", err)
	}
	if err := b.PublishFrame("d_1", []byte("{}")); err != ErrUnavailable {
		t.Fatalf("frame to a full queue: %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Fatalf("sends to a full queue took %s", took)
	}
	if n := b.Dropped(); n != 2 {
		t.Fatalf("dropped = %d, want 2", n)
	}
}
