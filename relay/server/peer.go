package server

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/wsread"
)

// Close codes the relay uses beyond the standard ones.
const (
	CloseReplaced     = 4001 // a newer connection of the same device took over
	closeGrace        = 2 * time.Second
	closeWriteTimeout = time.Second
)

// peer is one WebSocket and its writer; its reader is a wsread.Conn that
// waits for the other side without a goroutine (see reader). Everybody
// else talks to the writer
// through two bounded paths: send for frames that must arrive in order
// (results, presence, events), and sendLatest for frames where only the newest
// matters (telemetry), which are coalesced per key when the socket is slow.
// The writer is a goroutine that runs only while there is something to write
// (frames, the heartbeat ping, the close frame) and is gone otherwise, so an
// idle socket parks no writer; it takes everything waiting at once and writes
// it with one syscall (see batchConn). At most one writer runs at a time.
// Safe for concurrent use.
type peer struct {
	conn         *websocket.Conn // for the handshake's result and every write
	out          *batchConn      // the connection under conn; nil when conn was not upgraded over a batchConn
	rd           *wsread.Conn    // reads the other side's frames (reader)
	kind         string          // "agent" or "client", for logs and metrics
	m            *metrics
	limit        int // most frames queue may hold
	limitBytes   int // most bytes queue may hold (a frame alone may be larger)
	heartbeat    time.Duration
	writeTimeout time.Duration

	mu       sync.Mutex
	queue    [][]byte          // frames that must arrive, in order; grows on demand up to limit
	queued   int               // bytes in queue
	latest   map[string][]byte // newest coalescible frame by key; nil until the first
	order    []string          // keys of latest in arrival order
	closing  bool              // close requested; no more sends
	code     int               // close code to send
	text     string
	writing  bool        // a writer goroutine is running
	pingDue  bool        // the heartbeat timer fired; the writer sends a ping
	ping     *time.Timer // heartbeat; nil until start
	finished bool        // the writer has ended for good; done is closed

	frames bucket // frames received; used by the reader only

	done chan struct{} // closed when the writer has ended for good
}

func newPeer(conn *websocket.Conn, kind string, queue, queueBytes int, m *metrics, heartbeat, writeTimeout time.Duration) *peer {
	out, _ := conn.NetConn().(*batchConn)
	return &peer{
		conn: conn, out: out, kind: kind, m: m, limit: queue, limitBytes: queueBytes,
		heartbeat: heartbeat, writeTimeout: writeTimeout,
		done: make(chan struct{}),
	}
}

// start arms the heartbeat: every heartbeat the writer sends a ping. It does
// not block.
func (p *peer) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished || p.ping != nil {
		return
	}
	p.ping = time.AfterFunc(p.heartbeat, func() {
		p.mu.Lock()
		p.pingDue = true
		p.mu.Unlock()
		p.kick()
	})
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
	if len(p.queue) >= p.limit || (len(p.queue) > 0 && p.queued+len(frame) > p.limitBytes) {
		p.m.drop("queue_full")
		p.m.close("too_slow")
		p.closeLocked(websocket.ClosePolicyViolation, "send queue overflow: reading too slowly")
		p.mu.Unlock()
		p.kick()
		return false
	}
	p.queue = append(p.queue, frame)
	p.queued += len(frame)
	p.mu.Unlock()
	p.kick()
	return true
}

// isClosing reports whether the socket is closing or closed: sends fail
// because the other side is gone (or going), not because it is slow.
func (p *peer) isClosing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closing
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

// kick starts a writer unless one is running or the writer has ended. It
// never blocks.
func (p *peer) kick() {
	p.mu.Lock()
	if p.writing || p.finished {
		p.mu.Unlock()
		return
	}
	p.writing = true
	p.mu.Unlock()
	go p.writeOut()
}

// requestClose asks the writer to send what is queued, then a close frame
// with code and text, and end. The first request wins. It never blocks.
func (p *peer) requestClose(code int, text string) {
	p.mu.Lock()
	p.closeLocked(code, text)
	p.mu.Unlock()
	p.kick()
}

// closeLocked records a close request; the caller kicks the writer. mu held.
func (p *peer) closeLocked(code int, text string) {
	if p.closing {
		return
	}
	p.closing, p.code, p.text = true, code, text
}

