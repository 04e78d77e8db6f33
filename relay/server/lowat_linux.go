package server

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// keepSendQueueShort sets TCP_NOTSENT_LOWAT on a client's socket: once
// notSent bytes wait in the kernel unsent, the socket takes no more, so
// that telemetry written at once (sendLatestNow) to a client that reads
// slowly is coalesced in the relay, newest first, instead of queued by
// the kernel behind megabytes of older samples, with the results of its
// commands after them.
func keepSendQueueShort(c net.Conn, notSent int) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, notSent)
	})
}
