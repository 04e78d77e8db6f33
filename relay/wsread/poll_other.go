//go:build !linux

package wsread

import "syscall"

// poller has no implementation here: every connection has a goroutine
// that waits in Read, with the same frame handling.
type poller struct{}

// thePoller reports that there is no poller on this system.
func thePoller() *poller { return nil }

func (p *poller) add(*Conn) bool   { return false }
func (p *poller) rearm(*Conn) bool { return false }
func (p *poller) forget(*Conn)     {}

// readRaw is never called here: no connection is held by a poller.
func readRaw(syscall.RawConn, []byte) (int, error) { return 0, syscall.EINVAL }
