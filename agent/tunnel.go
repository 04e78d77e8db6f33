package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tether-desktop/tether/agent/backoff"
	"github.com/tether-desktop/tether/protocol"
)

// session registers if needed, dials the relay, says hello and serves the
// connection until it ends. It returns why it ended: errTokenRefused, a
// *websocket.CloseError from the relay, a dial or I/O error, or ctx's error.
// Command goroutines it starts are added to cmds.
func (a *Agent) session(ctx context.Context, bo *backoff.Backoff, cmds *sync.WaitGroup) error {
	creds, registered, err := EnsureCredentials(ctx, a.cfg.HTTPClient, a.cfg.ConfigDir, a.cfg.RelayURL,
		a.cfg.EnrollToken, Device{Name: a.name(), OS: runtime.GOOS})
	if err != nil {
		return err
	}
	if registered {
		a.log.Info("registered with relay", "relay", creds.Relay, "device_id", creds.DeviceID)
	}
	a.update(func(s *Status) { s.DeviceID = creds.DeviceID })

	u, err := wsURL(creds.Relay)
	if err != nil {
		return err
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+creds.DeviceToken)
	hdr.Set("User-Agent", "tether/"+a.cfg.Version)
	ws, resp, err := a.cfg.Dialer.DialContext(ctx, u, hdr)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return errTokenRefused
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return fmt.Errorf("dial relay: %w", apiError(resp.StatusCode, body))
		}
		return fmt.Errorf("dial relay: %w", err)
	}
	defer ws.Close()
	ws.SetReadLimit(protocol.MaxAgentFrame)

	maxFrame, err := readWelcome(ws, creds.DeviceID, a.cfg.DeadAfter)
	if err != nil {
		return err
	}
	l := &link{
		a:        a,
		ws:       ws,
		deviceID: creds.DeviceID,
		maxFrame: maxFrame,
		out:      make(chan []byte, 16),
		telem:    make(chan []byte, 1),
		probe:    make(chan struct{}, 1),
		watched:  make(chan struct{}, 1),
		kick:     make(chan struct{}, 1),
		events:   newEventQueue(a.moveEvery),
		cmds:     cmds,
		runCtx:   ctx,
	}
	// hello goes out before the writer starts, so it is the first frame.
	h := a.hello()
	l.helloData = protocol.MustData(h)
	a.update(func(s *Status) { s.Unavailable = h.Unavailable })
	ws.SetWriteDeadline(time.Now().Add(writeWait))
	if err := ws.WriteMessage(websocket.TextMessage, l.helloFrame()); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	bo.Connected()
	defer bo.Disconnected()
	a.update(func(s *Status) {
		s.State = StateConnected
		s.LastError = ""
		s.NextRetry = time.Time{}
		s.Watchers = 0
	})
	a.log.Info("connected to relay", "relay", creds.Relay, "device_id", creds.DeviceID)
	return l.serve(ctx)
}

// readWelcome reads the relay's first frame and returns the largest frame the
// relay accepts from the agent.
func readWelcome(ws *websocket.Conn, deviceID string, wait time.Duration) (int, error) {
	ws.SetReadDeadline(time.Now().Add(wait))
	_, frame, err := ws.ReadMessage()
	if err != nil {
		return 0, fmt.Errorf("read welcome: %w", err)
	}
	m, err := protocol.Decode(frame)
	if err != nil {
		return 0, fmt.Errorf("read welcome: %w", err)
	}
	if m.Type != protocol.TypeWelcome {
		return 0, fmt.Errorf("read welcome: the relay's first frame is %q", m.Type)
	}
	var w protocol.Welcome
	if err := json.Unmarshal(m.Data, &w); err != nil {
		return 0, fmt.Errorf("read welcome: %w", err)
	}
	if w.DeviceID != "" && w.DeviceID != deviceID {
		return 0, fmt.Errorf("read welcome: relay took us for device %q, not %q", w.DeviceID, deviceID)
	}
	maxFrame := protocol.MaxAgentFrame
	if w.MaxFrame > 0 && w.MaxFrame < maxFrame {
		maxFrame = w.MaxFrame
	}
	return maxFrame, nil
}

