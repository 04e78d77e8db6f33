//go:build !linux

package server

import "syscall"

// keepSendQueueShort does nothing where TCP_NOTSENT_LOWAT is not at hand
// (see lowat_linux.go): there a slow client's telemetry is coalesced only
// once the kernel's send buffer is full.
func keepSendQueueShort(raw syscall.RawConn, notSent int) {}
