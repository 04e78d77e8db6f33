package server

import (
	"bytes"
	"errors"
	"sync"
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
// else talks to the writer through two bounded paths: send for frames that
// must arrive in order (results, presence, events), and sendLatest for
// frames where only the newest matters (telemetry), which are coalesced per
// key when the socket is slow. The writer runs only while there is
// something to write (frames, the heartbeat ping, the close frame), on a
// goroutine of the writers' pool, so an idle socket parks no writer; it takes
// everything waiting at once and writes it with one syscall (see
// batchConn). At most one writer runs at a time. Safe for concurrent use.
type peer struct {
	out          *batchConn   // the upgraded connection, written through (sockconn.go)
	rd           *wsread.Conn // reads the other side's frames (reader)
	kind         string       // "agent" or "client", for logs and metrics
	m            *metrics
	limit        int // most frames queue may hold
	limitBytes   int // most bytes queue may hold (a frame alone may be larger)
	heartbeat    time.Duration
	writeTimeout time.Duration

	mu       sync.Mutex
	queue    [][]byte       // frames that must arrive, in order; grows on demand up to limit
	queued   int            // bytes in queue
	order    [][]byte       // the newest coalescible frame of each key, keys in arrival order
	index    map[string]int // each key's place in order; nil until the first
	closing  bool           // close requested; no more sends
	code     int            // close code to send
	text     string
	writing  bool          // a writer goroutine is running
	gather   time.Duration // coalescible frames alone are written at most once per gather (see gatherLocked)
	lastOut  time.Time     // when the writer last wrote coalescible frames
	gatherT  *time.Timer   // starts the writer when a gather ends; nil until the first
	waiting  bool          // gatherT is armed: sendLatest leaves the writer's start to it
	pingDue  bool          // the heartbeat timer fired; the writer sends a ping
	ping     *time.Timer   // heartbeat; nil until start
	finished bool          // the writer has ended for good; done is closed

	frames bucket // frames received; used by the reader only

	done chan struct{} // closed when the writer has ended for good
}

func newPeer(out *batchConn, kind string, queue, queueBytes int, m *metrics, heartbeat, writeTimeout time.Duration) *peer {
	return &peer{
		out: out, kind: kind, m: m, limit: queue, limitBytes: queueBytes,
		heartbeat: heartbeat, writeTimeout: writeTimeout, gather: telemetryGather,
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

// sendNow is send for a frame somebody waits for (a command, its result):
// written at once when it can be (see writeNow), queued as send does
// otherwise.
func (p *peer) sendNow(frame []byte) bool {
	if p.writeNow(frame) {
		return true
	}
	return p.send(frame)
}

// sendLatestNow is sendLatest for telemetry: written at once when it can
// be (see writeNow), coalesced as sendLatest does otherwise.
func (p *peer) sendLatestNow(key string, frame []byte) {
	if !p.writeNow(frame) {
		p.sendLatest(key, frame)
	}
}

// writeNow writes frame here and now when the writer is not running,
// nothing waits for it, and the socket takes the frame without waiting,
// sparing the start of a writer goroutine and its scheduling. It never
// blocks: the write is a non-blocking one, and what the socket does not
// take of the frame is left to the writer (see batchConn.tryWriteFrame).
// It reports whether it took the frame; if not, nothing of it was written.
func (p *peer) writeNow(frame []byte) bool {
	p.mu.Lock()
	idle := !p.writing && !p.finished && !p.closing && !p.pingDue && len(p.queue) == 0 && len(p.order) == 0
	if idle {
		p.writing = true // no writer starts while this one writes
	}
	p.mu.Unlock()
	if !idle {
		return false
	}
	taken, owing := p.out.tryWriteFrame(frameOp(frame), frame)
	p.mu.Lock()
	p.writing = false
	more := owing || len(p.queue) > 0 || len(p.order) > 0 || p.pingDue || p.closing
	p.mu.Unlock()
	if taken && more {
		p.kick() // what came meanwhile, or the rest of this frame
	}
	return taken
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
	if p.index == nil {
		p.index = map[string]int{}
	}
	if i, ok := p.index[key]; ok {
		p.m.drop("coalesced")
		p.order[i] = frame
	} else {
		p.index[key] = len(p.order)
		p.order = append(p.order, frame)
	}
	waiting := p.waiting
	p.mu.Unlock()
	if !waiting {
		p.kick()
	}
}

// telemetryGather is how often, at most, the writer writes a socket's
// coalescible frames (telemetry to a client of many devices, sendLatest)
// when nothing else waits: frames that come sooner after its last write
// wait for the rest of the gather and go out together. A dashboard of 100
// agents is sent thousands of frames a second; written as they come, half
// the writes carried one frame each (writev and write calls counted with
// perf in the 100 → 20 fan-out), and a write's cost is mostly per call.
// A frame that comes after a quiet gather is written at once, and one that
// must arrive (send) takes everything waiting with it, so only telemetry
// coming faster than once a gather waits, by less than a gather.
const telemetryGather = time.Millisecond

// gatherLocked reports how long the writer should wait before it writes
// what is pending: zero unless only coalescible frames are, and the last
// of them went out less than a gather ago. mu held.
func (p *peer) gatherLocked(now time.Time, ping, closing bool) time.Duration {
	if p.gather <= 0 || ping || closing || len(p.queue) > 0 || len(p.order) == 0 || p.out.owing() {
		return 0
	}
	return p.lastOut.Add(p.gather).Sub(now)
}

// gathered ends a gather: the writer starts and writes what came.
func (p *peer) gathered() {
	p.mu.Lock()
	p.waiting = false
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
	writers.run(p)
}

// requestClose asks the writer to send what is queued, then a close frame
// with code and text, and end. The first request wins. It never blocks.
func (p *peer) requestClose(code int, text string) {
	p.mu.Lock()
	p.closeLocked(code, text)
	p.mu.Unlock()
	p.kick()
}

// awaitEnd waits for the writer to end (after requestClose), lets the
// reader read on until the other side's close answer or its deadline
// (Drain), and closes the connection. The socket's End calls it once.
func (p *peer) awaitEnd() {
	<-p.done
	p.rd.Drain()
	p.out.Close()
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
	batch = append(batch, p.order...)
	clear(p.order)
	p.order = p.order[:0]
	clear(p.index)
	return batch
}

// writeBatch writes every waiting frame, within writeTimeout of now,
// gathered into one write when the connection batches, and reports whether
// the socket is still good. On a failed write it closes the connection,
// which ends the reading.
func (p *peer) writeBatch(scratch *[][]byte, now time.Time) bool {
	batch := p.take((*scratch)[:0])
	defer func() {
		clear(batch)
		if cap(batch) <= 256 { // a dashboard's batch, kept by the pool's goroutine (6 KB at most)
			*scratch = batch[:0]
		} else {
			*scratch = nil
		}
	}()
	deadline := now.Add(p.writeTimeout)
	if len(batch) == 0 {
		if err := p.out.writeOwed(deadline); err != nil { // the rest of a frame writeNow began
			p.m.close("write_failed")
			p.out.Close()
			return false
		}
		return true
	}
	p.out.startBatch(deadline) // even for one frame: header and payload in one raw write
	var err error
	for _, f := range batch {
		if err = p.out.writeFrame(frameOp(f), f, deadline); err != nil {
			break
		}
	}
	if ferr := p.out.endBatch(deadline); err == nil {
		err = ferr
	}
	if err != nil {
		p.m.close("write_failed")
		p.out.Close()
		return false
	}
	return true
}

// writeOut is the writer: the only goroutine that writes data frames and
// pings, started by kick on a goroutine of the writers' pool, which lends
// it scratch for its batches. It writes until nothing is left (or only
// telemetry that waits for its gather), then returns (a later kick starts
// another). Every batch of writes gets writeTimeout. Once a close was
// requested and everything queued is sent, it sends the close frame and
// ends for good; a failed write closes the connection (which ends the
// reading) and ends it for good too.
func (p *peer) writeOut(scratch *[][]byte) {
	for {
		p.mu.Lock()
		pending := len(p.queue) > 0 || len(p.order) > 0 || p.out.owing()
		ping, closing := p.pingDue, p.closing
		if !pending && !ping && !closing {
			p.writing = false
			p.mu.Unlock()
			return
		}
		now := time.Now()
		if wait := p.gatherLocked(now, ping, closing); wait > 0 {
			if !p.waiting {
				p.waiting = true
				if p.gatherT == nil {
					p.gatherT = time.AfterFunc(wait, p.gathered)
				} else {
					p.gatherT.Reset(wait)
				}
			}
			p.writing = false
			p.mu.Unlock()
			return
		}
		if len(p.order) > 0 {
			p.lastOut = now
		}
		p.pingDue = false
		p.mu.Unlock()
		switch {
		case pending:
			if !p.writeBatch(scratch, now) {
				p.finish()
				return
			}
			if ping {
				p.kickPing()
			}
		case ping && !closing:
			if err := p.out.writeFrame(opPing, nil, time.Now().Add(p.writeTimeout)); err != nil {
				p.out.Close()
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
			p.out.writeFrame(opClose, closePayload(code, text), time.Now().Add(closeWriteTimeout))
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
	if p.gatherT != nil {
		p.gatherT.Stop()
	}
	close(p.done)
}

// reader makes the peer's reader: every frame from the other side, a
// pong too, extends its deadline by deadAfter; messages of more than limit
// bytes end it. h handles the frames; the peer answers pings (see Ping).
// Start it once everybody else knows the peer.
func (p *peer) reader(h wsread.Handler, limit int64, deadAfter time.Duration) *wsread.Conn {
	p.rd = wsread.New(p.out.Conn, h, limit, deadAfter) // the socket itself, which the reader polls
	p.out.setReader(p.rd)
	return p.rd
}

// Ping answers the other side's ping (wsread.Handler), unless the
// socket is closing.
func (p *peer) Ping(data []byte) {
	if !p.isClosing() {
		p.out.writeFrame(opPong, data, time.Now().Add(p.writeTimeout))
	}
}

// closeFor is the close code and text the relay answers a reader's end
// with: the peer's own code when it closed first (RFC 6455 §5.5.1), 1009
// for a message over the limit, 1002 for a frame that breaks the
// protocol, 1000 otherwise (a close already requested wins).
func closeFor(err error) (int, string) {
	var pe *wsread.ProtocolError
	var ce *wsread.CloseError
	switch {
	case errors.As(err, &ce):
		return ce.Code, ""
	case errors.Is(err, wsread.ErrTooBig):
		return websocket.CloseMessageTooBig, "message too big"
	case errors.As(err, &pe):
		return websocket.CloseProtocolError, pe.Reason
	}
	return websocket.CloseNormalClosure, ""
}

// frameOp is the WebSocket opcode of a queued frame: the binary chunks
// of file transfers start with protocol.ChunkKind, every JSON frame with
// '{'.
func frameOp(f []byte) byte {
	if len(f) > 0 && f[0] == protocol.ChunkKind {
		return opBinary
	}
	return opText
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