// wsURL turns the relay's base URL into the agent socket's URL.
func wsURL(relay string) (string, error) {
	u, err := url.Parse(relay)
	if err != nil {
		return "", fmt.Errorf("relay URL %q: %w", relay, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("relay URL %q: scheme must be http or https", relay)
	}
	if u.Host == "" {
		return "", fmt.Errorf("relay URL %q has no host", relay)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/ws/agent"
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// link is one live connection. Its reader, writer and pump goroutines are
// owned by serve; only the writer writes data frames, everyone else hands it
// encoded frames through out (never dropped) or telem (latest only).
type link struct {
	a        *Agent
	ws       *websocket.Conn
	deviceID string
	maxFrame int

	out     chan []byte   // results and hellos: senders wait (bounded by the link's ctx)
	telem   chan []byte   // cap 1: the newest telemetry sample
	probe   chan struct{} // cap 1: ping now with a short deadline (woke from sleep)
	watched chan struct{} // cap 1: watchers went from 0 to more
	kick    chan struct{} // cap 1: watchers changed; the mouse loop looks again

	events *eventQueue // mouse events for the writer; filled only while shared

	watchers atomic.Int64
	ctx      context.Context // the link's; set by serve before any goroutine starts

	cmds   *sync.WaitGroup // owner of command goroutines (Run)
	runCtx context.Context // commands run under the agent's context, not the link's

	// owned by the pump
	helloData json.RawMessage
	sampleErr bool
}

// serve runs the link until it fails or ctx ends, and returns why it ended.
func (l *link) serve(ctx context.Context) error {
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l.ctx = lctx
	var wg sync.WaitGroup
	wg.Go(func() { cancel(l.read(lctx)) })
	wg.Go(func() { cancel(l.write(lctx)) })
	wg.Go(func() { l.pump(lctx) })
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

func (l *link) helloFrame() []byte {
	b, _ := protocol.Encode(&protocol.Message{
		Type: protocol.TypeHello, Device: l.deviceID, TS: protocol.Timestamp(time.Now()), Data: l.helloData,
	})
	return b
}

// read is the connection's only reader. Every frame and pong pushes the read
// deadline DeadAfter further, so a silent link fails the read.
func (l *link) read(ctx context.Context) error {
	a := l.a
	dead := a.cfg.DeadAfter
	extend := func() { l.ws.SetReadDeadline(time.Now().Add(dead)) }
	extend()
	l.ws.SetPongHandler(func(string) error { extend(); return nil })
	l.ws.SetPingHandler(func(data string) error {
		extend()
		err := l.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeWait))
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || (errors.As(err, &ne) && ne.Timeout()) {
			return nil
		}
		return err
	})
	for {
		_, frame, err := l.ws.ReadMessage()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("link dead: nothing from the relay in time: %w", err)
			}
			return fmt.Errorf("read: %w", err)
		}
		extend()
		m, err := protocol.Decode(frame)
		if err != nil {
			a.log.Debug("ignoring a bad frame from the relay", "err", err)
			continue
		}
		switch m.Type {
		case protocol.TypeWatch:
			var w protocol.Watch
			if err := json.Unmarshal(m.Data, &w); err != nil || w.Watchers < 0 {
				a.log.Debug("ignoring a bad watch message", "err", err)
				continue
			}
			prev := l.watchers.Swap(int64(w.Watchers))
			if w.Watchers == 0 {
				select { // a queued sample is no longer wanted
				case <-l.telem:
				default:
				}
				l.events.clear() // nor are queued events
			}
			select {
			case l.kick <- struct{}{}:
			default:
			}
			if prev == 0 && w.Watchers > 0 {
				select {
				case l.watched <- struct{}{}:
				default:
				}
			}
			a.update(func(s *Status) { s.Watchers = w.Watchers })
			a.log.Debug("watchers changed", "watchers", w.Watchers)
		case protocol.TypeCommand:
			l.command(m)
		case protocol.TypeError:
			if m.Error != nil {
				a.log.Warn("relay refused a frame", "code", m.Error.Code, "message", m.Error.Message)
			}
		case protocol.TypeWelcome:
		default:
			a.log.Debug("ignoring a message from the relay", "type", m.Type)
		}
	}
}

