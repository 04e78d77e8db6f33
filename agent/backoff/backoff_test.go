package backoff

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

var epoch = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func fixed(r float64) func() float64 { return func() float64 { return r } }

func TestDefaults(t *testing.T) {
	b := New(Policy{})
	if b.p.Base != time.Second || b.p.Max != 60*time.Second || b.p.StableAfter != 60*time.Second || b.p.Clock != Real || b.p.Rand == nil {
		t.Fatalf("defaults not filled: %+v", b.p)
	}
	if b := New(Policy{Base: 10 * time.Second, Max: time.Second}); b.p.Max != 10*time.Second {
		t.Errorf("Max below Base: got Max %v, want it raised to Base", b.p.Max)
	}
}

func TestGrowthAndCap(t *testing.T) {
	// With Rand just below 1 the wait is just below the cap, so the caps show.
	b := New(Policy{Base: time.Second, Max: 20 * time.Second, Rand: fixed(0.999999), Clock: NewFakeClock(epoch)})
	wantCaps := []time.Duration{1, 2, 4, 8, 16, 20, 20, 20}
	for i, c := range wantCaps {
		c *= time.Second
		got := b.Next()
		if got > c || got < c*999/1000 {
			t.Errorf("attempt %d: wait %v, want just under %v", i, got, c)
		}
		if b.Attempt() != i+1 {
			t.Errorf("attempt count %d, want %d", b.Attempt(), i+1)
		}
	}
}

func TestJitterBounds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       float64
		attempt int
		want    time.Duration
	}{
		{"zero at first attempt", 0, 0, 0},
		{"zero when capped", 0, 40, 0},
		{"half at first attempt", 0.5, 0, 500 * time.Millisecond},
		{"half at third attempt", 0.5, 2, 2 * time.Second},
		{"half when capped", 0.5, 40, 30 * time.Second},
		{"almost one at first attempt", 0.999, 0, 999 * time.Millisecond},
		{"almost one when capped", 0.999, 40, 59940 * time.Millisecond},
		{"out of range rand is clamped", 1.5, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New(Policy{Base: time.Second, Max: time.Minute, Rand: fixed(tc.r), Clock: NewFakeClock(epoch)})
			b.attempt = tc.attempt
			if got := b.Next(); got != tc.want {
				t.Errorf("Next() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHugeAttemptCountDoesNotOverflow(t *testing.T) {
	for _, attempt := range []int{62, 63, 64, 1000, math.MaxInt - 1, math.MaxInt} {
		b := New(Policy{Base: time.Second, Max: time.Duration(math.MaxInt64), Rand: fixed(0.5), Clock: NewFakeClock(epoch)})
		b.attempt = attempt
		got := b.Next()
		if got <= 0 || got > time.Duration(math.MaxInt64/2+1) {
			t.Errorf("attempt %d: wait %v, want positive and at most half of Max", attempt, got)
		}
		if b.Attempt() < attempt {
			t.Errorf("attempt %d: count went down to %d", attempt, b.Attempt())
		}
	}
}

func TestResetOnlyAfterStableLink(t *testing.T) {
	for _, tc := range []struct {
		name      string
		up        time.Duration
		wantReset bool
	}{
		{"dropped at once", 0, false},
		{"dropped just before StableAfter", 60*time.Second - time.Nanosecond, false},
		{"dropped at StableAfter", 60 * time.Second, true},
		{"dropped long after", time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewFakeClock(epoch)
			b := New(Policy{Clock: clock, Rand: fixed(0.5)})
			for range 5 {
				b.Next()
			}
			b.Connected()
			clock.Advance(tc.up)
			b.Disconnected()
			want := 5
			if tc.wantReset {
				want = 0
			}
			if got := b.Attempt(); got != want {
				t.Errorf("Attempt() = %d after a link up %v, want %d", got, tc.up, want)
			}
		})
	}
	t.Run("disconnect without connect keeps the count", func(t *testing.T) {
		clock := NewFakeClock(epoch)
		b := New(Policy{Clock: clock})
		b.Next()
		clock.Advance(time.Hour)
		b.Disconnected()
		if b.Attempt() != 1 {
			t.Errorf("Attempt() = %d, want 1", b.Attempt())
		}
	})
}

func TestWaitReturnsOnAdvance(t *testing.T) {
	clock := NewFakeClock(epoch)
	b := New(Policy{Clock: clock})
	done := make(chan error, 1)
	go func() { done <- b.Wait(context.Background(), 5*time.Second) }()
	for clock.Waiters() == 0 {
		time.Sleep(time.Millisecond)
	}
	clock.Advance(4 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v before its time", err)
	case <-time.After(20 * time.Millisecond):
	}
	clock.Advance(time.Second)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait = %v, want nil", err)
		}
	case <-time.After(10 * time.Second): // hang guard only
		t.Fatal("Wait did not return after Advance")
	}
}

func TestWaitReturnsOnCancel(t *testing.T) {
	clock := NewFakeClock(epoch)
	b := New(Policy{Clock: clock})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Wait(ctx, time.Hour) }()
	for clock.Waiters() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second): // hang guard only
		t.Fatal("Wait did not return after cancel")
	}
	if err := b.Wait(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on an ended context = %v, want context.Canceled", err)
	}
}

func TestWaitZeroAndRealClock(t *testing.T) {
	b := New(Policy{})
	if err := b.Wait(context.Background(), 0); err != nil {
		t.Errorf("Wait(0) = %v", err)
	}
	if err := b.Wait(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Wait(1ms) on the real clock = %v", err)
	}
}
