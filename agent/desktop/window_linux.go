package desktop

import (
	"context"
	"errors"

	"github.com/jezek/xgb/xproto"

	"github.com/tether-desktop/tether/protocol"
)

// maxTitle bounds the bytes of a window title read from the X server.
const maxTitle = 1024

// ActiveWindowTitle returns the title of the focused window, as the window
// manager announces it (_NET_ACTIVE_WINDOW on the root, then the window's
// _NET_WM_NAME or WM_NAME). Without a window manager that says, it returns
// an unavailable *protocol.Error.
func (d *Desktop) ActiveWindowTitle(ctx context.Context) (string, error) {
	x, ok := d.display.(*xDisplay)
	if !ok {
		return "", protocol.Errorf(protocol.CodeUnavailable, "no X display")
	}
	var title string
	err := x.do(func(c *xConn) error {
		atom := func(name string) (xproto.Atom, error) {
			r, err := answer(c, xproto.InternAtom(c.x, false, uint16(len(name)), name).Reply)
			if err != nil {
				return 0, err
			}
			return r.Atom, nil
		}
		active, err := atom("_NET_ACTIVE_WINDOW")
		if err != nil {
			return err
		}
		r, err := answer(c, xproto.GetProperty(c.x, false, c.root, active, xproto.GetPropertyTypeAny, 0, 1).Reply)
		if err != nil {
			return err
		}
		if r.Format != 32 || len(r.Value) < 4 {
			return protocol.Errorf(protocol.CodeUnavailable, "no window manager announces the active window")
		}
		win := xproto.Window(uint32(r.Value[0]) | uint32(r.Value[1])<<8 | uint32(r.Value[2])<<16 | uint32(r.Value[3])<<24)
		if win == xproto.WindowNone {
			return nil // nothing has the focus
		}
		for _, name := range []string{"_NET_WM_NAME", "WM_NAME"} {
			a, err := atom(name)
			if err != nil {
				return err
			}
			p, err := answer(c, xproto.GetProperty(c.x, false, win, a, xproto.GetPropertyTypeAny, 0, maxTitle/4).Reply)
			var xerr xproto.WindowError
			if errors.As(err, &xerr) {
				return nil // the window went away meanwhile
			}
			if err != nil {
				return err
			}
			if p.Format == 8 && len(p.Value) > 0 {
				title = string(p.Value)
				return nil
			}
		}
		return nil
	})
	return title, err
}
