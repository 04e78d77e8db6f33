package desktop

// The X11 clipboard. The CLIPBOARD selection is a conversation between
// clients: whoever owns it answers SelectionRequest events with the text,
// so the clipboard has an X connection of its own whose events it reads
// (the display's connection drains its events unread). It is opened on
// first use, and again after the server went away.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jezek/xgb/xproto"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// convertBound bounds the wait for the clipboard owner's answer.
const convertBound = 3 * time.Second

// xClipboard owns its connection and, after a set, the CLIPBOARD selection.
// Safe for concurrent use.
type xClipboard struct {
	log *slog.Logger

	mu     sync.Mutex // one get or set at a time; guards conn below
	c      *clipConn
	closed bool
}

// clipConn is one connection of the clipboard, with its window and atoms.
type clipConn struct {
	*xConn
	win                                          xproto.Window
	clipboard, utf8, targets, text, incr, target xproto.Atom
	notify                                       chan xproto.SelectionNotifyEvent // answers to our ConvertSelection
	done                                         chan struct{}                    // closed when the connection ended

	smu   sync.Mutex // guards offer and owned
	offer []byte     // the text we give while we own the selection
	owned bool
}

func newClipboard(log *slog.Logger) clipboard { return &xClipboard{log: log} }

// conn returns the open connection, opening one if needed.
func (x *xClipboard) conn() (*clipConn, error) {
	if x.closed {
		return nil, protocol.Errorf(protocol.CodeUnavailable, "the agent is stopping")
	}
	if x.c != nil {
		select {
		case <-x.c.done:
			x.c = nil
		default:
			return x.c, nil
		}
	}
	c, why, err := openX(os.Getenv("DISPLAY"))
	if c == nil {
		if err != nil {
			why += ": " + err.Error()
		}
		return nil, protocol.Errorf(protocol.CodeUnavailable, "%s", why)
	}
	cc, err := setupClipboard(c)
	if err != nil {
		c.close()
		return nil, protocol.Errorf(protocol.CodeUnavailable, "no clipboard on the X display: %v", err)
	}
	go cc.serve(x.log)
	x.c = cc
	return cc, nil
}

// setupClipboard creates the clipboard's window and looks up its atoms.
func setupClipboard(c *xConn) (*clipConn, error) {
	cc := &clipConn{xConn: c, notify: make(chan xproto.SelectionNotifyEvent, 1), done: make(chan struct{})}
	for _, a := range []struct {
		name string
		to   *xproto.Atom
	}{{"CLIPBOARD", &cc.clipboard}, {"UTF8_STRING", &cc.utf8}, {"TARGETS", &cc.targets},
		{"TEXT", &cc.text}, {"INCR", &cc.incr}, {"TETHER_CLIPBOARD", &cc.target}} {
		r, err := answer(c, xproto.InternAtom(c.x, false, uint16(len(a.name)), a.name).Reply)
		if err != nil {
			return nil, fmt.Errorf("intern %s: %w", a.name, err)
		}
		*a.to = r.Atom
	}
	win, err := xproto.NewWindowId(c.x)
	if err != nil {
		return nil, err
	}
	if err := xproto.CreateWindowChecked(c.x, 0, win, c.root, 0, 0, 1, 1, 0, xproto.WindowClassInputOnly,
		0, xproto.CwEventMask, []uint32{xproto.EventMaskPropertyChange}).Check(); err != nil {
		return nil, fmt.Errorf("create the clipboard window: %w", err)
	}
	cc.win = win
	return cc, nil
}

// serve reads the connection's events until it ends: it answers requests
// for the text we own, forgets it when another client takes the clipboard,
// and hands the answer of our own requests to the get waiting for it.
func (cc *clipConn) serve(log *slog.Logger) {
	defer close(cc.done)
	defer cc.close()
	for {
		ev, xerr := cc.x.WaitForEvent()
		if ev == nil && xerr == nil {
			return
		}
		switch e := ev.(type) {
		case xproto.SelectionRequestEvent:
			cc.answerRequest(e)
		case xproto.SelectionClearEvent:
			cc.smu.Lock()
			cc.owned, cc.offer = false, nil
			cc.smu.Unlock()
			log.Debug("another client took the clipboard")
		case xproto.SelectionNotifyEvent:
			select {
			case cc.notify <- e:
			default:
			}
		}
	}
}

