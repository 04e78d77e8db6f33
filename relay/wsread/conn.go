package wsread

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Handler receives what one connection's client sends. Its methods are
// called on one goroutine at a time per connection, in the order the
// frames came.
type Handler interface {
	// Message is a complete text or binary message, in a slice of its
	// own that the handler may keep. A non-nil error stops the reading;
	// End follows with that error.
	Message(data []byte, binary bool) error
	// Ping is a ping's payload: the handler answers with a pong.
	Ping(data []byte)
	// End is called once, when the reading has ended, with why: a
	// *CloseError, a *ProtocolError, ErrTooBig, an error of Message, or
	// the connection's (io.EOF, a timeout, net.ErrClosed). The connection
	// is open until the handler calls Close; Drain may be called first.
	End(err error)
}

// readBufSize is the size of the pooled buffer a connection reads into
// while it has frames arriving.
const readBufSize = 4096

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// errExpired ends a connection whose deadline passed while it waited.
var errExpired = os.ErrDeadlineExceeded

// Conn is one connection whose client frames are read for a Handler. It
// waits for its client without a goroutine where the system allows (see
// poller). Safe for concurrent use.
type Conn struct {
	nc    net.Conn
	h     Handler
	p     *poller // nil: a goroutine waits in Read
	limit int64   // most bytes a message may have
	idle  int64   // nanoseconds the client may stay silent

	deadline atomic.Int64 // unix nanoseconds after which the connection is dead
	final    atomic.Bool  // the deadline was set by Expire and no frame extends it

	mu      sync.Mutex
	id      uint64          // in the poller's table
	fd      int             // the socket, while not closed (Linux poller)
	raw     syscall.RawConn // the socket, read by readRaw (Linux poller); nil: nc.Read
	started bool            // Start was called
	running bool            // a goroutine is reading (or ending)
	closed  bool            // Close was called; the socket is closed
	ended   bool            // End was called or is being called

	// Used by the reading goroutine only.
	buf         []byte // pooled while running; nil when waiting
	r, w        int    // unread bytes are buf[r:w]
	msg         []byte // the message being assembled
	msgOp       byte   // its opcode; 0 when no message is open
	messages    uint64 // data messages handled
	lastMessage int64  // when the last read with a data message ended, unix ns
	byHandler   bool   // Message ended it: the connection itself is still good (Drain)
}

// now reads the clock as unix nanoseconds.
func now() int64 { return time.Now().UnixNano() }

// extend moves the deadline idle from now, unless Expire fixed it. Every
// whole frame extends it; bytes of a frame not yet whole do not, so a client
// that sends a frame a byte at a time is cut all the same.
func (c *Conn) extend() {
	if !c.final.Load() {
		c.deadline.Store(now() + c.idle)
	}
}

// Expire fixes the deadline at t: frames no longer extend it, and a
// connection still open then ends with a timeout. The relay calls it
// after its close frame, to bound how long it waits for the client's.
func (c *Conn) Expire(t time.Time) {
	c.final.Store(true)
	c.deadline.Store(t.UnixNano())
	c.nc.SetReadDeadline(t) // a goroutine blocked in a read stops too
}

// Close closes the connection. A waiting connection is taken out of the
// poller first, so its socket is never closed under it; a connection whose
// reading has not ended then ends (End is called with net.ErrClosed).
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if !c.ended {
		c.p.forget(c)
	}
	err := c.nc.Close()
	start := c.started && !c.running && !c.ended
	if start {
		c.running = true
	}
	c.mu.Unlock()
	if start {
		go c.run()
	}
	return err
}

// wake starts a reading goroutine unless one runs or the reading ended.
// The poller calls it when the socket is readable or its deadline passed.
func (c *Conn) wake() {
	c.mu.Lock()
	if c.running || c.ended {
		c.mu.Unlock()
		return
	}
	c.running = true
	c.mu.Unlock()
	go c.run()
}

// run reads what the client sent, then waits again or ends.
func (c *Conn) run() {
	for {
		err := c.readAvailable()
		if err == nil {
			var waiting bool
			if waiting, err = c.wait(); waiting {
				return
			}
		}
		if err != nil {
			c.end(err)
			return
		}
	}
}

// wait gives the connection back to the poller when it has nothing
// buffered: it reports true when no goroutine is needed until the socket
// is readable again (Linux), false when this one must read on (elsewhere).
func (c *Conn) wait() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false, net.ErrClosed
	}
	if now() > c.deadline.Load() {
		return false, errExpired
	}
	if !c.p.rearm(c) {
		return false, nil
	}
	c.running = false
	return true, nil
}

// end records why the reading ended and tells the handler, once.
func (c *Conn) end(err error) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	if !c.closed {
		c.p.forget(c)
	}
	c.mu.Unlock()
	c.h.End(err)
}

// linger is how long a reader of a socket in use waits for the next data
// message before it gives the socket back to the poller; a socket is in
// use when its data messages come less than linger apart. Such a socket (a
// watched agent's telemetry, a person clicking through commands) keeps its
// goroutine and is woken by Go's own netpoller, which is quicker than an
// epoll event and a new goroutine per frame; any other (heartbeat pongs, a
// hello, a command now and then) goes back at once, so that thousands of
// agents connecting at once do not each keep a goroutine for linger.
const linger = 2 * time.Second

// lingerFor is linger, but for the benchmark that measures the poller's
// own path (0: every message wakes through the poller).
var lingerFor = linger

