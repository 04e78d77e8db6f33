package server

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// keepSendQueueShort sets TCP_NOTSENT_LOWAT on a client's socket raw (nil:
// none): once notSent bytes wait in the kernel unsent, the socket takes no
// more, so that telemetry written at once (sendLatestNow) to a client that
// reads slowly is coalesced in the relay, newest first, instead of queued
// by the kernel behind megabytes of older samples, with the results of its
// commands after them.
func keepSendQueueShort(raw syscall.RawConn, notSent int) {
	if raw == nil {
		return
	}
	raw.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, notSent)
	})
}