// answerRequest gives the requestor our text (or the list of targets) in
// the property it named, then tells it so.
func (cc *clipConn) answerRequest(e xproto.SelectionRequestEvent) {
	cc.smu.Lock()
	text, owned := cc.offer, cc.owned
	cc.smu.Unlock()
	prop := e.Property
	if prop == xproto.AtomNone { // an obsolete client: the target names the property
		prop = e.Target
	}
	switch {
	case !owned || e.Selection != cc.clipboard:
		prop = xproto.AtomNone
	case e.Target == cc.targets:
		atoms := []xproto.Atom{cc.targets, cc.utf8, xproto.AtomString, cc.text}
		buf := make([]byte, 4*len(atoms))
		for i, a := range atoms {
			binary.LittleEndian.PutUint32(buf[4*i:], uint32(a)) // xgb speaks little-endian
		}
		xproto.ChangeProperty(cc.x, xproto.PropModeReplace, e.Requestor, prop, xproto.AtomAtom, 32, uint32(len(atoms)), buf)
	case e.Target == cc.utf8 || e.Target == xproto.AtomString || e.Target == cc.text:
		typ := e.Target
		if typ == cc.text {
			typ = cc.utf8
		}
		xproto.ChangeProperty(cc.x, xproto.PropModeReplace, e.Requestor, prop, typ, 8, uint32(len(text)), text)
	default:
		prop = xproto.AtomNone
	}
	reply := xproto.SelectionNotifyEvent{Time: e.Time, Requestor: e.Requestor, Selection: e.Selection, Target: e.Target, Property: prop}
	xproto.SendEvent(cc.x, false, e.Requestor, 0, string(reply.Bytes()))
}

// get returns the clipboard's text: ours when we own it, else the owner's,
// asked for as UTF8_STRING and then as STRING.
func (x *xClipboard) get(ctx context.Context) (string, bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	cc, err := x.conn()
	if err != nil {
		return "", false, err
	}
	cc.smu.Lock()
	text, owned := cc.offer, cc.owned
	cc.smu.Unlock()
	if owned {
		s, cut := clipText(text, false)
		return s, cut, nil
	}
	owner, err := answer(cc.xConn, xproto.GetSelectionOwner(cc.x, cc.clipboard).Reply)
	if err != nil {
		return "", false, x.lost(err)
	}
	if owner.Owner == xproto.WindowNone {
		return "", false, nil // nobody holds anything: the clipboard is empty
	}
	var why error
	for _, target := range []xproto.Atom{cc.utf8, xproto.AtomString} {
		s, cut, err := cc.convert(ctx, target)
		if err == nil {
			return s, cut, nil
		}
		if errors.Is(err, errConnLost) {
			return "", false, x.lost(err)
		}
		why = err
	}
	return "", false, why
}

var errConnLost = errors.New("the X display went away")

// convert asks the owner for the clipboard as target and reads the answer.
func (cc *clipConn) convert(ctx context.Context, target xproto.Atom) (string, bool, error) {
	select {
	case <-cc.notify: // a stale answer
	default:
	}
	xproto.ConvertSelection(cc.x, cc.win, cc.clipboard, target, cc.target, xproto.TimeCurrentTime)
	t := time.NewTimer(convertBound)
	defer t.Stop()
	var ev xproto.SelectionNotifyEvent
	select {
	case ev = <-cc.notify:
	case <-cc.done:
		return "", false, errConnLost
	case <-t.C:
		return "", false, protocol.Errorf(protocol.CodeUnavailable, "the clipboard's owner did not answer within %v", convertBound)
	case <-ctx.Done():
		return "", false, ctx.Err()
	}
	if ev.Property == xproto.AtomNone {
		return "", false, protocol.Errorf(protocol.CodeUnavailable, "the clipboard holds no text")
	}
	r, err := answer(cc.xConn, xproto.GetProperty(cc.x, true, cc.win, cc.target, xproto.GetPropertyTypeAny, 0, commands.MaxClipboardGet/4+1).Reply)
	if err != nil {
		return "", false, errConnLost
	}
	if r.Type == cc.incr {
		return "", false, protocol.Errorf(protocol.CodeUnavailable, "the clipboard's text is too large to read (sent in parts)")
	}
	s, cut := clipText(r.Value, r.BytesAfter > 0)
	return s, cut, nil
}

// set makes us the owner of the clipboard, offering text.
func (x *xClipboard) set(ctx context.Context, text string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	cc, err := x.conn()
	if err != nil {
		return err
	}
	cc.smu.Lock()
	cc.offer, cc.owned = []byte(text), true
	cc.smu.Unlock()
	xproto.SetSelectionOwner(cc.x, cc.win, cc.clipboard, xproto.TimeCurrentTime)
	owner, err := answer(cc.xConn, xproto.GetSelectionOwner(cc.x, cc.clipboard).Reply)
	if err != nil {
		return x.lost(err)
	}
	if owner.Owner != cc.win {
		return fmt.Errorf("the X server did not give us the clipboard")
	}
	return nil
}

// lost drops the connection after a failed request and says so.
func (x *xClipboard) lost(err error) error {
	if x.c != nil {
		x.c.close()
		x.c = nil
	}
	return protocol.Errorf(protocol.CodeUnavailable, "the X display went away: %v", err)
}

// unavailable says why the clipboard cannot be used now: the display's
// reason, as the clipboard lives on the same server.
func (x *xClipboard) unavailable(display screenBackend) string {
	return display.unavailable()
}

func (x *xClipboard) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.closed = true
	if x.c != nil {
		x.c.close()
		<-x.c.done
		x.c = nil
	}
}
