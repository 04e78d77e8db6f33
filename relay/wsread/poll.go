package wsread

import (
	"net"
	"time"
)

// New prepares the reading of nc's client frames for h: messages of at
// most limit bytes; a client silent for idle (no frame, not even a pong)
// ends with a timeout. nc is the connection gorilla upgraded, with nothing
// of the client's buffered (gorilla refuses a client that sends before the
// handshake ends). From now on only the returned Conn may close nc.
// Nothing is read before Start.
func New(nc net.Conn, h Handler, limit int64, idle time.Duration) *Conn {
	return &Conn{nc: nc, h: h, limit: limit, idle: int64(idle)}
}

// Start starts reading: h's methods may be called from now on. A Conn
// closed before Start is not read at all (End is not called).
func (c *Conn) Start() {
	c.deadline.CompareAndSwap(0, now()+c.idle) // unless Expire came first
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.started = true
	c.mu.Unlock()
	if p := thePoller(); p != nil && p.add(c) {
		return
	}
	c.mu.Lock()
	c.running = true
	c.mu.Unlock()
	go c.run()
}
