//go:build cgo

package desktop

/*
#cgo linux LDFLAGS: -lX11 -lXtst
#include <stdlib.h>
#include <X11/Xlib.h>
#include <X11/Xproto.h>
#include <X11/extensions/record.h>

// A recording of the pointer's core device events (button presses and
// motion) through the RECORD extension: one connection controls the
// context, the other receives the data. Everything runs on the goroutine
// that polls, so no Xlib object is shared between threads.
#define TETHER_QUEUE 1024

typedef struct { int type, x, y, detail; } tether_ev;

typedef struct {
	Display *ctrl, *data;
	XRecordContext rc;
	int n, lost;
	tether_ev q[TETHER_QUEUE];
} tether_rec;

static void tether_rec_cb(XPointer priv, XRecordInterceptData *d) {
	tether_rec *r = (tether_rec *)priv;
	if (d->category == XRecordFromServer && d->data != NULL && d->data_len > 0) {
		xEvent *e = (xEvent *)d->data;
		int type = e->u.u.type & 0x7f;
		if (type == ButtonPress || type == MotionNotify) {
			if (r->n < TETHER_QUEUE) {
				tether_ev *t = &r->q[r->n++];
				t->type = type;
				t->x = e->u.keyButtonPointer.rootX;
				t->y = e->u.keyButtonPointer.rootY;
				t->detail = e->u.u.detail;
			} else {
				r->lost++;
			}
		}
	}
	XRecordFreeData(d);
}

static void tether_rec_free(tether_rec *r) {
	if (r->ctrl && r->rc) {
		XRecordDisableContext(r->ctrl, r->rc);
		XSync(r->ctrl, False);
		XRecordFreeContext(r->ctrl, r->rc);
	}
	if (r->data) XCloseDisplay(r->data);
	if (r->ctrl) XCloseDisplay(r->ctrl);
	free(r);
}

// tether_rec_start returns a running recording, or NULL with *why set:
// 1 no display, 2 no RECORD extension, 3 the context could not be made.
static tether_rec *tether_rec_start(int *why) {
	tether_rec *r = calloc(1, sizeof *r);
	if (r == NULL) { *why = 3; return NULL; }
	r->ctrl = XOpenDisplay(NULL);
	r->data = XOpenDisplay(NULL);
	if (!r->ctrl || !r->data) { *why = 1; tether_rec_free(r); return NULL; }
	int major = 0, minor = 0;
	if (!XRecordQueryVersion(r->ctrl, &major, &minor)) { *why = 2; tether_rec_free(r); return NULL; }
	XRecordRange *range = XRecordAllocRange();
	if (range == NULL) { *why = 3; tether_rec_free(r); return NULL; }
	range->device_events.first = ButtonPress;
	range->device_events.last = MotionNotify;
	XRecordClientSpec clients = XRecordAllClients;
	r->rc = XRecordCreateContext(r->ctrl, 0, &clients, 1, &range, 1);
	XFree(range);
	if (!r->rc) { *why = 3; tether_rec_free(r); return NULL; }
	XSync(r->ctrl, False);
	if (!XRecordEnableContextAsync(r->data, r->rc, tether_rec_cb, (XPointer)r)) {
		*why = 3; tether_rec_free(r); return NULL;
	}
	return r;
}

// tether_rec_poll collects what arrived since the last poll into r->q and
// returns how many events it holds.
static int tether_rec_poll(tether_rec *r) {
	r->n = 0;
	XRecordProcessReplies(r->data);
	return r->n;
}

static tether_ev tether_rec_get(tether_rec *r, int i) { return r->q[i]; }
*/
import "C"

import (
	"context"
	"fmt"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// recordPoll is how often the recording is read.
const recordPoll = 10 * time.Millisecond

// watchPointer records the pointer's moves, button presses and wheel turns
// with the X RECORD extension and reports them through emit until ctx ends.
// The caller has checked the display.
func watchPointer(ctx context.Context, emit func(protocol.MouseEvent)) error {
	var why C.int
	r := C.tether_rec_start(&why)
	if r == nil {
		switch why {
		case 1:
			return protocol.Errorf(protocol.CodeUnavailable, "no X display to watch the pointer on")
		case 2:
			return protocol.Errorf(protocol.CodeUnavailable, "the X server has no RECORD extension: the pointer cannot be watched")
		default:
			return fmt.Errorf("watch the pointer: cannot set up an X RECORD context")
		}
	}
	defer C.tether_rec_free(r)
	tick := time.NewTicker(recordPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		n := int(C.tether_rec_poll(r))
		for i := range n {
			e := C.tether_rec_get(r, C.int(i))
			if ev, ok := recordedEvent(int(e._type), int(e.x), int(e.y), int(e.detail)); ok {
				emit(ev)
			}
		}
	}
}

// X core event types and buttons.
const (
	xButtonPress  = 4
	xMotionNotify = 6
)

// recordedEvent turns a recorded core event into a protocol event: motion
// is a move; buttons 1–3 are clicks; 4–7 are the wheel (up, down, left,
// right).
func recordedEvent(typ, x, y, detail int) (protocol.MouseEvent, bool) {
	switch typ {
	case xMotionNotify:
		return protocol.MouseEvent{Kind: protocol.MouseMove, X: x, Y: y}, true
	case xButtonPress:
		ev := protocol.MouseEvent{Kind: protocol.MouseClick, X: x, Y: y}
		switch detail {
		case 1:
			ev.Button = protocol.ButtonLeft
		case 2:
			ev.Button = protocol.ButtonMiddle
		case 3:
			ev.Button = protocol.ButtonRight
		case 4, 5, 6, 7:
			ev = protocol.MouseEvent{Kind: protocol.MouseScroll, X: x, Y: y}
			switch detail {
			case 4:
				ev.DY = -1
			case 5:
				ev.DY = 1
			case 6:
				ev.DX = -1
			case 7:
				ev.DX = 1
			}
		default:
			return protocol.MouseEvent{}, false
		}
		return ev, true
	}
	return protocol.MouseEvent{}, false
}
