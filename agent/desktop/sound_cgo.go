//go:build cgo

package desktop

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/faiface/beep"

	"github.com/tether-desktop/tether/protocol"
)

// Bounds that keep Beep from hanging on a sound device that does not answer.
const (
	openBound = 5 * time.Second // opening may block in the driver (e.g. a busy card)
	// idleClose is how long the device stays open after a beep: long enough
	// for a burst of button presses, short enough not to hold the device
	// (nor, with faiface/beep's speaker, keep waking the CPU to write
	// silence) while nobody beeps.
	idleClose = 2 * time.Second
	playSlack = 2 * time.Second // beyond the tone and two buffers, before giving up
)

// speakerDevice is an open sound device that mixes what it is given to play
// (alsa_linux.go on Linux, faiface/beep's speaker elsewhere). At most one is
// open at a time. play is safe from any goroutine and does not block; done is
// closed (never, for devices that cannot tell) when the device failed and
// plays no more, failure then says why; close is called once and blocks while
// the driver closes.
type speakerDevice interface {
	play(beep.Streamer)
	done() <-chan struct{}
	failure() error
	close()
}

// sound owns the process's one speakerDevice. Opening two at once is not
// allowed (oto under faiface/beep's speaker panics), but a failed open leaves
// nothing behind and may be retried; so the device is opened by one attempt
// at a time, only while closed, and closed again when idle, so that it is
// not held (and, on some drivers, fed silence) while nobody beeps.
//
// openSpeaker and close run only in goroutines tracked by ops and serialised
// by spk, never under mu: if a broken driver blocks one of them, only that
// goroutine waits, and callers give up after a bound.
//
// Whether the device can be opened is logged once per change (unavailable,
// with the reason on one line, then available again), not at every attempt.
type sound struct {
	log       *slog.Logger
	idleAfter time.Duration // close the device after this long without beeps

	spk sync.Mutex     // serialises openSpeaker and closing
	ops sync.WaitGroup // goroutines calling into the device

	mu      sync.Mutex
	dev     speakerDevice // the open device; nil when closed
	opening chan struct{} // closed when the running open attempt ends; nil when none runs
	err     error         // the reason the last open attempt failed, nil if it did not
	tried   time.Time     // when the last open attempt ended; zero before the first
	logged  availability  // what was last logged
	playing int           // beeps between acquire and release
	idleGen int           // invalidates idle timers armed before the latest
	idle    *time.Timer
	closed  bool

	// soundPresence's answer before the first open attempt, cached
	presence      recheck
	presenceWhy   string
	presenceKnown bool
}

func newSound(log *slog.Logger) *sound {
	return &sound{log: log, idleAfter: idleClose}
}

func (s *sound) beep(ctx context.Context, hz int, d time.Duration) error {
	dev, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release()
	t := newTone(sampleRate, float64(hz), d)
	done := make(chan struct{})
	dev.play(beep.Seq(t, beep.Callback(func() { close(done) })))
	bound := time.NewTimer(d + 2*bufferTime + playSlack)
	defer bound.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-dev.done():
		ferr := dev.failure()
		if ferr == nil { // closed under us: the agent is stopping
			return protocol.Errorf(protocol.CodeUnavailable, "the sound device was closed")
		}
		err := fmt.Errorf("the sound device stopped: %s", ferr.Error())
		s.failed(dev, err)
		return protocol.Errorf(protocol.CodeUnavailable, "%v", err)
	case <-bound.C:
		t.Stop()
		return protocol.Errorf(protocol.CodeUnavailable, "the sound device stopped playing")
	}
}

// acquire opens the device if needed, counts a beep in progress and returns
// the device. The beep is counted from the start, so that the idle timer
// cannot close a device that was opened for it before it plays.
func (s *sound) acquire(ctx context.Context) (speakerDevice, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, protocol.Errorf(protocol.CodeUnavailable, "the agent is stopping")
	}
	s.playing++ // the idle timer leaves the device open while playing > 0
	if dev := s.dev; dev != nil {
		s.mu.Unlock()
		return dev, nil
	}
	ch := s.startOpen()
	s.mu.Unlock()
	if err := wait(ctx, ch, openBound); err != nil {
		s.release()
		return nil, err
	}
	s.mu.Lock()
	dev, err, closed := s.dev, s.err, s.closed
	s.mu.Unlock()
	switch {
	case dev != nil:
		return dev, nil
	case err != nil:
		s.release()
		return nil, protocol.Errorf(protocol.CodeUnavailable, "%v", err)
	case closed:
		s.release()
		return nil, protocol.Errorf(protocol.CodeUnavailable, "the agent is stopping")
	default: // not reached: only failed (which sets err) and close (closed) close it now
		s.release()
		return nil, protocol.Errorf(protocol.CodeUnavailable, "the sound device closed while opening")
	}
}

func (s *sound) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.playing--
	if s.playing == 0 {
		s.armIdle()
	}
}