// command starts command m, or answers rate_limited when MaxConcurrent
// commands already run. Called by the reader only.
func (l *link) command(m *protocol.Message) {
	a := l.a
	dev := m.Device
	if dev == "" {
		dev = l.deviceID
	}
	select {
	case a.sem <- struct{}{}:
	default:
		l.sendResult(protocol.Result(m.ID, dev, nil, protocol.Errorf(protocol.CodeRateLimited,
			"%d commands are already running on this computer", cap(a.sem))))
		return
	}
	l.cmds.Go(func() {
		defer func() { <-a.sem }()
		data, perr := a.runCommand(l.runCtx, m.Name, m.Args)
		if perr != nil {
			a.log.Info("command refused or failed", "command", m.Name, "id", m.ID, "code", perr.Code, "err", perr.Message)
		} else {
			a.log.Info("command done", "command", m.Name, "id", m.ID)
		}
		l.sendResult(protocol.Result(m.ID, dev, data, perr))
	})
}

// runCommand runs one command through the dispatcher; a panic becomes an
// internal error, so every command has exactly one answer.
func (a *Agent) runCommand(ctx context.Context, name string, args json.RawMessage) (data json.RawMessage, perr *protocol.Error) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("command panicked", "command", name, "panic", r)
			data, perr = nil, protocol.Errorf(protocol.CodeInternal, "command %q failed unexpectedly", name)
		}
	}()
	return a.disp.Run(ctx, name, args)
}

// sendResult hands a result to the writer, waiting as long as the link
// lives. A result too large for the relay becomes a too_large failure.
func (l *link) sendResult(m *protocol.Message) {
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
	select {
	case l.out <- b:
	case <-l.ctx.Done():
		l.a.log.Info("result not sent: the connection closed", "id", m.ID)
	}
}

// write is the connection's only writer of data frames and pings.
func (l *link) write(ctx context.Context) error {
	ping := time.NewTicker(l.a.cfg.Heartbeat)
	defer ping.Stop()
	moveTimer := time.NewTimer(time.Hour) // armed while a move waits for its turn
	moveTimer.Stop()
	defer moveTimer.Stop()
	var probeEnd time.Time // end of the running wake-up probe
	send := func(b []byte) error {
		l.ws.SetWriteDeadline(time.Now().Add(writeWait))
		if err := l.ws.WriteMessage(websocket.TextMessage, b); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case b := <-l.out:
			if err := send(b); err != nil {
				return err
			}
		case b := <-l.telem:
			if err := send(b); err != nil {
				return err
			}
		case <-l.events.ready:
			if err := l.flushEvents(send, moveTimer); err != nil {
				return err
			}
		case <-moveTimer.C:
			if err := l.flushEvents(send, moveTimer); err != nil {
				return err
			}
		case <-ping.C:
			if err := l.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		case <-l.probe:
			// A pong (or any frame) within probeWait pushes the deadline
			// back to DeadAfter; silence drops the link. A probe still
			// running is not extended by a new one.
			now := time.Now()
			if now.Before(probeEnd) {
				continue
			}
			probeEnd = now.Add(l.a.probeWait)
			l.ws.SetReadDeadline(probeEnd)
			if err := l.ws.WriteControl(websocket.PingMessage, nil, probeEnd); err != nil {
				return fmt.Errorf("ping after sleep: %w", err)
			}
		}
	}
}

// pump produces what the agent sends on its own: telemetry while watched,
// hello again when it changes, and the wake-from-sleep probe.
func (l *link) pump(ctx context.Context) {
	a := l.a
	tel := time.NewTicker(a.cfg.TelemetryEvery)
	defer tel.Stop()
	hello := time.NewTicker(a.cfg.SettingsPoll)
	defer hello.Stop()
	sleep := time.NewTicker(a.sleepEvery)
	defer sleep.Stop()
	det := newSleepDetector(a.wallNow)
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.watched:
			l.telemetry(ctx)
		case <-tel.C:
			l.telemetry(ctx)
		case <-a.changed:
			l.refreshHello(ctx)
		case <-hello.C:
			l.refreshHello(ctx)
		case <-sleep.C:
			if jump := det.check(); jump > 0 {
				a.log.Info("the clock jumped (the computer slept?); checking the link", "jump", jump.Round(time.Second))
				select {
				case l.probe <- struct{}{}:
				default:
				}
			}
		}
	}
}

