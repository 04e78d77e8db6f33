//go:build unix

package server

import "syscall"

// writeNow makes one non-blocking write of b to the socket raw and returns
// how much of b it took: none, with EAGAIN, when its buffer is full.
func writeNow(raw syscall.RawConn, b []byte) (int, error) {
	var n int
	var werr error
	err := raw.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), b)
		return true // one try; never wait for the socket
	})
	if err != nil {
		return 0, err
	}
	return max(n, 0), werr
}
