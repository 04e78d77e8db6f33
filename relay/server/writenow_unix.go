//go:build unix

package server

import (
	"net"
	"syscall"

	"github.com/tether-desktop/tether/internal/rawio"
)

// writeNow makes one non-blocking write of b to the socket raw and returns
// how much of b it took: none, with EAGAIN, when its buffer is full. On
// Linux it is a raw system call (internal/rawio).
func writeNow(raw syscall.RawConn, b []byte) (int, error) {
	return rawio.TryWrite(raw, b)
}

// writeAll writes all of b to conn, waiting while its buffer is full (up
// to conn's write deadline). With the socket's raw handle it is a raw
// system call (internal/rawio), as writeNow is: Go's scheduler is not told
// of it, so the writer's batches do not wake its monitor thread either.
func writeAll(conn net.Conn, raw syscall.RawConn, b []byte) (int, error) {
	if raw == nil {
		return conn.Write(b)
	}
	return rawio.Write(raw, b)
}