// telemetry takes a sample and queues it, replacing an unsent older one.
// Nothing is sampled while nobody watches or the owner paused Tether.
func (l *link) telemetry(ctx context.Context) {
	if l.watchers.Load() == 0 || l.a.paused() {
		return
	}
	t, err := l.a.cfg.Sampler.Sample(ctx)
	if err != nil {
		if !l.sampleErr {
			l.a.log.Warn("cannot sample telemetry", "err", err)
		}
		l.sampleErr = true
		return
	}
	l.sampleErr = false
	b, err := protocol.Encode(&protocol.Message{
		Type: protocol.TypeTelemetry, Device: l.deviceID, TS: protocol.Timestamp(time.Now()), Data: protocol.MustData(t),
	})
	if err != nil || l.watchers.Load() == 0 {
		return
	}
	select {
	case l.telem <- b:
	default:
		select { // drop the stale sample; only the pump sends on telem
		case <-l.telem:
		default:
		}
		select {
		case l.telem <- b:
		default:
		}
	}
}

// refreshHello sends hello again if anything in it changed.
func (l *link) refreshHello(ctx context.Context) {
	h := l.a.hello()
	data := protocol.MustData(h)
	if bytes.Equal(data, l.helloData) {
		return
	}
	l.helloData = data
	l.a.update(func(s *Status) { s.Unavailable = h.Unavailable })
	l.a.log.Info("announcing changed settings to the relay")
	select {
	case l.out <- l.helloFrame():
	case <-ctx.Done():
	}
}

// sleepDetector notices that the machine slept: the wall clock keeps running
// through a suspend, the monotonic clock does not, so after a wake the wall
// clock has moved well past the monotonic one.
type sleepDetector struct {
	wallNow func() time.Time // wall clock, monotonic reading stripped
	wall    time.Time
	mono    time.Time
}

func newSleepDetector(wallNow func() time.Time) *sleepDetector {
	return &sleepDetector{wallNow: wallNow, wall: wallNow(), mono: time.Now()}
}

// check returns how far the wall clock ran ahead of the monotonic clock since
// the last check, or 0 if that is less than sleepJump.
func (d *sleepDetector) check() time.Duration {
	wall, mono := d.wallNow(), time.Now()
	jump := wall.Sub(d.wall) - mono.Sub(d.mono)
	d.wall, d.mono = wall, mono
	if jump < sleepJump {
		return 0
	}
	return jump
}

// flushEvents sends every queued event that may go now, and arms moveTimer
// when a move has to wait for its turn. Called by the writer only.
func (l *link) flushEvents(send func([]byte) error, moveTimer *time.Timer) error {
	for {
		ev, at, wait := l.events.next(time.Now())
		if wait > 0 {
			moveTimer.Reset(wait)
		}
		if at.IsZero() {
			return nil
		}
		if l.watchers.Load() == 0 {
			continue
		}
		b, err := protocol.Encode(&protocol.Message{
			Type: protocol.TypeEvent, Device: l.deviceID, TS: protocol.Timestamp(at), Data: protocol.MustData(ev),
		})
		if err != nil {
			continue
		}
		if err := send(b); err != nil {
			return err
		}
	}
}