// readAvailable reads and handles frames until none is partly read and,
// on a socket in use, none came for linger; a partial frame is waited for
// (up to the deadline).
func (c *Conn) readAvailable() error {
	if now() > c.deadline.Load() {
		return errExpired
	}
	bp := readBufs.Get().(*[]byte)
	c.buf, c.r, c.w = *bp, 0, 0
	defer func() {
		c.buf = nil
		readBufs.Put(bp)
	}()
	var lingering int64 // while waiting for a message after one: until when
	for {
		dl := c.deadline.Load()
		if lingering != 0 {
			dl = min(dl, lingering)
		}
		c.nc.SetReadDeadline(time.Unix(0, dl))
		n, err := c.read(c.buf[c.w:])
		if n == 0 && lingering != 0 && errors.Is(err, os.ErrDeadlineExceeded) && now() <= c.deadline.Load() {
			return nil // quiet for linger: back to the poller
		}
		c.w += n
		messages := c.messages
		if perr := c.handleBuffered(); perr != nil {
			return perr
		}
		if err != nil {
			return err
		}
		if c.r == c.w {
			// No frame is partly read (a fragmented message stays open
			// in msg meanwhile). A socket in use (data messages less
			// than linger apart) waits a moment for the next; any other
			// gives the socket back.
			if c.messages == messages {
				return nil
			}
			t := now()
			inUse := t-c.lastMessage < int64(lingerFor)
			c.lastMessage = t
			if !inUse {
				return nil
			}
			c.r, c.w = 0, 0
			lingering = t + int64(lingerFor)
			continue
		}
		// Keep the partial frame at the start of the buffer and read on.
		lingering = 0
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	}
}

// read reads from the socket into b, as nc.Read does. A socket the poller
// holds is read with a raw system call (Linux): Go's scheduler is not told
// of it, and so does not wake its monitor thread for it, which on an idle
// relay cost more than the read itself (docs/BENCHMARKS.md, "Issue 15,
// relay", step 7). Waiting for the socket is still done in Go's netpoller.
func (c *Conn) read(b []byte) (int, error) {
	if c.raw == nil {
		return c.nc.Read(b)
	}
	return readRaw(c.raw, b)
}

// handleBuffered handles every whole frame in buf[r:w], and reads a
// data frame whose payload does not fit the buffer straight from the
// socket. What is left in buf[r:w] is the start of a frame.
func (c *Conn) handleBuffered() error {
	for {
		h, n, err := parseHeader(c.buf[c.r:c.w])
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if err := c.checkOrder(h); err != nil {
			return err
		}
		have := int64(c.w - c.r - n)
		if h.op >= opClose { // control: at most 125 bytes, read whole into buf
			if have < h.length {
				return nil
			}
			payload := c.buf[c.r+n : c.r+n+int(h.length)]
			c.r += n + int(h.length)
			c.extend()
			unmask(h.mask, 0, payload)
			if err := c.control(h.op, payload); err != nil {
				return err
			}
			continue
		}
		if int64(len(c.msg))+h.length > c.limit {
			return ErrTooBig
		}
		c.r += n
		start := len(c.msg)
		if have >= h.length {
			c.msg = append(c.msg, c.buf[c.r:c.r+int(h.length)]...)
			c.r += int(h.length)
		} else {
			// The payload goes on past the buffer: read the rest into
			// the message itself.
			c.msg = append(c.msg, c.buf[c.r:c.w]...)
			c.r = c.w
			rest := int(h.length - have)
			c.msg = append(c.msg, make([]byte, rest)...)
			c.nc.SetReadDeadline(time.Unix(0, c.deadline.Load()))
			if _, err := io.ReadFull(c.nc, c.msg[len(c.msg)-rest:]); err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) {
					err = io.EOF
				}
				return err
			}
		}
		c.extend()
		unmask(h.mask, 0, c.msg[start:])
		if h.op != opContinuation {
			c.msgOp = h.op
		}
		if !h.fin {
			continue
		}
		msg, binary := c.msg, c.msgOp == opBinary
		if msg == nil {
			msg = []byte{}
		}
		c.msg, c.msgOp = nil, 0
		c.messages++
		if err := c.h.Message(msg, binary); err != nil {
			c.byHandler = true
			return err
		}
	}
}

// checkOrder refuses a data frame out of order: a continuation with no
// message open, or a new message while one is.
func (c *Conn) checkOrder(h header) error {
	switch {
	case h.op == opContinuation && c.msgOp == 0:
		return &ProtocolError{"continuation frame with no message to continue"}
	case (h.op == opText || h.op == opBinary) && c.msgOp != 0:
		return &ProtocolError{"new message before the last one's final frame"}
	}
	return nil
}

// control handles a control frame's payload.
func (c *Conn) control(op byte, payload []byte) error {
	switch op {
	case opPing:
		c.h.Ping(append([]byte(nil), payload...))
	case opClose:
		return parseClose(payload)
	}
	return nil // a pong: it extended the deadline like any frame
}

// Drain discards what the client still sends until its close frame, an
// error or the deadline, so that the connection ends with the closing
// handshake rather than a reset. It does nothing when the reading ended on
// the connection's own error (a close, a bad frame, a timeout); call it
// from End, after the relay's close frame, when Message ended the reading.
func (c *Conn) Drain() {
	if !c.byHandler {
		return
	}
	c.h = &drainer{}
	c.msg, c.msgOp = nil, 0
	for {
		if err := c.readAvailable(); err != nil {
			return
		}
	}
}

// drainer is the handler while draining: it drops every message.
type drainer struct{}

func (*drainer) Message([]byte, bool) error { return nil }
func (*drainer) Ping([]byte)                {}
func (*drainer) End(error)                  {}
