package agent

import (
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// quietTicker ticks from a kernel timer (a CLOCK_MONOTONIC timerfd) read
// by a goroutine parked in the runtime's poller, with a raw read. A
// time.Ticker is a runtime timer: the runtime's monitor thread (sysmon)
// sleeps only until the next runtime timer, so every tick woke it too, and
// it then polled for a while (see quietconn_linux.go); the kernel's timer
// wakes only the thread that waits in the poller.
type quietTicker struct {
	fd int
	f  *os.File
	rc syscall.RawConn
	c  chan time.Time // cap 1
	wg sync.WaitGroup

	mu    sync.Mutex // orders a tick's send after Stop's drain
	armed bool
}

// newTicker returns a quietTicker, or the runtime's ticker when the kernel
// timer cannot be made.
func newTicker() ticker {
	t, err := newQuietTicker()
	if err != nil {
		return newTimeTicker()
	}
	return t
}

func newQuietTicker() (*quietTicker, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "timerfd") // non-blocking: joins the poller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	t := &quietTicker{fd: fd, f: f, rc: rc, c: make(chan time.Time, 1)}
	t.wg.Go(t.read)
	return t, nil
}

func (t *quietTicker) C() <-chan time.Time { return t.c }

func (t *quietTicker) Reset(d time.Duration) {
	spec := unix.ItimerSpec{Interval: unix.NsecToTimespec(d.Nanoseconds()), Value: unix.NsecToTimespec(d.Nanoseconds())}
	t.set(&spec, true)
}

func (t *quietTicker) Stop() { t.set(&unix.ItimerSpec{}, false) }

// set arms the timer as spec says and drops a tick not yet received, as
// time.Ticker's Reset and Stop do.
func (t *quietTicker) set(spec *unix.ItimerSpec, armed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.armed = armed
	_ = t.rc.Control(func(fd uintptr) { _ = unix.TimerfdSettime(int(fd), 0, spec, nil) })
	select {
	case <-t.c:
	default:
	}
}

func (t *quietTicker) close() {
	t.f.Close()
	t.wg.Wait()
}

// read sends a tick for every expiry until the timer is closed.
func (t *quietTicker) read() {
	var buf [8]byte
	for {
		var errno syscall.Errno
		err := t.rc.Read(func(fd uintptr) bool {
			_, _, errno = syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), 8)
			return errno != syscall.EAGAIN && errno != syscall.EINTR
		})
		if err != nil || errno != 0 {
			return // closed (or a timerfd that fails: no more ticks)
		}
		t.mu.Lock()
		if t.armed {
			select {
			case t.c <- time.Now():
			default: // the pump has not taken the last tick: this one is folded in
			}
		}
		t.mu.Unlock()
	}
}
