//go:build unix

package server

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestTelemetryGathersAfterAWrite checks the writer's gather
// (telemetryGather): coalescible frames that come less than a gather
// after the last write wait for the rest of it, a frame that must arrive
// takes them with it at once. Every frame arrives, in order.
func TestTelemetryGathersAfterAWrite(t *testing.T) {
	out, client := loopbackPair(t)
	p := newPeer(out, "client", 16, 1<<20, newMetrics(), time.Hour, 10*time.Second)
	const gather = 50 * time.Millisecond
	p.gather = gather
	r := bufio.NewReader(client)
	expect := func(what string, want ...string) {
		t.Helper()
		client.SetReadDeadline(time.Now().Add(10 * time.Second))
		for _, w := range want {
			_, payload, err := readServerFrame(r)
			if err != nil || string(payload) != w {
				t.Fatalf("%s: read %q, %v; want %q", what, payload, err, w)
			}
		}
	}
	tel := func(i int) string { return fmt.Sprintf(`{"type":"telemetry","device":"d%d","data":{"i":%d}}`, i, i) }

	// After a quiet spell the first frame goes out at once; the next ones,
	// sent right after, wait until a gather has passed since that write.
	start := time.Now()
	p.sendLatest("d0", []byte(tel(0)))
	expect("the first frame", tel(0))
	for i := 1; i <= 5; i++ {
		p.sendLatest(fmt.Sprintf("d%d", i), []byte(tel(i)))
	}
	expect("the gathered frames", tel(1), tel(2), tel(3), tel(4), tel(5))
	if waited := time.Since(start); waited < gather {
		t.Errorf("the gathered frames came %v after the first was sent; want at least the gather, %v", waited, gather)
	}

	// A gather that never ends by itself: a frame that must arrive ends it.
	p.mu.Lock()
	p.gather = time.Hour
	p.mu.Unlock()
	p.sendLatest("d6", []byte(tel(6))) // waits: the last write was just now
	p.sendLatest("d7", []byte(tel(7)))
	client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := r.Peek(1); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("telemetry within a gather of the last write was written at once (peek: %v)", err)
	}
	result := `{"type":"result","id":"c1","ok":true}`
	p.send([]byte(result))
	expect("a result and the telemetry waiting", result, tel(6), tel(7))

}
