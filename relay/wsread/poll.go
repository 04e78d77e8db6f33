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
// closed before Start ends at once (End is called with net.ErrClosed):
// whoever closed it, the handler's End does the socket's teardown.
func (c *Conn) Start() {
	c.deadline.CompareAndSwap(0, now()+c.idle) // unless Expire came first
	c.mu.Lock()
	c.started = true
	closed := c.closed
	c.mu.Unlock()
	if !closed {
		if p := thePoller(); p != nil && p.add(c) {
			return
		}
	}
	c.mu.Lock()
	if c.running || c.ended {
		c.mu.Unlock()
		return // a Close meanwhile started the reading
	}
	c.running = true
	c.mu.Unlock()
	go c.run()
}
