//go:build unix

package server

import (
	"syscall"

	"github.com/tether-desktop/tether/internal/rawio"
)

// writeNow makes one non-blocking write of b to the socket raw and returns
// how much of b it took: none, with EAGAIN, when its buffer is full. On
// Linux it is a raw system call (internal/rawio).
func writeNow(raw syscall.RawConn, b []byte) (int, error) {
	return rawio.TryWrite(raw, b)
}
