package agent

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// clockWatch tells when the wall clock was set or the computer woke from
// suspend, without a timer: a CLOCK_REALTIME timerfd armed far in the
// future with TFD_TIMER_CANCEL_ON_SET is cancelled by the kernel at both
// (timekeeping_resume notifies timerfd as a clock_was_set). Linux only;
// elsewhere the pump compares the clocks every sleepCheck.
//
// After each notice the timer is disarmed for clockHoldOff: a machine whose
// clock is stepped again and again (the VMs these figures were measured on
// step it ten times a second for minutes at a time) would otherwise wake
// the agent at every step. At the end of the hold-off the timer is armed
// again and a notice is sent once more, so that the clocks are compared
// after a suspend that fell in it.
type clockWatch struct {
	f       *os.File
	wg      sync.WaitGroup
	ch      chan struct{} // cap 1: the clock jumped since the last receive
	done    chan struct{} // closed by close
	holdOff time.Duration

	// The kernel's side; tests replace them.
	wait  func() error              // blocks until the timer is cancelled (nil) or the watch fails
	armed func(on bool) error       // arms the timer, or disarms it
	after func(time.Duration) timer // the hold-off's timer
}

// timer is what the hold-off waits on: time.Timer's channel and Stop.
type timer interface {
	C() <-chan time.Time
	Stop() bool
}

type realTimer struct{ *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.Timer.C }

// clockWatchAvailable reports whether watchClock works on this system.
const clockWatchAvailable = true

// clockHoldOff is how long the clock watch stays disarmed after a notice.
const clockHoldOff = 30 * time.Second

// watchClock starts the watch. The reader is a goroutine parked in the
// runtime's poller: no wakeup until the kernel cancels the timer.
func watchClock() (*clockWatch, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	w := newClockWatch(clockHoldOff)
	w.armed = func(on bool) error { return armTimerfd(fd, on) }
	if err := w.armed(true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	w.f = os.NewFile(uintptr(fd), "timerfd") // non-blocking: joins the poller
	w.wait = func() error {
		buf := make([]byte, 8)
		for {
			_, err := w.f.Read(buf)
			if err == nil {
				continue // the far timer fired: nothing happened
			}
			if errors.Is(err, unix.ECANCELED) {
				return nil
			}
			return err // closed
		}
	}
	w.start()
	return w, nil
}

func newClockWatch(holdOff time.Duration) *clockWatch {
	return &clockWatch{ch: make(chan struct{}, 1), done: make(chan struct{}), holdOff: holdOff,
		after: func(d time.Duration) timer { return realTimer{time.NewTimer(d)} }}
}

// armTimerfd sets the timer ten years ahead, to be cancelled by a clock
// change (it never fires), or disarms it: a disarmed timer is not
// cancelled, and wakes nobody.
func armTimerfd(fd int, on bool) error {
	var spec unix.ItimerSpec
	flags := 0
	if on {
		spec.Value = unix.NsecToTimespec(time.Now().AddDate(10, 0, 0).UnixNano())
		flags = unix.TFD_TIMER_ABSTIME | unix.TFD_TIMER_CANCEL_ON_SET
	}
	if err := unix.TimerfdSettime(fd, flags, &spec, nil); err != nil {
		return fmt.Errorf("timerfd settime: %w", err)
	}
	return nil
}

func (w *clockWatch) start() { w.wg.Go(w.run) }

// jumped is ready when the clock was set or the computer resumed.
func (w *clockWatch) jumped() <-chan struct{} { return w.ch }

// close stops the watch and waits for its reader.
func (w *clockWatch) close() {
	close(w.done)
	if w.f != nil {
		w.f.Close()
	}
	w.wg.Wait()
}

// run tells of every cancellation, with a hold-off after each (see
// clockWatch), until the watch is closed or fails.
func (w *clockWatch) run() {
	for {
		if w.wait() != nil {
			return // closed, or a real error: no more news
		}
		w.tell()
		if w.armed(false) != nil {
			return
		}
		t := w.after(w.holdOff)
		select {
		case <-w.done:
			t.Stop()
			return
		case <-t.C():
		}
		if w.armed(true) != nil {
			return // the timer cannot be re-armed: no more news
		}
		w.tell() // a suspend in the hold-off is seen by comparing the clocks
	}
}

func (w *clockWatch) tell() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}