// take appends every waiting frame to batch, queued frames first, then the
// coalesced ones in arrival order, and empties both. The queue's backing
// array (cleared) is kept for the next sends only while it is small.
func (p *peer) take(batch [][]byte) [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	batch = append(batch, p.queue...)
	p.queued = 0
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
// failed write it closes the connection, which ends the reading.
func (p *peer) writeBatch(scratch *[][]byte) bool {
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
	deadline := time.Now().Add(p.writeTimeout)
	p.conn.SetWriteDeadline(deadline)
	if p.out != nil && len(batch) > 1 {
		p.out.startBatch()
	}
	var err error
	for _, f := range batch {
		if err = p.conn.WriteMessage(frameType(f), f); err != nil {
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

// writeOut is the writer: the only goroutine that writes data frames and
// pings, started by kick. It writes until nothing is left, then returns
// (a later kick starts another). Every batch of writes gets writeTimeout.
// Once a close was requested and everything queued is sent, it sends the
// close frame and ends for good; a failed write closes the connection (which
// ends the reading) and ends it for good too.
func (p *peer) writeOut() {
	var scratch [][]byte
	for {
		p.mu.Lock()
		pending := len(p.queue) > 0 || len(p.order) > 0
		ping, closing := p.pingDue, p.closing
		if !pending && !ping && !closing {
			p.writing = false
			p.mu.Unlock()
			return
		}
		p.pingDue = false
		p.mu.Unlock()
		switch {
		case pending:
			if !p.writeBatch(&scratch) {
				p.finish()
				return
			}
			if ping {
				p.kickPing()
			}
		case ping && !closing:
			if err := p.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(p.writeTimeout)); err != nil {
				p.conn.Close()
				p.finish()
				return
			}
			p.mu.Lock()
			if p.ping != nil && !p.finished {
				p.ping.Reset(p.heartbeat)
			}
			p.mu.Unlock()
		default: // closing, and everything queued is sent
			p.mu.Lock()
			code, text := p.code, p.text
			p.mu.Unlock()
			p.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(closeWriteTimeout))
			// Give the other side a moment to answer the close, then end the reading.
			p.rd.Expire(time.Now().Add(closeGrace))
			p.finish()
			return
		}
	}
}

// kickPing puts back a ping that was due while frames were written, so the
// next round of the writer sends it.
func (p *peer) kickPing() {
	p.mu.Lock()
	p.pingDue = true
	p.mu.Unlock()
}

// finish ends the writer for good: no writer starts again, the heartbeat
// stops and done is closed. Called by the writer only.
func (p *peer) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished, p.writing = true, false
	if p.ping != nil {
		p.ping.Stop()
	}
	close(p.done)
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
	buf      *[]byte                     // from batchBufs while batching
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

// reader makes the peer's reader: every frame from the other side, a
// pong too, extends its deadline by deadAfter; messages of more than limit
// bytes end it. h handles the frames; the peer answers pings (see Ping).
// Start it once everybody else knows the peer.
func (p *peer) reader(h wsread.Handler, limit int64, deadAfter time.Duration) *wsread.Conn {
	nc := p.conn.NetConn()
	if p.out != nil {
		nc = p.out.Conn // the socket itself, which the reader polls
	}
	p.rd = wsread.New(nc, h, limit, deadAfter)
	if p.out != nil {
		p.out.setReader(p.rd)
	}
	return p.rd
}

// Ping answers the other side's ping (wsread.Handler).
func (p *peer) Ping(data []byte) {
	p.conn.WriteControl(websocket.PongMessage, data, time.Now().Add(p.writeTimeout))
}

// closeFor is the close code and text the relay answers a reader's end
// with: 1009 for a message over the limit, 1002 for a frame that breaks
// the protocol, 1000 otherwise (a close already requested wins).
func closeFor(err error) (int, string) {
	var pe *wsread.ProtocolError
	switch {
	case errors.Is(err, wsread.ErrTooBig):
		return websocket.CloseMessageTooBig, "message too big"
	case errors.As(err, &pe):
		return websocket.CloseProtocolError, pe.Reason
	}
	return websocket.CloseNormalClosure, ""
}

// frameType is the WebSocket message type of a queued frame: the binary
// chunks of file transfers start with protocol.ChunkKind, every JSON
// frame with '{'.
func frameType(f []byte) int {
	if len(f) > 0 && f[0] == protocol.ChunkKind {
		return websocket.BinaryMessage
	}
	return websocket.TextMessage
}

// errFlood ends a socket that sent frames faster than its limit.
var errFlood = errors.New("too many frames")

// fileAckPrefix starts a file_ack frame as the agent encodes it.
var fileAckPrefix = []byte(`{"type":"` + protocol.TypeFileAck + `"`)

// admit spends a token of the socket's frame budget for a frame: a
// socket that sends more than burst frames at once, or more than rate a
// second for long, is closed with 1008 and admit returns errFlood. Binary
// frames (file chunks) and file acks are paced by their transfer's window
// instead, and spend nothing here: the caller spends a token (spend) for
// one that moves no transfer.
func (p *peer) admit(frame []byte, binary bool, rate float64, burst int) error {
	if !binary && !bytes.HasPrefix(frame, fileAckPrefix) && !p.spend(rate, burst) {
		return errFlood
	}
	return nil
}

// spend takes one token of the frame budget; when there is none it closes
// the socket with 1008 and reports false. Called by the reader only.
func (p *peer) spend(rate float64, burst int) bool {
	if ok, _ := p.frames.take(time.Now(), rate, burst); !ok {
		p.m.close("flood")
		p.requestClose(websocket.ClosePolicyViolation, "too many frames")
		return false
	}
	return true
}
