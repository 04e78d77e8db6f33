package server

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Close codes the relay uses beyond the standard ones.
const (
	CloseReplaced     = 4001 // a newer connection of the same device took over
	closeGrace        = 2 * time.Second
	closeWriteTimeout = time.Second
)

// peer is one WebSocket with its single writer goroutine. Everybody else
// talks to the writer through two bounded paths: send for frames that must
// arrive in order (results, presence, events), and sendLatest for frames where
// only the newest matters (telemetry), which are coalesced per key when the
// socket is slow. The writer takes everything waiting at once and writes it
// with one syscall (see batchConn). Safe for concurrent use.
type peer struct {
	conn  *websocket.Conn
	out   *batchConn // the connection under conn; nil when conn was not upgraded through upgradeBatched
	kind  string     // "agent" or "client", for logs and metrics
	m     *metrics
	limit int // most frames queue may hold

	mu      sync.Mutex
	queue   [][]byte          // frames that must arrive, in order; grows on demand up to limit
	latest  map[string][]byte // newest coalescible frame by key; nil until the first
	order   []string          // keys of latest in arrival order
	closing bool              // close requested; no more sends
	code    int               // close code to send
	text    string

	frames bucket // frames received; used by the reader only

	wake   chan struct{} // queue or latest has frames; capacity 1
	closed chan struct{} // closed by requestClose
	done   chan struct{} // closed when the writer has returned
}

func newPeer(conn *websocket.Conn, kind string, queue int, m *metrics) *peer {
	out, _ := conn.NetConn().(*batchConn)
	return &peer{
		conn: conn, out: out, kind: kind, m: m, limit: queue,
		wake:   make(chan struct{}, 1),
		closed: make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// send queues a frame that must not be lost. It never blocks: if the queue is
// full the reader on the other side is too slow, and the socket is closed
// with 1008 rather than dropping the frame silently. It reports whether the
// frame was queued.
func (p *peer) send(frame []byte) bool {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return false
	}
	if len(p.queue) >= p.limit {
		p.m.drop("queue_full")
		p.m.close("too_slow")
		p.closeLocked(websocket.ClosePolicyViolation, "send queue overflow: reading too slowly")
		p.mu.Unlock()
		return false
	}
	p.queue = append(p.queue, frame)
	p.mu.Unlock()
	p.kick()
	return true
}

// sendLatest queues a frame that a newer frame with the same key replaces
// if the writer has not sent it yet. It never blocks.
func (p *peer) sendLatest(key string, frame []byte) {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return
	}
	if p.latest == nil {
		p.latest = map[string][]byte{}
	}
	if _, ok := p.latest[key]; ok {
		p.m.drop("coalesced")
	} else {
		p.order = append(p.order, key)
	}
	p.latest[key] = frame
	p.mu.Unlock()
	p.kick()
}

// kick wakes the writer. It never blocks.
func (p *peer) kick() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// requestClose asks the writer to send a close frame with code and text and
// stop. The first request wins. It never blocks.
func (p *peer) requestClose(code int, text string) {
	p.mu.Lock()
	p.closeLocked(code, text)
	p.mu.Unlock()
}

func (p *peer) closeLocked(code int, text string) {
	if p.closing {
		return
	}
	p.closing, p.code, p.text = true, code, text
	close(p.closed)
}

// take appends every waiting frame to batch, queued frames first, then the
// coalesced ones in arrival order, and empties both. The queue's backing
// array (cleared) is kept for the next sends only while it is small.
func (p *peer) take(batch [][]byte) [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	batch = append(batch, p.queue...)
	if cap(p.queue) <= 16 {
		clear(p.queue)
		p.queue = p.queue[:0]
	} else {
		p.queue = nil
	}
	for _, k := range p.order {
		batch = append(batch, p.latest[k])
		delete(p.latest, k)
	}
	clear(p.order)
	p.order = p.order[:0]
	return batch
}

// writeBatch writes every waiting frame, gathered into one write when the
// connection batches, and reports whether the socket is still good. On a
// failed write it closes the connection, which unblocks the reader.
func (p *peer) writeBatch(scratch *[][]byte, writeTimeout time.Duration) bool {
	batch := p.take((*scratch)[:0])
	defer func() {
		clear(batch)
		if cap(batch) <= 64 {
			*scratch = batch[:0]
		} else {
			*scratch = nil
		}
	}()
	if len(batch) == 0 {
		return true
	}
	deadline := time.Now().Add(writeTimeout)
	p.conn.SetWriteDeadline(deadline)
	if p.out != nil && len(batch) > 1 {
		p.out.startBatch()
	}
	var err error
	for _, f := range batch {
		if err = p.conn.WriteMessage(websocket.TextMessage, f); err != nil {
			break
		}
	}
	if p.out != nil {
		if ferr := p.out.endBatch(deadline); err == nil {
			err = ferr
		}
	}
	if err != nil {
		p.m.close("write_failed")
		p.conn.Close()
		return false
	}
	return true
}

