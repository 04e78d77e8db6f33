// Package backoff computes how long the agent waits before it dials the relay
// again: capped exponential backoff with full jitter, reset only after a link
// has stayed up for a while, on a clock that tests can replace.
//
// A Backoff is safe for concurrent use, though one reconnect loop normally
// owns it.
package backoff

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Defaults used by New for zero fields of Policy.
const (
	DefaultBase        = time.Second
	DefaultMax         = 60 * time.Second
	DefaultStableAfter = 60 * time.Second
)

// Policy configures a Backoff. Zero fields take the defaults, filled in by New.
type Policy struct {
	Base, Max   time.Duration  // first cap and largest cap of a wait; defaults 1s and 60s
	StableAfter time.Duration  // a link up this long resets the attempt count; default 60s
	Rand        func() float64 // returns a number in [0,1); default math/rand/v2.Float64
	Clock       Clock          // the time source; default Real
}

// Backoff counts failed attempts and turns them into waits.
type Backoff struct {
	p Policy

	mu      sync.Mutex
	attempt int
	upSince time.Time // zero while the link is down
}

// New returns a Backoff for p, filling its zero fields with the defaults.
// A Max smaller than Base is raised to Base.
func New(p Policy) *Backoff {
	if p.Base <= 0 {
		p.Base = DefaultBase
	}
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	if p.Max < p.Base {
		p.Max = p.Base
	}
	if p.StableAfter <= 0 {
		p.StableAfter = DefaultStableAfter
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	if p.Clock == nil {
		p.Clock = Real
	}
	return &Backoff{p: p}
}

// Next returns the wait before the next attempt and counts the attempt. The
// wait is full jitter: Rand() times min(Max, Base·2^attempt), so it lies in
// [0, cap). It does not block.
func (b *Backoff) Next() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Doubling stops at Max, so a huge attempt count costs at most ~63 steps
	// and never overflows.
	limit := b.p.Base
	for i := 0; i < b.attempt && limit < b.p.Max; i++ {
		if limit > b.p.Max/2 {
			limit = b.p.Max
		} else {
			limit *= 2
		}
	}
	if b.attempt < math.MaxInt {
		b.attempt++
	}
	r := b.p.Rand()
	if r < 0 || r >= 1 {
		r = 0 // a broken Rand must not stretch the wait past the cap
	}
	return time.Duration(r * float64(limit))
}

// Connected records that the link came up now.
func (b *Backoff) Connected() {
	now := b.p.Clock.Now()
	b.mu.Lock()
	b.upSince = now
	b.mu.Unlock()
}

// Disconnected records that the link went down. The attempt count goes back
// to zero only if the link had been up for at least StableAfter, so a relay
// that accepts and then drops every connection still sees growing waits.
func (b *Backoff) Disconnected() {
	now := b.p.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.upSince.IsZero() && now.Sub(b.upSince) >= b.p.StableAfter {
		b.attempt = 0
	}
	b.upSince = time.Time{}
}

// Attempt returns the number of attempts counted since the last reset.
func (b *Backoff) Attempt() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.attempt
}

// Wait blocks for d on the policy's clock. It returns nil when d has passed
// and ctx.Err() if ctx ends first (at once if ctx has already ended).
func (b *Backoff) Wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-b.p.Clock.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
