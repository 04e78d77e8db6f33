package agent

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
)

// deadlineConn records the write deadline a connection is left with and
// counts its writes.
type deadlineConn struct {
	net.Conn
	mu       sync.Mutex
	deadline time.Time
	writes   int
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *deadlineConn) state() (time.Time, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline, c.writes
}

// TestPongArmsNoWriteDeadline: answering the relay's heartbeat leaves no
// write deadline on the connection. A deadline is a runtime timer, and the
// one a pong left behind woke the idle agent writeWait after every
// heartbeat (perf: a burst 15 s after each relay ping).
func TestPongArmsNoWriteDeadline(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	conns := make(chan *deadlineConn, 4)
	cfg.Dialer = &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		dc := &deadlineConn{Conn: c}
		conns <- dc
		return dc, nil
	}}
	startAgent(t, cfg, nil)
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	var dc *deadlineConn
	select {
	case dc = <-conns:
	case <-time.After(hangGuard):
		t.Fatal("no connection dialed")
	}
	for i := range 3 {
		_, before := dc.state()
		c.wmu.Lock()
		err := c.ws.WriteControl(websocket.PingMessage, []byte{byte(i)}, time.Now().Add(time.Second))
		c.wmu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the agent's pong", func() bool { _, n := dc.state(); return n > before })
		if d, _ := dc.state(); !d.IsZero() {
			t.Fatalf("after pong %d the connection keeps a write deadline %v from now", i, time.Until(d).Round(time.Millisecond))
		}
	}
}
