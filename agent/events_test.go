package agent

import (
	"slices"
	"testing"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

func TestEventQueue(t *testing.T) {
	move := func(x int) protocol.MouseEvent { return protocol.MouseEvent{Kind: protocol.MouseMove, X: x, Y: x} }
	click := func(x int) protocol.MouseEvent {
		return protocol.MouseEvent{Kind: protocol.MouseClick, X: x, Y: x, Button: "left"}
	}
	drain := func(q *eventQueue, now time.Time) (out []protocol.MouseEvent, wait time.Duration) {
		for {
			ev, at, w := q.next(now)
			if at.IsZero() {
				return out, w
			}
			out = append(out, ev)
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	t.Run("closed queue takes nothing", func(t *testing.T) {
		q := newEventQueue(50 * time.Millisecond)
		q.push(move(1))
		if out, _ := drain(q, t0); len(out) != 0 {
			t.Errorf("got %+v", out)
		}
	})
	t.Run("moves coalesce and wait their turn", func(t *testing.T) {
		q := newEventQueue(50 * time.Millisecond)
		q.open()
		q.push(move(1))
		if out, _ := drain(q, t0); !slices.Equal(out, []protocol.MouseEvent{move(1)}) {
			t.Fatalf("first move: %+v", out)
		}
		q.push(move(2))
		q.push(move(3))
		out, wait := drain(q, t0.Add(20*time.Millisecond))
		if len(out) != 0 || wait != 30*time.Millisecond {
			t.Fatalf("within 50 ms: %+v, wait %v; want nothing, 30ms", out, wait)
		}
		if out, _ := drain(q, t0.Add(50*time.Millisecond)); !slices.Equal(out, []protocol.MouseEvent{move(3)}) {
			t.Fatalf("after 50 ms: %+v, want the newest move only", out)
		}
	})
	t.Run("a click flushes the pending move first", func(t *testing.T) {
		q := newEventQueue(50 * time.Millisecond)
		q.open()
		q.push(move(1))
		drain(q, t0)
		q.push(move(2))
		q.push(click(2))
		q.push(click(3))
		if out, _ := drain(q, t0.Add(time.Millisecond)); !slices.Equal(out, []protocol.MouseEvent{move(2), click(2), click(3)}) {
			t.Fatalf("got %+v", out)
		}
	})
	t.Run("past the bound moves drop, clicks never", func(t *testing.T) {
		q := newEventQueue(50 * time.Millisecond)
		q.open()
		var want []protocol.MouseEvent
		for i := range eventQueueSoft + 100 {
			q.push(move(i))
			q.push(click(i))
			want = append(want, click(i))
		}
		out, _ := drain(q, t0)
		var clicks []protocol.MouseEvent
		for _, e := range out {
			if e.Kind == protocol.MouseClick {
				clicks = append(clicks, e)
			}
		}
		if !slices.Equal(clicks, want) {
			t.Errorf("clicks lost or reordered: %d of %d", len(clicks), len(want))
		}
		if q.droppedMoves() == 0 || len(out)-len(clicks)+q.droppedMoves() != eventQueueSoft+100 {
			t.Errorf("%d moves sent, %d dropped, want %d in all", len(out)-len(clicks), q.droppedMoves(), eventQueueSoft+100)
		}
	})
	t.Run("clear empties and closes", func(t *testing.T) {
		q := newEventQueue(50 * time.Millisecond)
		q.open()
		q.push(click(1))
		q.clear()
		q.push(click(2))
		if out, _ := drain(q, t0); len(out) != 0 {
			t.Errorf("got %+v", out)
		}
	})
}
