package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/relay/wsread"
)

// The relay writes its WebSocket frames itself (gorilla does the
// handshake, and its Conn is let go at once: an idle socket does not keep
// it): a frame is its header and payload in one write, unmasked, as a
// server sends it (RFC 6455 §5.2).

// WebSocket opcodes the relay writes.
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// frameHeader writes the header of a final frame with op and n payload
// bytes into b and returns its length.
func frameHeader(b *[10]byte, op byte, n int) int {
	b[0] = 0x80 | op
	switch {
	case n < 126:
		b[1] = byte(n)
		return 2
	case n <= 0xFFFF:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
		return 4
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
		return 10
	}
}

// closePayload is a close frame's payload: the code, then as much of text
// as fits in 125 bytes, cut between characters; none for 1005 (no status),
// which is never sent.
func closePayload(code int, text string) []byte {
	if code == websocket.CloseNoStatusReceived {
		return nil
	}
	b := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(text)), uint16(code))
	if len(text) > 123 {
		n := 123
		for n > 0 && !utf8.RuneStart(text[n]) {
			n-- // cut between characters: a close reason must be UTF-8
		}
		text = text[:n]
	}
	return append(b, text...)
}

// batchMax bounds the bytes a batchConn gathers before it writes them.
const batchMax = 64 << 10

// batchBufs holds the buffers of batches in progress, so that an idle
// socket holds none.
var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, batchMax); return &b }}

// batchConn is a peer's upgraded connection. Outside a batch every Write
// goes straight to the socket. Between startBatch and endBatch
// (called by the peer's writer) Writes are gathered in a pooled buffer and
// reach the socket in one write, so the frames waiting for one slow reader
// cost one syscall rather than one each. Safe for concurrent use: a pong the
// reader writes during a batch joins the batch.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	batching bool
	buf      *[]byte                     // from batchBufs while batching
	owed     []byte                      // the rest of a frame tryWriteFrame began: written before anything else
	owes     atomic.Bool                 // owed is not empty
	raw      syscall.RawConn             // the socket's (rawOf), for tryWriteFrame and its options; nil where there is none
	rd       atomic.Pointer[wsread.Conn] // the peer's reader, which closes the socket once it reads it
}

// setReader makes Close go through rd from now on: the reader takes the
// socket out of its poller before it is closed.
func (c *batchConn) setReader(rd *wsread.Conn) { c.rd.Store(rd) }

// Close closes the socket (through the reader, once it has one). It does
// not wait for a write in progress, which it ends.
func (c *batchConn) Close() error {
	if rd := c.rd.Load(); rd != nil {
		return rd.Close()
	}
	return c.Conn.Close()
}

// Write sends p, or gathers it while a batch is open. It blocks while the
// socket takes the bytes (up to the write deadline).
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLocked(p)
}

