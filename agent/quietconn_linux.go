package agent

import (
	"context"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// quietConn is the agent's TCP connection to the relay with its reads and
// writes made as raw system calls on the non-blocking socket, waiting for
// readiness through the runtime's poller (syscall.RawConn) as net.Conn
// does.
//
// Why: Go's runtime wakes its monitor thread (sysmon) from its deep sleep
// at any system call made through syscall.Syscall while it sleeps, and
// the monitor then polls every 20 µs while the program runs, then backs
// off: a few context switches for every heartbeat and telemetry sample of
// an agent that is otherwise asleep, dozens when the machine is busy and
// the agent's thread waits for a CPU (perf: runtime.sysmon → usleep was
// 50–80 % of the agent's switches). A raw call does not wake it, and on a
// non-blocking socket it never blocks.
type quietConn struct {
	*net.TCPConn
	rc syscall.RawConn
}

// dialQuiet dials address as net.Dialer does and returns a quietConn.
func dialQuiet(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	return &quietConn{TCPConn: tc, rc: rc}, nil
}

// Read reads as net.Conn does, honouring the read deadline.
func (c *quietConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			if e == syscall.EINTR {
				continue
			}
			n, errno = int(r), e
			return e != syscall.EAGAIN
		}
	})
	return c.result(n, errno, err, true)
}

// Write writes all of b as net.Conn does, honouring the write deadline;
// concurrent writes do not interleave (the poller's write lock is held
// throughout).
func (c *quietConn) Write(b []byte) (int, error) {
	done := 0
	var errno syscall.Errno
	err := c.rc.Write(func(fd uintptr) bool {
		for done < len(b) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[done])), uintptr(len(b)-done))
			switch e {
			case 0:
				done += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait until the socket takes more
			default:
				errno = e
				return true
			}
		}
		return true
	})
	if _, err := c.result(done, errno, err, false); err != nil {
		return done, err
	}
	return done, nil
}

// result turns one raw call's outcome into net.Conn's: a deadline or a
// closed connection from the poller or the errno as an *net.OpError, and
// io.EOF for a read of 0.
func (c *quietConn) result(n int, errno syscall.Errno, pollErr error, read bool) (int, error) {
	op := "write"
	if read {
		op = "read"
	}
	switch {
	case pollErr != nil:
		return 0, &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: pollErr}
	case errno != 0:
		return 0, &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
	case read && n == 0:
		return 0, io.EOF
	}
	return n, nil
}
