package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tether-desktop/tether/relay/store"
)

// racers is how many goroutines race in each round, split over two stores
// on the same storage (two relay nodes).
const racers = 16

// race runs fn(i, s) for i in [0, racers) at once, half on a and half on b.
func race(a, b store.Store, fn func(i int, s store.Store)) {
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range racers {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			<-start
			fn(i, s)
		})
	}
	close(start)
	wg.Wait()
}

// testRaceForOneCode: many redeemers of one code on two stores: exactly one
// gets the device, the others ErrNotFound.
func testRaceForOneCode(t *testing.T, open Open) {
	a, another := open(t)
	b := another()
	ctx := context.Background()
	mustCreateDevice(t, a, "d1", base)
	for r := range 5 {
		code := hash(fmt.Sprintf("code-%d", r))
		if err := a.CreatePairingCode(ctx, code, "d1", base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		devs := make([]string, racers)
		errs := make([]error, racers)
		race(a, b, func(i int, s store.Store) { devs[i], errs[i] = s.RedeemPairingCode(ctx, code, base) })
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil && devs[i] == "d1":
				wins++
			case errors.Is(err, store.ErrNotFound):
			default:
				t.Errorf("round %d racer %d: %q, %v", r, i, devs[i], err)
			}
		}
		if wins != 1 {
			t.Errorf("round %d: %d winners, want exactly 1", r, wins)
		}
	}
}

// testRaceForAttempts: attempts on one code counted from two stores at once
// are each counted once: the counts returned are exactly 1..racers.
func testRaceForAttempts(t *testing.T, open Open) {
	a, another := open(t)
	b := another()
	ctx := context.Background()
	counts := make([]int, racers)
	errs := make([]error, racers)
	race(a, b, func(i int, s store.Store) {
		counts[i], _, errs[i] = s.CountPairingAttempt(ctx, hash("code"), base, time.Hour)
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	slices.Sort(counts)
	for i, n := range counts {
		if n != i+1 {
			t.Fatalf("counts returned = %v, want 1..%d once each", counts, racers)
		}
	}
}

// testConcurrentWriters: writers on two stores wait for each other instead
// of failing.
func testConcurrentWriters(t *testing.T, open Open) {
	a, another := open(t)
	b := another()
	ctx := context.Background()
	mustCreateSession(t, a, "s1", base)
	const each = 20
	errs := make(chan error, racers*each*3)
	race(a, b, func(w int, s store.Store) {
		for i := range each {
			id := fmt.Sprintf("d%d-%d", w, i)
			if err := s.CreateDevice(ctx, store.Device{ID: id, CreatedAt: base}, hash(id)); err != nil {
				errs <- err
				continue
			}
			if err := s.AddPairing(ctx, "s1", id, base); err != nil {
				errs <- err
			}
			if ok, err := s.IsPaired(ctx, "s1", id); err != nil || !ok {
				errs <- fmt.Errorf("IsPaired(s1, %s) = %v, %v", id, ok, err)
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := b.PairedDevices(ctx, "s1")
	if err != nil || len(got) != racers*each {
		t.Errorf("PairedDevices = %d devices, %v; want %d", len(got), err, racers*each)
	}
}
