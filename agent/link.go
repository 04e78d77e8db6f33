package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tether-desktop/tether/protocol"
)

// linkConfig is what every link of one agent shares. Agent.Run fills it in
// from its Config (and test hooks) before each link.
type linkConfig struct {
	log     *slog.Logger
	state   *state
	runner  *runner
	sampler Sampler
	pointer MouseWatcher // nil: no mouse events

	heartbeat      time.Duration // interval of the agent's pings
	deadAfter      time.Duration // silence after which the link is dropped
	telemetryEvery time.Duration
	sleepEvery     time.Duration    // how often the clocks are compared
	probeWait      time.Duration    // deadline of the pong after a wake from sleep
	moveEvery      time.Duration    // least time between two mouse_move events
	mouseRetry     time.Duration    // wait before watching the pointer again after a failure
	wallNow        func() time.Time // the wall clock without its monotonic reading
}

// link is one live connection to the relay. Its goroutines (reader,
// writer, pump, mouse loop) are owned by serve. Only the writer writes data
// frames; the others hand it encoded frames through out (never dropped) or
// telem (newest only), and mouse events through the event queue. Everything
// else they learn from the agent's state, whose changes wake them.
type link struct {
	linkConfig
	ws       *websocket.Conn
	deviceID string
	maxFrame int

	out   chan []byte // results and hellos: senders wait (bounded by the link's ctx)
	telem chan []byte // cap 1: the newest telemetry sample
	// telemMu makes "nobody watches: drop the queued sample" and "still
	// watched: queue this sample" exclusive, so no sample taken before the
	// watchers went to 0 is queued after the drop.
	telemMu sync.Mutex
	events  *eventQueue // mouse events; filled only while shared
	// ping is the writer's heartbeat. The reader pushes it back a whole
	// heartbeat at every frame, pong or ping from the relay, so a link the
	// relay keeps busy (its own pings come every 25 s) costs the agent no
	// ping of its own, and no wakeup for one.
	ping  *time.Timer
	files transfers // files being received (transfer.go)

	ctx    context.Context // the link's; set by serve before any goroutine starts
	cmds   *sync.WaitGroup // owner of command goroutines (Agent.Run)
	runCtx context.Context // commands run under the agent's context, not the link's

	// owned by the pump
	sentHello json.RawMessage
	sampleErr bool
	probeEnd  time.Time     // end of the running wake-up probe
	telData   bytes.Buffer  // a sample's JSON, written again for each sample
	telEnc    *json.Encoder // writes to telData
	telSample protocol.Telemetry
}

// newLink wraps an opened connection. Commands it receives run under runCtx
// and are added to cmds.
func newLink(cfg linkConfig, o *opened, runCtx context.Context, cmds *sync.WaitGroup) *link {
	return &link{
		linkConfig: cfg,
		ws:         o.ws,
		deviceID:   o.creds.DeviceID,
		maxFrame:   o.maxFrame,
		out:        make(chan []byte, 16),
		telem:      make(chan []byte, 1),
		events:     newEventQueue(cfg.moveEvery),
		cmds:       cmds,
		runCtx:     runCtx,
	}
}

// serve runs the link until it fails or ctx ends, closes the connection and
// returns why it ended: a *websocket.CloseError from the relay, an I/O
// error, or ctx's error.
func (l *link) serve(ctx context.Context) error {
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l.ctx = lctx
	l.ping = time.NewTimer(l.heartbeat)
	defer l.ping.Stop()
	var wg sync.WaitGroup
	wg.Go(func() { cancel(l.read(lctx)) })
	wg.Go(func() { cancel(l.write(lctx)) })
	wg.Go(func() { cancel(l.pump(lctx)) })
	wg.Go(func() { l.mouse(lctx) })
	<-lctx.Done()
	if ctx.Err() != nil { // the agent stops: say goodbye
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "agent stopping")
		_ = l.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	}
	l.ws.Close() // unblocks the reader
	wg.Wait()
	return context.Cause(lctx)
}