// mouse watches the pointer while somebody watches the device and the owner
// shares mouse activity and has not paused Tether, and stops watching as soon
// as any of that ends. It looks
// again whenever the watchers change and every SettingsPoll. Owned by serve.
func (l *link) mouse(ctx context.Context) {
	a := l.a
	if a.cfg.Mouse == nil {
		return
	}
	poll := time.NewTicker(a.cfg.SettingsPoll)
	defer poll.Stop()
	var (
		stop     context.CancelFunc
		done     chan error
		failedAt time.Time
		failed   string
	)
	start := func() (context.CancelFunc, chan error) {
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		l.events.open()
		go func() { done <- a.cfg.Mouse.WatchMouse(wctx, l.events.push) }()
		return cancel, done
	}
	halt := func() {
		if stop == nil {
			return
		}
		stop()
		<-done
		stop, done = nil, nil
		l.events.clear()
		if n := l.events.droppedMoves(); n > 0 {
			a.log.Info("mouse moves dropped because the link was slow", "dropped", n)
		}
	}
	defer halt()
	for {
		want := l.watchers.Load() > 0 && a.mouseShared() && !a.paused()
		switch {
		case want && stop == nil && (failedAt.IsZero() || time.Since(failedAt) >= a.mouseRetry):
			stop, done = start()
			a.log.Debug("watching the pointer")
		case !want && stop != nil:
			halt()
			a.log.Debug("stopped watching the pointer")
		}
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
		case <-poll.C:
		case err := <-orNil(done):
			stop()
			stop, done = nil, nil
			l.events.clear()
			if err != nil && ctx.Err() == nil {
				failedAt = time.Now()
				if err.Error() != failed {
					a.log.Warn("mouse sharing is on but the pointer cannot be watched", "err", err)
				}
				failed = err.Error()
			}
		}
	}
}

// orNil returns c, or nil (which blocks forever in a select) when c is nil.
func orNil(c chan error) <-chan error {
	if c == nil {
		return nil
	}
	return c
}

// eventQueue holds mouse events between the pointer watcher and the link's
// writer. Moves coalesce into one slot (the newest position wins) and leave
// at most once per moveEvery; clicks and scrolls queue in order, each after
// any move that came before it. Past eventQueueSoft queued events the oldest
// queued moves are dropped (and counted); clicks and scrolls never are. Safe
// for concurrent use; push never blocks.
type eventQueue struct {
	every time.Duration
	ready chan struct{} // cap 1: something was queued

	mu       sync.Mutex
	on       bool // accepting events (between open and clear)
	move     *queuedEvent
	queue    []queuedEvent
	lastMove time.Time
	dropped  int
}

type queuedEvent struct {
	ev protocol.MouseEvent
	at time.Time
}

func newEventQueue(every time.Duration) *eventQueue {
	return &eventQueue{every: every, ready: make(chan struct{}, 1)}
}

// open makes push accept events.
func (q *eventQueue) open() {
	q.mu.Lock()
	q.on = true
	q.mu.Unlock()
}

// clear drops everything queued and refuses events until open.
func (q *eventQueue) clear() {
	q.mu.Lock()
	q.on, q.move, q.queue = false, nil, nil
	q.mu.Unlock()
}

// push queues ev (taken now). Called by the pointer watcher.
func (q *eventQueue) push(ev protocol.MouseEvent) {
	now := time.Now()
	q.mu.Lock()
	if !q.on {
		q.mu.Unlock()
		return
	}
	if ev.Kind == protocol.MouseMove {
		q.move = &queuedEvent{ev, now}
	} else {
		if q.move != nil { // the page must see the move before the click
			q.queue = append(q.queue, *q.move)
			q.move = nil
		}
		q.queue = append(q.queue, queuedEvent{ev, now})
		for len(q.queue) > eventQueueSoft {
			i := slices.IndexFunc(q.queue, func(e queuedEvent) bool { return e.ev.Kind == protocol.MouseMove })
			if i < 0 {
				break // only clicks and scrolls: they are never dropped
			}
			q.queue = slices.Delete(q.queue, i, i+1)
			q.dropped++
		}
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// next returns the next event to send now (at is its time; zero when there
// is none) and, when a move waits for its turn, how long until it may go.
func (q *eventQueue) next(now time.Time) (ev protocol.MouseEvent, at time.Time, wait time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queue) > 0 {
		e := q.queue[0]
		q.queue = q.queue[1:]
		if e.ev.Kind == protocol.MouseMove {
			q.lastMove = now
		}
		return e.ev, e.at, 0
	}
	if q.move == nil {
		return ev, at, 0
	}
	if d := q.lastMove.Add(q.every).Sub(now); d > 0 {
		return ev, at, d
	}
	e := *q.move
	q.move, q.lastMove = nil, now
	return e.ev, e.at, 0
}

// droppedMoves returns how many queued moves were dropped so far.
func (q *eventQueue) droppedMoves() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}
