package server

import (
	"math"
	"slices"
	"sync"
	"time"
)

// bucket is a token bucket: up to burst tokens, refilled at rate per second.
// It is not safe for concurrent use; its owner locks.
type bucket struct {
	tokens float64
	last   time.Time
}

// take spends one token if there is one. When there is none it returns false
// and how long until there will be.
func (b *bucket) take(now time.Time, rate float64, burst int) (bool, time.Duration) {
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else {
		b.tokens = math.Min(float64(burst), b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// limiter is a set of token buckets by key (a client address, a code hash).
// Safe for concurrent use. Idle keys are forgotten so memory stays bounded
// by the number of keys active in the last few refill periods.
type limiter struct {
	rate  float64
	burst int
	max   int // keys kept at most; past it the oldest idle keys go first

	mu      sync.Mutex
	buckets map[string]*bucket
}

func newLimiter(rate float64, burst, max int) *limiter {
	return &limiter{rate: rate, burst: burst, max: max, buckets: map[string]*bucket{}}
}

// allow spends one token of key. When refused it says when to retry.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.sweep(now)
		}
		b = &bucket{}
		l.buckets[key] = b
	}
	return b.take(now, l.rate, l.burst)
}

// has reports whether key has a token left, without spending it.
func (l *limiter) has(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return true, 0
	}
	tokens := math.Min(float64(l.burst), b.tokens+now.Sub(b.last).Seconds()*l.rate)
	if tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - tokens) / l.rate * float64(time.Second))
}

// sweep forgets buckets that are full again, and if that is not enough,
// the least recently used half. Called with mu held.
func (l *limiter) sweep(now time.Time) {
	full := time.Duration(float64(l.burst) / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < l.max {
		return
	}
	times := make([]time.Time, 0, len(l.buckets))
	for _, b := range l.buckets {
		times = append(times, b.last)
	}
	cut := median(times)
	for k, b := range l.buckets {
		if !b.last.After(cut) {
			delete(l.buckets, k)
		}
	}
}

func median(ts []time.Time) time.Time {
	slices.SortFunc(ts, time.Time.Compare)
	return ts[len(ts)/2]
}

// budget is one relay-wide token bucket. Safe for concurrent use.
type budget struct {
	rate  float64
	burst int

	mu sync.Mutex
	b  bucket
}

func newBudget(rate float64, burst int) *budget { return &budget{rate: rate, burst: burst} }

// take spends one token; when there is none it says when there will be.
func (b *budget) take(now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.take(now, b.rate, b.burst)
}

// refund gives back a token taken for something that turned out not to
// count (a pairing code that was right).
func (b *budget) refund() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.tokens = math.Min(float64(b.burst), b.b.tokens+1)
}

// sampledLog logs an event that can come in floods at most once per
// period: the first at once, the rest as one line with their count. Safe
// for concurrent use.
type sampledLog struct {
	period time.Duration
	log    func(count int, last string)

	mu      sync.Mutex
	next    time.Time // when the next line may be written
	skipped int       // events not logged since the last line
}

// note records one event; last describes it (an address).
func (s *sampledLog) note(now time.Time, last string) {
	s.mu.Lock()
	if now.Before(s.next) {
		s.skipped++
		s.mu.Unlock()
		return
	}
	count := s.skipped + 1
	s.skipped = 0
	s.next = now.Add(s.period)
	s.mu.Unlock()
	s.log(count, last)
}
