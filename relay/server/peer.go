package server

import (
	"errors"
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
// socket is slow. Safe for concurrent use.
type peer struct {
	conn  *websocket.Conn
	kind  string // "agent" or "client", for logs and metrics
	m     *metrics
	queue chan []byte

	mu      sync.Mutex
	latest  map[string][]byte // newest coalescible frame by key
	order   []string          // keys of latest in arrival order
	closing bool              // close requested; no more sends
	code    int               // close code to send
	text    string

	frames bucket // frames received; used by the reader only

	wake   chan struct{} // latest has frames; capacity 1
	closed chan struct{} // closed by requestClose
	done   chan struct{} // closed when the writer has returned
}

func newPeer(conn *websocket.Conn, kind string, queue int, m *metrics) *peer {
	return &peer{
		conn: conn, kind: kind, m: m,
		queue:  make(chan []byte, queue),
		latest: map[string][]byte{},
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
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	select {
	case p.queue <- frame:
		return true
	default:
		p.m.drop("queue_full")
		p.m.close("too_slow")
		p.closeLocked(websocket.ClosePolicyViolation, "send queue overflow: reading too slowly")
		return false
	}
}

// sendLatest queues a frame that a newer frame with the same key replaces
// if the writer has not sent it yet. It never blocks.
func (p *peer) sendLatest(key string, frame []byte) {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return
	}
	if _, ok := p.latest[key]; ok {
		p.m.drop("coalesced")
	} else {
		p.order = append(p.order, key)
	}
	p.latest[key] = frame
	p.mu.Unlock()
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

// takeLatest removes and returns the coalesced frames in arrival order.
func (p *peer) takeLatest() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	frames := make([][]byte, 0, len(p.order))
	for _, k := range p.order {
		frames = append(frames, p.latest[k])
		delete(p.latest, k)
	}
	p.order = p.order[:0]
	return frames
}

// writeLoop is the only goroutine that writes data frames to the socket. It
// sends pings every heartbeat and gives every write writeTimeout. It returns
// when a close was requested (after sending the close frame) or a write
// failed (after closing the connection, which unblocks the reader).
func (p *peer) writeLoop(heartbeat, writeTimeout time.Duration) {
	defer close(p.done)
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	write := func(frame []byte) bool {
		p.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := p.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
			p.m.close("write_failed")
			p.conn.Close()
			return false
		}
		return true
	}
	for {
		select {
		case f := <-p.queue:
			if !write(f) {
				return
			}
		case <-p.wake:
			for _, f := range p.takeLatest() {
				if !write(f) {
					return
				}
			}
		case <-ping.C:
			if err := p.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				p.conn.Close()
				return
			}
		case <-p.closed:
			// Flush what must arrive (results, a last presence) before the close frame.
			for flushing := true; flushing; {
				select {
				case f := <-p.queue:
					if !write(f) {
						return
					}
				default:
					flushing = false
				}
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
