//go:build !linux

package wsread

// poller has no implementation here: every connection has a goroutine
// that waits in Read, with the same frame handling.
type poller struct{}

// thePoller reports that there is no poller on this system.
func thePoller() *poller { return nil }

func (p *poller) add(*Conn) bool   { return false }
func (p *poller) rearm(*Conn) bool { return false }
func (p *poller) forget(*Conn)     {}