// writeLocked is Write with mu held.
func (c *batchConn) writeLocked(p []byte) (int, error) {
	if !c.batching {
		if err := c.writeOwedLocked(); err != nil {
			return 0, err
		}
		return c.Conn.Write(p)
	}
	if c.buf == nil {
		c.buf = batchBufs.Get().(*[]byte)
	}
	if len(*c.buf)+len(p) > batchMax {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= batchMax {
			return writeAll(c.Conn, c.raw, p)
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

// writeFrame writes one final frame of op with payload: gathered while a
// batch is open, else straight to the socket within deadline, header and
// payload in one write (writev), so that frames written at once (the
// writer's, a pong from the reader) never interleave.
func (c *batchConn) writeFrame(op byte, payload []byte, deadline time.Time) error {
	var h [10]byte
	n := frameHeader(&h, op, len(payload))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.batching {
		if _, err := c.writeLocked(h[:n]); err != nil {
			return err
		}
		_, err := c.writeLocked(payload)
		return err
	}
	c.Conn.SetWriteDeadline(deadline)
	bufs := net.Buffers{c.owed, h[:n], payload}
	_, err := bufs.WriteTo(c.Conn)
	c.setOwed(nil)
	return err
}

// tryWriteFrame writes one final frame of op with payload now, if nothing
// else is being written or owed and the socket takes bytes without
// waiting. It reports whether it took the frame, and whether some of it
// is owed: what the socket did not take at once, which the next write on
// the connection (the peer's writer, which the caller starts) sends first.
// When it did not take the frame nothing of it was written. It never blocks.
func (c *batchConn) tryWriteFrame(op byte, payload []byte) (taken, owing bool) {
	if len(payload) > batchMax || !c.mu.TryLock() {
		return false, false
	}
	defer c.mu.Unlock()
	if c.batching || len(c.owed) > 0 || c.raw == nil {
		return false, false
	}
	var h [10]byte
	n := frameHeader(&h, op, len(payload))
	frame := append(append(make([]byte, 0, n+len(payload)), h[:n]...), payload...)
	// A write deadline past (set by an earlier write) would refuse the
	// write; this one cannot wait, so it needs none.
	c.Conn.SetWriteDeadline(time.Time{})
	switch wrote, _ := writeNow(c.raw, frame); {
	case wrote == len(frame):
		return true, false
	case wrote > 0:
		c.setOwed(frame[wrote:])
		return true, true
	}
	return false, false // nothing written: the socket is full, failed (the writer meets it too) or cannot here
}

// owing reports whether part of a frame is owed (see tryWriteFrame).
func (c *batchConn) owing() bool { return c.owes.Load() }

// writeOwed writes what is owed of a frame, within deadline. It blocks
// while the socket takes the bytes.
func (c *batchConn) writeOwed(deadline time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.owed) == 0 {
		return nil
	}
	c.Conn.SetWriteDeadline(deadline)
	return c.writeOwedLocked()
}

// writeOwedLocked writes what is owed, if anything. mu held.
func (c *batchConn) writeOwedLocked() error {
	if len(c.owed) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.owed)
	c.setOwed(nil)
	return err
}

// setOwed sets what is owed. mu held.
func (c *batchConn) setOwed(b []byte) {
	c.owed = b
	c.owes.Store(len(b) > 0)
}

// startBatch makes later Writes gather until endBatch; the writes a batch
// larger than batchMax makes on its way are bounded by deadline.
func (c *batchConn) startBatch(deadline time.Time) {
	c.mu.Lock()
	c.batching = true
	c.Conn.SetWriteDeadline(deadline)
	if len(c.owed) > 0 { // first in the batch
		c.buf = batchBufs.Get().(*[]byte)
		*c.buf = append(*c.buf, c.owed...)
		c.setOwed(nil)
	}
	c.mu.Unlock()
}

// endBatch writes what was gathered in one write bounded by deadline, and
// returns the buffer to the pool. It blocks while the socket takes the bytes.
func (c *batchConn) endBatch(deadline time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.batching {
		return nil
	}
	c.batching = false
	if c.buf == nil {
		return nil
	}
	var err error
	if len(*c.buf) > 0 {
		c.Conn.SetWriteDeadline(deadline)
		err = c.flushLocked()
	}
	batchBufs.Put(c.buf)
	c.buf = nil
	return err
}

// flushLocked writes what the batch gathered. mu held.
func (c *batchConn) flushLocked() error {
	_, err := writeAll(c.Conn, c.raw, *c.buf)
	*c.buf = (*c.buf)[:0]
	return err
}

// batchHijacker hands gorilla's Upgrader a batchConn instead of the raw
// connection it hijacks.
type batchHijacker struct {
	http.ResponseWriter
}

// Hijack implements http.Hijacker.
func (h batchHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the response does not support hijacking")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &batchConn{Conn: conn, raw: rawOf(conn)}, rw, nil
}

// rawOf returns the system socket under conn, or nil when it has none.
func rawOf(conn net.Conn) syscall.RawConn {
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			return raw
		}
	}
	return nil
}
