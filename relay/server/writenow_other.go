//go:build !unix

package server

import (
	"errors"
	"net"
	"syscall"
)

// writeNow writes nothing where no non-blocking write is at hand: the
// frame goes to the peer's writer as every other frame does.
func writeNow(raw syscall.RawConn, b []byte) (int, error) { return 0, errNoWriteNow }

// errNoWriteNow is writeNow's answer where it cannot write without waiting.
var errNoWriteNow = errors.New("no non-blocking write on this system")

// writeAll writes all of b to conn, waiting while its buffer is full (up
// to conn's write deadline).
func writeAll(conn net.Conn, raw syscall.RawConn, b []byte) (int, error) { return conn.Write(b) }
