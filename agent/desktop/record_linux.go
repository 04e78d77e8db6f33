//go:build linux

package desktop

// Watching the pointer with the X RECORD extension: a connection of its own
// creates a recording context for the core device events (button presses
// and motion) of every client and enables it; the server then streams the
// events as replies to that one request. xgb expects one reply per request,
// so this connection is spoken to directly: after the connection setup it
// only writes two requests and reads replies. Closing it ends the recording
// and frees the context, which belongs to it.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jezek/xgb/record"
	"github.com/jezek/xgb/xproto"

	"github.com/tether-desktop/tether/protocol"
)

// watchPointer reports the pointer's position, then its moves, button
// presses and wheel turns until ctx ends. When the display goes away it
// waits for it to come back and starts again.
func (x *xDisplay) watchPointer(ctx context.Context, emit func(protocol.MouseEvent)) error {
	watched := false // a recording has begun
	for {
		c, err := x.conn()
		if err == nil {
			var began bool
			began, err = x.record(ctx, c, emit)
			watched = watched || began
		}
		var perr *protocol.Error
		switch {
		case ctx.Err() != nil:
			return nil
		case !watched && err != nil, err != nil && !errors.As(err, &perr):
			return err // no display to start with, or one that cannot record
		}
		if pause(ctx, retryEvery) != nil { // the display went away: wait for it
			return nil
		}
	}
}

// record watches the pointer on c's server until ctx ends (it then returns
// ctx's error) or the recording fails. began reports whether the recording
// was running before it ended.
func (x *xDisplay) record(ctx context.Context, c *xConn, emit func(protocol.MouseEvent)) (began bool, err error) {
	ext, err := answer(c, xproto.QueryExtension(c.x, uint16(len("RECORD")), "RECORD").Reply)
	if err != nil {
		return false, x.fail(c, err)
	}
	if !ext.Present {
		return false, protocol.Errorf(protocol.CodeUnavailable, "the X server has no RECORD extension: the pointer cannot be watched")
	}
	px, py, err := c.location()
	if err != nil {
		return false, x.fail(c, err)
	}
	// Failures to set the recording up are not taken for the display going
	// away (the main connection tells that): they end the watch, and the
	// agent tries again later.
	nc, _, cookie, err := dialX(c.name, xOpenBound)
	if err != nil {
		return false, fmt.Errorf("open the pointer's recording connection: %w", err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	nc.SetDeadline(time.Now().Add(xOpenBound))
	base, err := xSetup(nc, cookie)
	if err == nil {
		_, err = nc.Write(recordRequests(ext.MajorOpcode, base|1))
	}
	if err != nil {
		return false, fmt.Errorf("start recording the pointer: %w", err)
	}
	nc.SetDeadline(time.Time{})
	emit(protocol.MouseEvent{Kind: protocol.MouseMove, X: px, Y: py})
	err = readRecording(nc, emit)
	if ctx.Err() != nil {
		return true, ctx.Err()
	}
	var xerr xRecordError
	if errors.As(err, &xerr) {
		return false, err
	}
	return true, x.fail(c, err)
}

// RECORD's minor opcodes and constants.
const (
	recordCreateContext = 1
	recordEnableContext = 5
	recordFromServer    = 0 // category of intercepted data from the server
	recordEndOfData     = 5
	recordAllClients    = record.CsAllClients
)

// recordRequests returns CreateContext (of context id, for the device
// events from ButtonPress to MotionNotify of all clients, without element
// headers) followed by EnableContext, in little-endian byte order.
func recordRequests(major byte, id uint32) []byte {
	rng := record.Range{DeviceEvents: record.Range8{First: xproto.ButtonPress, Last: xproto.MotionNotify}}.Bytes()
	le := binary.LittleEndian
	b := make([]byte, 0, 20+4+len(rng)+8)
	b = append(b, major, recordCreateContext)
	b = le.AppendUint16(b, uint16((20+4+len(rng))/4))
	b = le.AppendUint32(b, id)
	b = append(b, 0, 0, 0, 0) // element header, padding
	b = le.AppendUint32(b, 1) // client specs
	b = le.AppendUint32(b, 1) // ranges
	b = le.AppendUint32(b, recordAllClients)
	b = append(b, rng...)
	b = append(b, major, recordEnableContext)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint32(b, id)
	return b
}

// xRecordError is an X error the server sent on the recording connection.
type xRecordError struct{ code byte }

func (e xRecordError) Error() string {
	return fmt.Sprintf("the X server refused to record the pointer (X error %d)", e.code)
}

// readRecording reads the recording's replies from nc and emits the
// pointer events in them, until the stream ends or fails.
func readRecording(nc net.Conn, emit func(protocol.MouseEvent)) error {
	le := binary.LittleEndian
	head := make([]byte, 32)
	var data []byte
	for {
		if _, err := io.ReadFull(nc, head); err != nil {
			return err
		}
		switch head[0] {
		case 0: // an error
			return xRecordError{code: head[1]}
		case 1: // a reply: the recording
		case 35: // a generic event, which has a tail; nothing we asked for
			if _, err := io.CopyN(io.Discard, nc, 4*int64(le.Uint32(head[4:]))); err != nil {
				return err
			}
			continue
		default: // an event, nothing we asked for
			continue
		}
		n := 4 * int(le.Uint32(head[4:]))
		if cap(data) < n {
			data = make([]byte, n)
		}
		data = data[:n]
		if _, err := io.ReadFull(nc, data); err != nil {
			return err
		}
		switch head[1] {
		case recordEndOfData:
			return io.EOF
		case recordFromServer:
			for e := data; len(e) >= 32; e = e[32:] {
				x, y := int16(le.Uint16(e[20:])), int16(le.Uint16(e[22:]))
				if ev, ok := recordedEvent(int(e[0]&0x7f), int(x), int(y), int(e[1])); ok {
					emit(ev)
				}
			}
		}
	}
}

// recordedEvent turns a recorded core event into a protocol event: motion
// is a move; buttons 1–3 are clicks; 4–7 are the wheel (up, down, left,
// right).
func recordedEvent(typ, x, y, detail int) (protocol.MouseEvent, bool) {
	switch typ {
	case xproto.MotionNotify:
		return protocol.MouseEvent{Kind: protocol.MouseMove, X: x, Y: y}, true
	case xproto.ButtonPress:
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
