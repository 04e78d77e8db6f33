package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tether-desktop/tether/protocol"
)

// pump produces what the agent sends on its own: telemetry while watched
// (at once when the first watcher comes), hello again when the state's
// hello changed, and the probe of the link after a wake from sleep. It
// returns nil when ctx ends, or the error of a failed probe. Owned by serve.
func (l *link) pump(ctx context.Context) error {
	// The telemetry ticker runs only while someone watches: an agent
	// nobody watches (nearly all its life) wakes for nothing.
	tel := newTicker()
	defer tel.close()
	// The kernel tells of a wake from sleep through the state (Agent.Run's
	// clock watch); without that news the clocks are compared every
	// sleepEvery.
	var sleepC <-chan time.Time
	if l.sleepEvery > 0 {
		sleep := time.NewTicker(l.sleepEvery)
		defer sleep.Stop()
		sleepC = sleep.C
	}
	det := newSleepDetector(l.wallNow)
	// Subscribe first, then look: a change made between greet and this
	// point has already closed its channel and would wake nobody.
	changed := l.state.changes()
	watched := l.state.watchers() > 0
	jumps := l.state.clockJumps()
	if watched {
		tel.Reset(l.telemetryEvery)
	}
	l.refreshHello(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			changed = l.state.changes()
			now := l.state.watchers() > 0
			switch {
			case now && !watched:
				l.telemetry(ctx)
				tel.Reset(l.telemetryEvery)
			case !now && watched:
				tel.Stop()
			}
			watched = now
			l.refreshHello(ctx)
			if j := l.state.clockJumps(); j != jumps {
				jumps = j
				if err := l.checkSleep(det); err != nil {
					return err
				}
			}
		case <-tel.C():
			l.telemetry(ctx)
		case <-sleepC:
			if err := l.checkSleep(det); err != nil {
				return err
			}
		}
	}
}

// checkSleep probes the link when the clocks say the computer slept.
func (l *link) checkSleep(det *sleepDetector) error {
	if jump := det.check(); jump > 0 {
		l.log.Info("the clock jumped (the computer slept?); checking the link", "jump", jump.Round(time.Second))
		return l.probe()
	}
	return nil
}

// greet sends hello, the first frame, before any goroutine starts. On
// failure it closes the connection.
func (l *link) greet() error {
	l.sentHello = l.state.hello()
	l.ws.SetWriteDeadline(time.Now().Add(writeWait))
	if err := l.ws.WriteMessage(websocket.TextMessage, l.helloFrame()); err != nil {
		l.ws.Close()
		return fmt.Errorf("send hello: %w", err)
	}
	return nil
}

func (l *link) helloFrame() []byte {
	b, _ := protocol.Encode(&protocol.Message{
		Type: protocol.TypeHello, Device: l.deviceID, TS: protocol.Timestamp(time.Now()), Data: l.sentHello,
	})
	return b
}

// telemetry takes a sample and queues it, replacing an unsent older one.
// Nothing is sampled while nobody watches or the owner paused Tether.
func (l *link) telemetry(ctx context.Context) {
	if l.state.watchers() == 0 || l.state.paused() {
		return
	}
	t, err := l.sampler.Sample(ctx)
	if err != nil {
		if !l.sampleErr {
			l.log.Warn("cannot sample telemetry", "err", err)
		}
		l.sampleErr = true
		return
	}
	l.sampleErr = false
	// The sample's JSON goes into a buffer the pump keeps; only the frame
	// that leaves is new memory (a watched agent samples every second).
	if l.telEnc == nil {
		l.telEnc = json.NewEncoder(&l.telData)
	}
	l.telData.Reset()
	l.telSample = t // Encode's argument escapes: a field of l, not a new copy each time
	if err := l.telEnc.Encode(&l.telSample); err != nil {
		return
	}
	b, err := protocol.Encode(&protocol.Message{
		Type: protocol.TypeTelemetry, Device: l.deviceID, TS: protocol.Timestamp(time.Now()), Data: l.telData.Bytes(),
	})
	if err != nil {
		return
	}
	l.telemMu.Lock()
	defer l.telemMu.Unlock()
	if l.state.watchers() == 0 { // the watchers left while the sample was taken
		return
	}
	select { // drop the stale sample; only the pump sends on telem
	case <-l.telem:
	default:
	}
	select {
	case l.telem <- b:
	default:
	}
}

// refreshHello sends hello again if the state's differs from the last sent.
func (l *link) refreshHello(ctx context.Context) {
	data := l.state.hello()
	if bytes.Equal(data, l.sentHello) {
		return
	}
	l.sentHello = data
	l.log.Info("announcing changed settings to the relay")
	select {
	case l.out <- l.helloFrame():
	case <-ctx.Done():
	}
}

// probe checks the link after a wake from sleep: a pong (or any frame)
// within probeWait pushes the read deadline back to deadAfter; silence
// makes the reader fail. A probe still running is not extended by a new
// one. Ping and deadline are safe beside the writer and the reader
// (gorilla/websocket's WriteControl; the deadline is the socket's).
func (l *link) probe() error {
	now := time.Now()
	if now.Before(l.probeEnd) {
		return nil
	}
	l.probeEnd = now.Add(l.probeWait)
	l.ws.SetReadDeadline(l.probeEnd)
	if err := l.ws.WriteControl(websocket.PingMessage, nil, l.probeEnd); err != nil {
		return fmt.Errorf("ping after sleep: %w", err)
	}
	return nil
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
