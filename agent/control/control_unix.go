//go:build !windows

package control

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// SocketName is the control socket's file name in the config directory.
const SocketName = "control.sock"

// maxSocketPath is the longest socket path every Unix takes (macOS: 104 bytes with the NUL).
const maxSocketPath = 103

// socketPath is the control channel of configDir: the path of its Unix socket.
func socketPath(configDir string) (string, error) {
	abs, err := filepath.Abs(filepath.Join(configDir, SocketName))
	if err != nil {
		return "", fmt.Errorf("control channel: %w", err)
	}
	if len(abs) > maxSocketPath {
		return "", fmt.Errorf("control channel: socket path %q is longer than %d bytes", abs, maxSocketPath)
	}
	return abs, nil
}

// listen opens the socket with mode 0600, replacing a stale one. Requests
// carry no token: the socket's mode keeps others out.
func listen(configDir string) (net.Listener, string, error) {
	path, err := socketPath(configDir)
	if err != nil {
		return nil, "", err
	}
	ln, err := listenOwnerOnly(path)
	if errors.Is(err, syscall.EADDRINUSE) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, _, derr := dial(ctx, configDir)
		cancel()
		if derr == nil {
			c.Close()
			return nil, "", errors.New("another agent answers there")
		}
		if !errors.Is(derr, ErrNotRunning) {
			return nil, "", err
		}
		os.Remove(path) // left by an agent that died
		ln, err = listenOwnerOnly(path)
	}
	return ln, "", err
}

func listenOwnerOnly(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	// Connecting needs write access to the socket: the owner's only. (The
	// config directory is 0700 too, so there is no moment of wider access.)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func dial(ctx context.Context, configDir string) (net.Conn, string, error) {
	path, err := socketPath(configDir)
	if err != nil {
		return nil, "", err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
		return nil, "", ErrNotRunning
	}
	if err != nil {
		return nil, "", fmt.Errorf("control channel: %w", err)
	}
	return c, "", nil
}
