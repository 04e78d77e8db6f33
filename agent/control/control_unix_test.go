//go:build !windows

package control

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// leaveBehind makes s leave its socket file when closed, as a killed agent does.
func leaveBehind(s *Server) { s.ln.(*net.UnixListener).SetUnlinkOnClose(false) }

// checkOwnerOnly checks the socket's mode.
func checkOwnerOnly(t *testing.T, dir string) {
	fi, err := os.Stat(filepath.Join(dir, SocketName))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket: %v %v, want a socket with mode 0600", fi.Mode(), err)
	}
}
