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
type clockWatch struct {
	fd int
	f  *os.File
	wg sync.WaitGroup
	ch chan struct{} // cap 1: the clock jumped since the last receive
}

// clockWatchAvailable reports whether watchClock works on this system.
const clockWatchAvailable = true

// watchClock starts the watch. The reader is a goroutine parked in the
// runtime's poller: no wakeup until the kernel cancels the timer.
func watchClock() (*clockWatch, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	w := &clockWatch{fd: fd, ch: make(chan struct{}, 1)}
	if err := w.arm(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	w.f = os.NewFile(uintptr(fd), "timerfd") // non-blocking: joins the poller
	w.wg.Go(w.read)
	return w, nil
}

// arm sets the timer ten years ahead: it never fires, it is only cancelled.
func (w *clockWatch) arm() error {
	at := unix.NsecToTimespec(time.Now().AddDate(10, 0, 0).UnixNano())
	spec := unix.ItimerSpec{Value: at}
	if err := unix.TimerfdSettime(w.fd, unix.TFD_TIMER_ABSTIME|unix.TFD_TIMER_CANCEL_ON_SET, &spec, nil); err != nil {
		return fmt.Errorf("timerfd settime: %w", err)
	}
	return nil
}

// jumped is ready when the clock was set or the computer resumed.
func (w *clockWatch) jumped() <-chan struct{} { return w.ch }

// close stops the watch and waits for its reader.
func (w *clockWatch) close() {
	w.f.Close()
	w.wg.Wait()
}

func (w *clockWatch) read() {
	buf := make([]byte, 8)
	for {
		_, err := w.f.Read(buf)
		if err == nil {
			continue // the far timer fired: nothing happened
		}
		if !errors.Is(err, unix.ECANCELED) || w.arm() != nil {
			return // closed, or the timer cannot be re-armed: no more news
		}
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}