// read is the link's only reader. Every frame and pong pushes the read
// deadline deadAfter further, so a silent link fails the read.
func (l *link) read(ctx context.Context) error {
	extend := func() {
		l.ws.SetReadDeadline(time.Now().Add(l.deadAfter))
		l.ping.Reset(l.heartbeat)
	}
	extend()
	l.ws.SetPongHandler(func(string) error { extend(); return nil })
	l.ws.SetPingHandler(func(data string) error {
		extend()
		// No deadline: one would arm a timer that wakes the agent writeWait
		// after every heartbeat (the relay's ping every 25 s), for nothing.
		// A pong that cannot be written still ends: no frame is read while
		// it waits, so the writer pings after a heartbeat, finds the
		// connection busy for writeWait and fails the link, which closes
		// the connection under the pong.
		err := l.ws.WriteControl(websocket.PongMessage, []byte(data), time.Time{})
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || (errors.As(err, &ne) && ne.Timeout()) {
			return nil
		}
		return err
	})
	for {
		typ, frame, buf, err := l.next()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("link dead: nothing from the relay in time: %w", err)
			}
			return fmt.Errorf("read: %w", err)
		}
		extend()
		if typ == websocket.BinaryMessage { // a chunk of a file being received
			l.fileChunk(buf)
			continue
		}
		m, err := protocol.Decode(frame)
		if err != nil {
			l.log.Debug("ignoring a bad frame from the relay", "err", err)
			continue
		}
		if protocol.IsTransferType(m.Type) {
			l.fileFrame(m)
			continue
		}
		l.handle(m)
	}
}

// next reads the next frame, as the connection's ReadMessage does, except
// that a binary frame (a file's chunk) is read into a buffer from
// frameBufs, returned in buf (and frame is nil).
func (l *link) next() (typ int, frame []byte, buf *[]byte, err error) {
	typ, r, err := l.ws.NextReader()
	if err != nil {
		return typ, nil, nil, err
	}
	if typ != websocket.BinaryMessage {
		frame, err = io.ReadAll(r)
		return typ, frame, nil, err
	}
	buf = frameBufs.Get().(*[]byte)
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			*buf = b
			return typ, nil, buf, nil
		}
		if err != nil {
			*buf = b
			putFrameBuf(buf)
			return typ, nil, nil, err
		}
	}
}

// handle acts on one frame from the relay. Called by the reader only.
func (l *link) handle(m *protocol.Message) {
	switch m.Type {
	case protocol.TypeWatch:
		l.watch(m)
	case protocol.TypeCommand:
		l.command(m)
	case protocol.TypePairing:
		l.work(func() { l.runner.pairing(l.runCtx, m) })
	case protocol.TypeError:
		if m.Error != nil {
			l.log.Warn("relay refused a frame", "code", m.Error.Code, "message", m.Error.Message)
		}
	case protocol.TypeWelcome:
	default:
		l.log.Debug("ignoring a message from the relay", "type", m.Type)
	}
}

// watch records how many clients watch the device. When nobody does any
// more, a queued sample and queued events are dropped at once. The pump
// and the mouse loop learn the change from the state.
func (l *link) watch(m *protocol.Message) {
	var w protocol.Watch
	if err := json.Unmarshal(m.Data, &w); err != nil || w.Watchers < 0 {
		l.log.Debug("ignoring a bad watch message", "err", err)
		return
	}
	l.state.update(func(s *Status) { s.Watchers = w.Watchers })
	if w.Watchers == 0 {
		l.telemMu.Lock()
		select { // a queued sample is no longer wanted
		case <-l.telem:
		default:
		}
		l.telemMu.Unlock()
		l.events.clear() // nor are queued events
	}
	l.log.Debug("watchers changed", "watchers", w.Watchers)
}

