package agent

import (
	"context"
	"io"
	"net"
	"syscall"

	"github.com/tether-desktop/tether/internal/rawio"
)

// quietConn is the agent's TCP connection to the relay with its reads and
// writes made as raw system calls on the non-blocking socket
// (internal/rawio), waiting for readiness through the runtime's poller
// (syscall.RawConn) as net.Conn does.
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
	n, err := rawio.Read(c.rc, b)
	return n, c.opError("read", err)
}

// Write writes all of b as net.Conn does, honouring the write deadline;
// concurrent writes do not interleave (the poller's write lock is held
// throughout).
func (c *quietConn) Write(b []byte) (int, error) {
	n, err := rawio.Write(c.rc, b)
	return n, c.opError("write", err)
}

// opError gives an error of a raw call as net.Conn does: as a
// *net.OpError, but io.EOF as it is.
func (c *quietConn) opError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
