//go:build cgo && (windows || darwin)

package desktop

import (
	"context"
	"sync"

	hook "github.com/robotn/gohook"

	"github.com/tether-desktop/tether/protocol"
)

// watchPointer reports pointer events through gohook until ctx ends.
// (On Linux gohook is not linked: its library constructor opens the display
// when the program loads and crashes the process when there is none.)
func watchPointer(ctx context.Context, emit func(protocol.MouseEvent)) error {
	cancel := subscribe(emit)
	defer cancel()
	<-ctx.Done()
	return nil
}

// pointerHook fans gohook's events out to the WatchMouse calls running now.
// gohook is started once, the first time somebody watches, and then runs
// until the process exits: its End races with its own poller (an unguarded
// flag), so it is never stopped; with no watcher its events are dropped here.
// The forwarding goroutine is owned by the process for the same reason.
var pointerHook struct {
	once sync.Once
	mu   sync.Mutex
	next int
	subs map[int]func(protocol.MouseEvent)
}

// hookPoll is how often gohook hands over the events it collected, in ms.
const hookPoll = 10

// subscribe starts gohook if needed and calls emit for each pointer event
// until the returned cancel is called. emit must not block.
func subscribe(emit func(protocol.MouseEvent)) (cancel func()) {
	h := &pointerHook
	h.once.Do(func() {
		h.subs = map[int]func(protocol.MouseEvent){}
		events := hook.Start(hookPoll)
		go func() {
			for e := range events {
				me, ok := mouseEvent(e)
				if !ok {
					continue
				}
				h.mu.Lock()
				for _, f := range h.subs {
					f(me)
				}
				h.mu.Unlock()
			}
		}()
	})
	h.mu.Lock()
	id := h.next
	h.next++
	h.subs[id] = emit
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.subs, id)
		h.mu.Unlock()
	}
}

// gohook's event kinds (libuiohook's event types).
const (
	hookPressed = hook.MouseDown // 7: EVENT_MOUSE_PRESSED
	hookMoved   = hook.MouseMove
	hookDragged = hook.MouseDrag
	hookWheel   = hook.MouseWheel
)

// mouseEvent turns a gohook event into a protocol event, if it is one we
// share: moves (and drags), presses of the three main buttons, wheel turns.
func mouseEvent(e hook.Event) (protocol.MouseEvent, bool) {
	x, y := int(e.X), int(e.Y)
	switch e.Kind {
	case hookMoved, hookDragged:
		return protocol.MouseEvent{Kind: protocol.MouseMove, X: x, Y: y}, true
	case hookPressed:
		var b string
		switch e.Button {
		case 1:
			b = protocol.ButtonLeft
		case 2:
			b = protocol.ButtonRight
		case 3:
			b = protocol.ButtonMiddle
		default:
			return protocol.MouseEvent{}, false
		}
		return protocol.MouseEvent{Kind: protocol.MouseClick, X: x, Y: y, Button: b}, true
	case hookWheel:
		steps := int(e.Rotation)
		if steps == 0 {
			return protocol.MouseEvent{}, false
		}
		ev := protocol.MouseEvent{Kind: protocol.MouseScroll, X: x, Y: y}
		if e.Direction == 4 { // WHEEL_HORIZONTAL_DIRECTION
			ev.DX = steps
		} else {
			ev.DY = steps
		}
		return ev, true
	}
	return protocol.MouseEvent{}, false
}
