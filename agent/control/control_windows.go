package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// FileName is the file in the config directory that names the channel's
// loopback address and token.
const FileName = "control.json"

type endpoint struct {
	Addr  string `json:"addr"`
	Token string `json:"token"`
}

// listen opens a loopback port and writes its address and a fresh token to
// control.json (replacing one left by an agent that died).
func listen(configDir string) (net.Listener, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	c, _, derr := dial(ctx, configDir)
	cancel()
	if derr == nil {
		c.Close()
		return nil, "", errors.New("another agent answers there")
	}
	b := make([]byte, 32)
	rand.Read(b)
	token := hex.EncodeToString(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	data, _ := json.Marshal(endpoint{Addr: ln.Addr().String(), Token: token})
	path := filepath.Join(configDir, FileName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		ln.Close()
		return nil, "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		ln.Close()
		return nil, "", err
	}
	return &fileListener{Listener: ln, path: path}, token, nil
}

// fileListener removes control.json when it is closed.
type fileListener struct {
	net.Listener
	path string
}

func (l *fileListener) Close() error {
	os.Remove(l.path)
	return l.Listener.Close()
}

func dial(ctx context.Context, configDir string) (net.Conn, string, error) {
	data, err := os.ReadFile(filepath.Join(configDir, FileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", ErrNotRunning
	}
	if err != nil {
		return nil, "", fmt.Errorf("control channel: %w", err)
	}
	var ep endpoint
	if err := json.Unmarshal(data, &ep); err != nil || ep.Addr == "" {
		return nil, "", ErrNotRunning // torn or foreign: nobody to ask
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", ep.Addr)
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.Errno(10061)) { // WSAECONNREFUSED
		return nil, "", ErrNotRunning
	}
	if err != nil {
		return nil, "", fmt.Errorf("control channel: %w", err)
	}
	return c, ep.Token, nil
}
