package agent

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dirWatch tells when a file of one directory was written, replaced or
// removed, through inotify: the agent then sleeps between edits instead of
// polling. Linux only; other systems poll (watch_other.go).
type dirWatch struct {
	f    *os.File
	wg   sync.WaitGroup
	ch   chan struct{} // cap 1: something named in names changed
	gone chan struct{} // closed when the watch ended (the directory went away, or an error)
}

// watchDir starts watching dir for changes of the files named in names.
// The reader is a goroutine parked in the runtime's poller: it costs no
// wakeup until the kernel reports an event. close stops it and waits.
func watchDir(dir string, names ...string) (*dirWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	const mask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_CREATE | unix.IN_DELETE |
		unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("inotify watch %s: %w", dir, err)
	}
	// A non-blocking descriptor in os.NewFile joins the runtime's poller, so
	// Read parks the goroutine and Close wakes it.
	w := &dirWatch{f: os.NewFile(uintptr(fd), "inotify:"+dir), ch: make(chan struct{}, 1), gone: make(chan struct{})}
	w.wg.Go(func() { w.read(names) })
	return w, nil
}

// changed is ready when a watched file changed since the last receive.
func (w *dirWatch) changed() <-chan struct{} { return w.ch }

// ended is closed when the watch stopped on its own (the directory was
// removed or moved, or inotify failed); the caller then polls.
func (w *dirWatch) ended() <-chan struct{} { return w.gone }

// close stops the watch and waits for its reader.
func (w *dirWatch) close() {
	w.f.Close()
	w.wg.Wait()
}

// read turns the kernel's events into signals on ch until the watch ends.
func (w *dirWatch) read(names []string) {
	defer close(w.gone)
	buf := make([]byte, 4096) // many events at once; one event is at most 16+NAME_MAX+1 bytes
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return // closed, or a real error: the caller polls from now on
		}
		hit, end := parseEvents(buf[:n], names)
		if hit {
			select {
			case w.ch <- struct{}{}:
			default: // a signal is already waiting: one reload covers both
			}
		}
		if end {
			return
		}
	}
}

// parseEvents reports whether buf's inotify events name one of names, and
// whether the watch itself ended (its directory removed or moved, the
// kernel's queue overflowed: in both cases the caller must look itself).
func parseEvents(buf []byte, names []string) (hit, end bool) {
	for len(buf) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
		size := unix.SizeofInotifyEvent + int(ev.Len)
		if size > len(buf) {
			break
		}
		name := buf[unix.SizeofInotifyEvent:size]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		buf = buf[size:]
		switch {
		case ev.Mask&unix.IN_Q_OVERFLOW != 0:
			hit = true // events were lost: reload to be sure
		case ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0:
			hit, end = true, true
		default:
			for _, n := range names {
				if string(name) == n {
					hit = true
				}
			}
		}
	}
	return hit, end
}
