package agent

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClockKernel plays the kernel's side of a clockWatch: a clock set
// cancels the timer only while it is armed.
type fakeClockKernel struct {
	mu        sync.Mutex
	on        bool
	delivered int           // cancellations the watch was told of
	cancel    chan struct{} // cap 1
	closed    chan struct{}
	holdOffs  chan chan time.Time
}

func newFakeClockKernel() *fakeClockKernel {
	return &fakeClockKernel{cancel: make(chan struct{}, 1), closed: make(chan struct{}), holdOffs: make(chan chan time.Time, 4)}
}

// set is a step of the wall clock.
func (k *fakeClockKernel) set() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.on {
		return
	}
	select {
	case k.cancel <- struct{}{}:
		k.delivered++
	default:
	}
}

func (k *fakeClockKernel) state() (on bool, delivered int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.on, k.delivered
}

type fakeTimer struct{ c chan time.Time }

func (t fakeTimer) C() <-chan time.Time { return t.c }
func (t fakeTimer) Stop() bool          { return true }

func (k *fakeClockKernel) watch() *clockWatch {
	w := newClockWatch(time.Hour)
	w.armed = func(on bool) error { k.mu.Lock(); k.on = on; k.mu.Unlock(); return nil }
	w.wait = func() error {
		select {
		case <-k.cancel:
			return nil
		case <-k.closed:
			return errors.New("closed")
		}
	}
	w.after = func(time.Duration) timer {
		c := make(chan time.Time, 1)
		k.holdOffs <- c
		return fakeTimer{c}
	}
	w.armed(true)
	return w
}

func waitNotice(t *testing.T, w *clockWatch, what string) {
	t.Helper()
	select {
	case <-w.jumped():
	case <-time.After(hangGuard):
		t.Fatalf("no notice: %s", what)
	}
}

// TestClockWatchHoldsOffAfterANotice: after telling of a clock change the
// watch is disarmed until its hold-off ends, so a clock stepped again and
// again (ten times a second on the VMs the benchmarks ran on) wakes the
// agent twice per hold-off instead of at every step; at the end of the
// hold-off it is armed again and tells once more (the pump then compares
// the clocks, which catches a suspend in the hold-off).
func TestClockWatchHoldsOffAfterANotice(t *testing.T) {
	k := newFakeClockKernel()
	w := k.watch()
	w.start()
	defer func() { close(k.closed); w.close() }()

	k.set()
	waitNotice(t, w, "the first step")
	var fire chan time.Time
	select {
	case fire = <-k.holdOffs:
	case <-time.After(hangGuard):
		t.Fatal("no hold-off after a notice")
	}
	if on, _ := k.state(); on {
		t.Fatal("the timer is still armed during the hold-off")
	}
	for range 50 {
		k.set()
	}
	if _, n := k.state(); n != 1 {
		t.Fatalf("%d cancellations reached the watch during its hold-off, want only the first", n)
	}
	select {
	case <-w.jumped():
		t.Fatal("a notice during the hold-off")
	default:
	}

	fire <- time.Now()
	waitNotice(t, w, "the end of the hold-off")
	waitFor(t, "the timer armed again", func() bool { on, _ := k.state(); return on })
	k.set()
	waitNotice(t, w, "a step after the hold-off")
	if _, n := k.state(); n != 2 {
		t.Fatalf("%d cancellations delivered, want 2", n)
	}
}
