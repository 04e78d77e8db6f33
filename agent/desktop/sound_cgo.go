//go:build cgo

package desktop

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/faiface/beep"
	"github.com/faiface/beep/speaker"

	"github.com/tether-desktop/tether/protocol"
)

// Bounds that keep Beep from hanging on a sound device that does not answer.
const (
	openBound = 5 * time.Second // speaker.Init may block in the driver (e.g. a busy card)
	// idleClose is how long the device stays open after a beep: long enough
	// for a burst of button presses, short enough not to keep waking the CPU
	// (and holding the device) to write silence.
	idleClose = 2 * time.Second
	playSlack = 2 * time.Second // beyond the tone and two buffers, before giving up
)

// sound owns faiface/beep's speaker, which is process-global. oto v0.7.1
// under the speaker panics if a second context is created while one is open,
// but a failed NewContext leaves nothing behind and may be retried; so the
// speaker is opened by one attempt at a time, only while closed, and closed
// again when idle (it writes silence to the device all the while it is open).
//
// speaker.Init and speaker.Close run only in goroutines tracked by ops and
// serialised by spk, never under mu: if a broken driver blocks one of them,
// only that goroutine waits, and callers give up after a bound.
type sound struct {
	log       *slog.Logger
	idleAfter time.Duration // close the device after this long without beeps

	spk sync.Mutex     // serialises speaker.Init and speaker.Close
	ops sync.WaitGroup // goroutines calling into the speaker

	mu      sync.Mutex
	open    bool          // speaker.Init succeeded and Close has not run since
	opening chan struct{} // closed when the running open attempt ends; nil when none runs
	err     error         // the reason the last open attempt failed, nil if it did not
	tried   time.Time     // when the last open attempt ended; zero before the first
	playing int           // beeps between acquire and release
	idleGen int           // invalidates idle timers armed before the latest
	idle    *time.Timer
	closed  bool
}

func newSound(log *slog.Logger) *sound {
	quietAudioLibrary()
	return &sound{log: log, idleAfter: idleClose}
}

func (s *sound) beep(ctx context.Context, hz int, d time.Duration) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	t := newTone(sampleRate, float64(hz), d)
	done := make(chan struct{})
	speaker.Play(beep.Seq(t, beep.Callback(func() { close(done) })))
	bound := time.NewTimer(d + 2*bufferTime + playSlack)
	defer bound.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-bound.C:
		t.Stop()
		return protocol.Errorf(protocol.CodeUnavailable, "the sound device stopped playing")
	}
}

// acquire opens the speaker if needed and counts a beep in progress.
func (s *sound) acquire(ctx context.Context) error {
	for range 2 { // a second round only if the speaker was closed again while we waited
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return protocol.Errorf(protocol.CodeUnavailable, "the agent is stopping")
		}
		if s.open {
			s.playing++ // the idle timer leaves the speaker open while playing > 0
			s.mu.Unlock()
			return nil
		}
		ch := s.startOpen()
		s.mu.Unlock()
		if err := wait(ctx, ch, openBound); err != nil {
			return err
		}
		s.mu.Lock()
		err := s.err
		s.mu.Unlock()
		if err != nil {
			return protocol.Errorf(protocol.CodeUnavailable, "%v", err)
		}
	}
	return protocol.Errorf(protocol.CodeUnavailable, "the sound device closed while opening")
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
		err := speaker.Init(sampleRate, bufferFrames)
		s.spk.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		defer close(ch)
		s.opening, s.tried = nil, time.Now()
		if err != nil {
			s.err = fmt.Errorf("no sound device: %w", err)
			s.log.Info("sound device unavailable", "err", err)
			return
		}
		s.err = nil
		s.open = true
		if s.closed {
			s.closeSpeaker()
			return
		}
		s.log.Debug("sound device open", "rate", sampleRate, "buffer", bufferTime)
		if s.playing == 0 {
			s.armIdle()
		}
	})
	return ch
}

// closeSpeaker closes the open speaker in the background. s.mu must be held.
func (s *sound) closeSpeaker() {
	s.open = false
	s.ops.Go(func() {
		s.spk.Lock()
		defer s.spk.Unlock()
		speaker.Close()
	})
}

// armIdle schedules the speaker to close after idleAfter without beeps.
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
		if gen == s.idleGen && s.open && s.playing == 0 {
			s.closeSpeaker()
			s.log.Debug("sound device closed after idle")
		}
	})
}

// unavailable reports why beep cannot run, "" if it can. The first call opens
// the speaker to find out (waiting at most checkBound); later calls answer
// from the last attempt, and after a failure start a new attempt in the
// background at most every recheckEvery.
func (s *sound) unavailable() string {
	s.mu.Lock()
	if s.open || (s.err == nil && !s.tried.IsZero()) {
		s.mu.Unlock()
		return ""
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

// close closes the speaker and waits, at most openBound, for every goroutine
// that calls into it.
func (s *sound) close() {
	s.mu.Lock()
	s.closed = true
	s.idleGen++
	if s.idle != nil {
		s.idle.Stop()
	}
	if s.open {
		s.closeSpeaker()
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
