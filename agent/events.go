package agent

import (
	"slices"
	"sync"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

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