// startOpen starts an open attempt unless one runs and returns the channel
// closed when it ends. s.mu must be held.
func (s *sound) startOpen() chan struct{} {
	if s.opening != nil {
		return s.opening
	}
	ch := make(chan struct{})
	s.opening = ch
	s.ops.Go(func() {
		s.spk.Lock()
		dev, err := openSpeaker(sampleRate, bufferFrames)
		s.spk.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		defer close(ch)
		s.opening, s.tried = nil, time.Now()
		if err != nil {
			// The text only: a wrapped error may print a stack with %+v.
			s.err = fmt.Errorf("no sound device: %s", err.Error())
			s.logAvailability()
			return
		}
		s.err = nil
		s.dev = dev
		s.logAvailability()
		if s.closed {
			s.closeDevice()
			return
		}
		s.log.Debug("sound device open", "rate", sampleRate, "buffer", bufferTime)
		if s.playing == 0 {
			s.armIdle()
		}
	})
	return ch
}

// availability is whether the sound device could be opened, as last logged.
type availability int

const (
	soundUnknown availability = iota // nothing logged yet
	soundAvailable
	soundUnavailable
)

// logAvailability logs whether the device can be opened when that changed
// since it was last logged: unavailable (with the reason, one line), or
// available again. The first success is not logged (Debug says it opened);
// a new reason while still unavailable goes to Debug. s.mu must be held.
func (s *sound) logAvailability() {
	now := soundAvailable
	if s.err != nil {
		now = soundUnavailable
	}
	was := s.logged
	s.logged = now
	switch {
	case now == soundUnavailable && was != soundUnavailable:
		s.log.Info("sound device unavailable", "reason", s.err.Error())
	case now == soundUnavailable:
		s.log.Debug("sound device still unavailable", "reason", s.err.Error())
	case was == soundUnavailable:
		s.log.Info("sound device available again")
	}
}

// failed records that dev stopped playing because of err, and closes it so
// that the next beep opens the device again.
func (s *sound) failed(dev speakerDevice, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dev != dev {
		return // another beep saw it first
	}
	s.err, s.tried = err, time.Now()
	s.logAvailability()
	s.closeDevice()
}

// closeDevice closes the open device in the background. s.mu must be held.
func (s *sound) closeDevice() {
	dev := s.dev
	s.dev = nil
	s.ops.Go(func() {
		s.spk.Lock()
		defer s.spk.Unlock()
		dev.close()
	})
}

// armIdle schedules the device to close after idleAfter without beeps.
// s.mu must be held.
func (s *sound) armIdle() {
	s.idleGen++
	gen := s.idleGen
	if s.idle != nil {
		s.idle.Stop()
	}
	s.idle = time.AfterFunc(s.idleAfter, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if gen == s.idleGen && s.dev != nil && s.playing == 0 {
			s.closeDevice()
			s.log.Debug("sound device closed after idle")
		}
	})
}

// unavailable reports why beep cannot run, "" if it can. Before the first
// beep it answers from soundPresence (cached, see recheckEvery) where that
// can tell, opening nothing;
// elsewhere the first call opens the device to find out (waiting at most
// checkBound). Once the device was opened, calls answer from the last
// attempt, and after a failure start a new attempt in the background at
// most every recheckEvery.
func (s *sound) unavailable() string {
	s.mu.Lock()
	if s.dev != nil || (s.err == nil && !s.tried.IsZero()) {
		s.mu.Unlock()
		return ""
	}
	if s.tried.IsZero() && s.opening == nil {
		if s.presence.due() {
			why, known := soundPresence()
			s.presence.ran(known == s.presenceKnown && why == s.presenceWhy)
			s.presenceWhy, s.presenceKnown = why, known
		}
		if s.presenceKnown {
			s.mu.Unlock()
			return s.presenceWhy
		}
	}
	if s.tried.IsZero() {
		ch := s.startOpen()
		s.mu.Unlock()
		if err := wait(context.Background(), ch, checkBound); err != nil {
			return protocol.AsError(err).Message
		}
		s.mu.Lock()
	} else if s.opening == nil && time.Since(s.tried) >= recheckEvery {
		s.startOpen()
	}
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err.Error()
	}
	return ""
}

// recheck makes the next unavailable look for a sound device again.
func (s *sound) recheck() {
	s.mu.Lock()
	s.presence.expire()
	s.mu.Unlock()
}

// close closes the device and waits, at most openBound, for every goroutine
// that calls into it.
func (s *sound) close() {
	s.mu.Lock()
	s.closed = true
	s.idleGen++
	if s.idle != nil {
		s.idle.Stop()
	}
	if s.dev != nil {
		s.closeDevice()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.ops.Wait(); close(done) }()
	if err := wait(context.Background(), done, openBound); err != nil {
		s.log.Warn("sound device did not close", "bound", openBound)
	}
}

// wait waits for ch to close, ctx to end or bound to pass.
func wait(ctx context.Context, ch <-chan struct{}, bound time.Duration) error {
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return protocol.Errorf(protocol.CodeUnavailable, "the sound device did not open within %v", bound)
	}
}