// writeLoop is the only goroutine that writes data frames to the socket. It
// sends pings every heartbeat and gives every batch of writes writeTimeout.
// It returns when a close was requested (after sending what was queued and
// the close frame) or a write failed (after closing the connection, which
// unblocks the reader).
func (p *peer) writeLoop(heartbeat, writeTimeout time.Duration) {
	defer close(p.done)
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	var scratch [][]byte
	for {
		select {
		case <-p.wake:
			if !p.writeBatch(&scratch, writeTimeout) {
				return
			}
		case <-ping.C:
			if err := p.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				p.conn.Close()
				return
			}
		case <-p.closed:
			// Flush what must arrive (results, a last presence) before the close frame.
			if !p.writeBatch(&scratch, writeTimeout) {
				return
			}
			p.mu.Lock()
			code, text := p.code, p.text
			p.mu.Unlock()
			p.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(closeWriteTimeout))
			// Give the other side a moment to answer the close, then unblock the reader.
			p.conn.SetReadDeadline(time.Now().Add(closeGrace))
			return
		}
	}
}

// batchMax bounds the bytes a batchConn gathers before it writes them.
const batchMax = 64 << 10

// batchBufs holds the buffers of batches in progress, so that an idle
// socket holds none.
var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, batchMax); return &b }}

// batchConn is the net.Conn under a peer's websocket.Conn. Outside a batch
// every Write goes straight to the socket. Between startBatch and endBatch
// (called by the peer's writer) Writes are gathered in a pooled buffer and
// reach the socket in one write, so the frames waiting for one slow reader
// cost one syscall rather than one each. Safe for concurrent use: a pong the
// reader writes during a batch joins the batch.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	batching bool
	buf      *[]byte // from batchBufs while batching
}

// Write sends p, or gathers it while a batch is open. It blocks while the
// socket takes the bytes (up to the write deadline).
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.batching {
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
			return c.Conn.Write(p)
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

// startBatch makes later Writes gather until endBatch.
func (c *batchConn) startBatch() {
	c.mu.Lock()
	c.batching = true
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

func (c *batchConn) flushLocked() error {
	_, err := c.Conn.Write(*c.buf)
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
	return &batchConn{Conn: conn}, rw, nil
}

// keepAlive makes every frame, ping and pong from the other side extend the
// read deadline by deadAfter, and answers pings. Call it before reading.
func (p *peer) keepAlive(deadAfter, writeTimeout time.Duration) {
	extend := func() {
		p.mu.Lock()
		closing := p.closing
		p.mu.Unlock()
		if !closing {
			p.conn.SetReadDeadline(time.Now().Add(deadAfter))
		}
	}
	extend()
	p.conn.SetPongHandler(func(string) error { extend(); return nil })
	p.conn.SetPingHandler(func(data string) error {
		extend()
		err := p.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeTimeout))
		if err == websocket.ErrCloseSent {
			return nil
		}
		return err
	})
}

// drain discards what the other side still sends after the relay's close
// frame, until it closes too or the writer's grace deadline passes, so the
// connection ends with the close handshake rather than a reset that could
// swallow the close frame. Call it after the writer has returned.
func (p *peer) drain() {
	for {
		if _, _, err := p.conn.NextReader(); err != nil {
			return
		}
	}
}

// errFlood ends a socket that sent frames faster than its limit.
var errFlood = errors.New("too many frames")

// read returns the next frame, extending the read deadline on success. A
// socket that sends more than burst frames at once, or more than rate a
// second for long, is closed with 1008 and read returns errFlood.
func (p *peer) read(deadAfter time.Duration, rate float64, burst int) ([]byte, error) {
	_, frame, err := p.conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	if ok, _ := p.frames.take(time.Now(), rate, burst); !ok {
		p.m.close("flood")
		p.requestClose(websocket.ClosePolicyViolation, "too many frames")
		return nil, errFlood
	}
	p.mu.Lock()
	if !p.closing {
		p.conn.SetReadDeadline(time.Now().Add(deadAfter))
	}
	p.mu.Unlock()
	return frame, nil
}
