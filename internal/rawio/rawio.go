//go:build unix

// Package rawio reads and writes sockets with raw system calls on Linux.
// Go's scheduler is not told of a raw call, so a process that is otherwise
// idle does not wake its monitor thread (sysmon) for each read and write,
// which on a virtual machine costs more than the call itself: the relay's
// idle command round trip, timed from lean ends, went from 389 to 168 µs
// (medians; docs/BENCHMARKS.md, "Issue 15, relay", step 7). Waiting for
// a socket still goes through Go's netpoller, with its deadlines. On other
// Unix systems the same functions make ordinary system calls.
package rawio

import (
	"io"
	"os"
	"syscall"
)

// Read reads into b from the socket raw, waiting while it has nothing. It
// answers as a net.Conn's Read does: io.EOF once the peer closed, and the
// netpoller's errors (a deadline passed, the socket closed) as they come.
func Read(raw syscall.RawConn, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := raw.Read(func(fd uintptr) bool {
		n, errno = retry(sysRead, fd, b)
		return errno != syscall.EAGAIN // else wait until readable
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, os.NewSyscallError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// TryWrite makes one write of b to the socket raw without waiting and
// returns how much of b it took: none, with EAGAIN, when the socket's
// buffer is full.
func TryWrite(raw syscall.RawConn, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := raw.Write(func(fd uintptr) bool {
		n, errno = retry(sysWrite, fd, b)
		return true
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, errno
	}
	return n, nil
}

// Write writes all of b to the socket raw, waiting while its buffer is
// full, and returns how much it wrote. The socket's write lock is held
// throughout, so concurrent writes do not interleave.
func Write(raw syscall.RawConn, b []byte) (int, error) {
	done := 0
	var errno syscall.Errno
	err := raw.Write(func(fd uintptr) bool {
		for done < len(b) {
			n, e := retry(sysWrite, fd, b[done:])
			switch e {
			case 0:
				done += n
			case syscall.EAGAIN:
				return false // wait until the socket takes more
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return done, err
	case errno != 0:
		return done, os.NewSyscallError("write", errno)
	}
	return done, nil
}

// retry makes call again while a signal interrupts it.
func retry(call func(uintptr, []byte) (int, syscall.Errno), fd uintptr, b []byte) (int, syscall.Errno) {
	for {
		n, errno := call(fd, b)
		if errno != syscall.EINTR {
			return max(n, 0), errno
		}
	}
}