// command starts command m, or answers rate_limited when the runner is
// full. Called by the reader only.
func (l *link) command(m *protocol.Message) {
	dev := m.Device
	if dev == "" {
		dev = l.deviceID
	}
	if !l.runner.acquire() {
		perr := protocol.Errorf(protocol.CodeRateLimited,
			"%d commands are already running on this computer", l.runner.limit())
		l.runner.record(m, perr)
		l.sendResult(protocol.Result(m.ID, dev, nil, perr))
		return
	}
	l.work(func() {
		defer l.runner.release()
		data, perr := l.runner.run(l.runCtx, m)
		b, res := l.encodeResult(protocol.Result(m.ID, dev, data, perr))
		l.runner.record(m, res.Error) // before the result leaves, so the log keeps the order commands ended in
		l.deliver(b, res.ID)
	})
}

// work runs f on a goroutine owned by the agent's command WaitGroup; the
// agent is not quiet (Config.Quiet) until f returns.
func (l *link) work(f func()) {
	l.state.begin()
	l.cmds.Go(func() {
		defer l.state.end()
		f()
	})
}

// sendResult hands a result to the writer, waiting as long as the link
// lives.
func (l *link) sendResult(m *protocol.Message) {
	b, m := l.encodeResult(m)
	l.deliver(b, m.ID)
}

// encodeResult encodes result m as it will be sent, and returns that
// result: one too large for the relay becomes a too_large failure.
func (l *link) encodeResult(m *protocol.Message) ([]byte, *protocol.Message) {
	b, err := protocol.Encode(m)
	if err == nil && len(b) > l.maxFrame {
		err = fmt.Errorf("result of %d bytes is larger than the relay accepts (%d)", len(b), l.maxFrame)
		m = protocol.Result(m.ID, m.Device, nil, protocol.Errorf(protocol.CodeTooLarge, "%v", err))
		b, err = protocol.Encode(m)
	}
	if err != nil {
		m = protocol.Result(m.ID, m.Device, nil, protocol.Errorf(protocol.CodeInternal, "cannot encode the result"))
		b, _ = protocol.Encode(m)
	}
	return b, m
}

// deliver hands the encoded result of command id to the writer, waiting
// as long as the link lives.
func (l *link) deliver(b []byte, id string) {
	select {
	case l.out <- b:
	case <-l.ctx.Done():
		l.log.Info("result not sent: the link closed", "id", id)
	}
}

// write is the link's only writer of data frames and of the
// heartbeat pings.
func (l *link) write(ctx context.Context) error {
	moveTimer := time.NewTimer(time.Hour) // armed while a move waits for its turn
	moveTimer.Stop()
	defer moveTimer.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case b := <-l.out:
			err = l.send(b)
		case b := <-l.telem:
			err = l.send(b)
		case <-l.events.ready:
			err = l.flushEvents(moveTimer)
		case <-moveTimer.C:
			err = l.flushEvents(moveTimer)
		case <-l.ping.C:
			l.ping.Reset(l.heartbeat)
			if err = l.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				err = fmt.Errorf("ping: %w", err)
			}
		}
		if err != nil {
			return err
		}
	}
}

// send writes one data frame. Called by the writer only.
func (l *link) send(b []byte) error {
	l.ws.SetWriteDeadline(time.Now().Add(writeWait))
	if err := l.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// flushEvents sends every queued event that may go now, and arms moveTimer
// when a move has to wait for its turn. Called by the writer only.
func (l *link) flushEvents(moveTimer *time.Timer) error {
	for {
		ev, at, wait := l.events.next(time.Now())
		if wait > 0 {
			moveTimer.Reset(wait)
		}
		if at.IsZero() {
			return nil
		}
		if l.state.watchers() == 0 {
			continue
		}
		b, err := protocol.Encode(&protocol.Message{
			Type: protocol.TypeEvent, Device: l.deviceID, TS: protocol.Timestamp(at), Data: protocol.MustData(ev),
		})
		if err != nil {
			continue
		}
		if err := l.send(b); err != nil {
			return err
		}
	}
}
