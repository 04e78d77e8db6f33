//go:build linux

package desktop

// The pointer and the keyboard of the X display: the screen's size and the
// pointer's place from core requests, moves, clicks and key presses through
// the XTEST extension.

import (
	"context"
	"time"
	"unicode"

	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"github.com/tether-desktop/tether/protocol"
)

func (x *xDisplay) screenSize(context.Context) (width, height int, err error) {
	err = x.do(func(c *xConn) error {
		g, err := answer(c, xproto.GetGeometry(c.x, xproto.Drawable(c.root)).Reply)
		if err != nil {
			return err
		}
		width, height = int(g.Width), int(g.Height)
		return nil
	})
	return width, height, err
}

// location returns where the pointer is on c's screen.
func (c *xConn) location() (x, y int, err error) {
	p, err := answer(c, xproto.QueryPointer(c.x, c.root).Reply)
	if err != nil {
		return 0, 0, err
	}
	return int(p.RootX), int(p.RootY), nil
}

// needXTest returns an unavailable *protocol.Error when c's server cannot
// fake input.
func (c *xConn) needXTest() error {
	if c.xtest != nil {
		return protocol.Errorf(protocol.CodeUnavailable, "the X server has no XTEST extension: the pointer and keyboard cannot be driven")
	}
	return nil
}

// fake sends one fake input event (without waiting).
func (c *xConn) fake(typ, detail byte, x, y int) {
	xtest.FakeInput(c.x, typ, detail, 0, c.root, int16(x), int16(y), 0)
}

func (x *xDisplay) move(_ context.Context, px, py int) error {
	return x.do(func(c *xConn) error {
		if err := c.needXTest(); err != nil {
			return err
		}
		c.fake(xproto.MotionNotify, 0, px, py) // detail 0: absolute
		return c.sync()
	})
}

// xButtons are the X button numbers of the protocol's buttons.
var xButtons = map[string]byte{protocol.ButtonLeft: 1, protocol.ButtonMiddle: 2, protocol.ButtonRight: 3}

func (x *xDisplay) click(_ context.Context, button string) error {
	return x.do(func(c *xConn) error {
		if err := c.needXTest(); err != nil {
			return err
		}
		c.fake(xproto.ButtonPress, xButtons[button], 0, 0)
		c.fake(xproto.ButtonRelease, xButtons[button], 0, 0)
		return c.sync()
	})
}

// Pauses while typing: receivers read the keyboard map again after a change,
// and some drop keys that arrive faster than they draw.
const (
	keyGap   = 2 * time.Millisecond
	remapGap = 30 * time.Millisecond
)

// typeText types text through XTEST. Characters the keyboard map lacks are
// typed by borrowing an unused keycode for a moment, as xdotool does.
func (x *xDisplay) typeText(ctx context.Context, text string) error {
	c, err := x.conn()
	if err != nil {
		return err
	}
	if err := c.needXTest(); err != nil {
		return err
	}
	return x.fail(c, c.typeText(ctx, text))
}

func (c *xConn) typeText(ctx context.Context, text string) (err error) {
	km, err := c.keymap()
	if err != nil {
		return err
	}
	borrowed := false
	defer func() {
		if borrowed { // ended between borrowing and giving back
			xproto.ChangeKeyboardMapping(c.x, 1, km.scratch, 2, []xproto.Keysym{0, 0})
			if serr := c.sync(); err == nil {
				err = serr
			}
		}
	}()
	for _, r := range text {
		if err := ctx.Err(); err != nil {
			return err
		}
		sym := keysym(r)
		code, shift := km.find(sym)
		if code != 0 {
			if err := c.tap(code, shift); err != nil {
				return err
			}
			if err := pause(ctx, keyGap); err != nil {
				return err
			}
			continue
		}
		if km.scratch == 0 {
			return protocol.Errorf(protocol.CodeUnavailable, "cannot type %q: the keyboard map has no free key to borrow", r)
		}
		borrowed = true
		xproto.ChangeKeyboardMapping(c.x, 1, km.scratch, 2, []xproto.Keysym{sym, sym})
		if err := c.sync(); err != nil {
			return err
		}
		if err := pause(ctx, remapGap); err != nil {
			return err
		}
		if err := c.tap(km.scratch, 0); err != nil {
			return err
		}
		if err := pause(ctx, remapGap); err != nil {
			return err
		}
		borrowed = false
		xproto.ChangeKeyboardMapping(c.x, 1, km.scratch, 2, []xproto.Keysym{0, 0})
		if err := c.sync(); err != nil {
			return err
		}
	}
	return nil
}

// tap presses and releases code, holding the shift key (when not 0), and
// waits until the server has taken the events.
func (c *xConn) tap(code, shift xproto.Keycode) error {
	if shift != 0 {
		c.fake(xproto.KeyPress, byte(shift), 0, 0)
	}
	c.fake(xproto.KeyPress, byte(code), 0, 0)
	c.fake(xproto.KeyRelease, byte(code), 0, 0)
	if shift != 0 {
		c.fake(xproto.KeyRelease, byte(shift), 0, 0)
	}
	return c.sync()
}

// pause waits for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// keymap is the core keyboard map: for each keycode from min, per keysyms
// (the first two are the first group's plain and shifted levels).
type keymap struct {
	min     xproto.Keycode
	per     int
	syms    []xproto.Keysym
	shift   xproto.Keycode // the key of Shift_L, 0 if none
	scratch xproto.Keycode // the highest key with no keysyms, 0 if none
}

// Keysyms used in typing.
const (
	xkShiftL = 0xffe1
	xkReturn = 0xff0d
	xkTab    = 0xff09
)

// keymap reads the keyboard map of c's server.
func (c *xConn) keymap() (*keymap, error) {
	lo, hi := c.setup.MinKeycode, c.setup.MaxKeycode
	m, err := answer(c, xproto.GetKeyboardMapping(c.x, lo, byte(int(hi)-int(lo)+1)).Reply)
	if err != nil {
		return nil, err
	}
	return newKeymap(lo, int(m.KeysymsPerKeycode), m.Keysyms), nil
}

func newKeymap(lo xproto.Keycode, per int, syms []xproto.Keysym) *keymap {
	k := &keymap{min: lo, per: per, syms: syms}
	if per == 0 {
		return k
	}
	for code := k.max(); code >= k.min && code != 0; code-- {
		empty := true
		for col := range per {
			if k.raw(code, col) != 0 {
				empty = false
				break
			}
		}
		if empty {
			k.scratch = code
			break
		}
	}
	k.shift, _ = k.find(xkShiftL)
	return k
}

func (k *keymap) max() xproto.Keycode {
	if k.per == 0 {
		return k.min
	}
	return k.min + xproto.Keycode(len(k.syms)/k.per) - 1
}

func (k *keymap) raw(code xproto.Keycode, col int) xproto.Keysym {
	i := int(code-k.min)*k.per + col
	if col >= k.per || i >= len(k.syms) {
		return 0
	}
	return k.syms[i]
}

// level returns the keysym of code at level 0 (plain) or 1 (shifted) of the
// first group, with the core protocol's rule for a lone letter: a key that
// lists only "a" types "a" plain and "A" shifted.
func (k *keymap) level(code xproto.Keycode, lvl int) xproto.Keysym {
	plain, shifted := k.raw(code, 0), k.raw(code, 1)
	if shifted == 0 {
		lower, upper := keysymCase(plain)
		plain, shifted = lower, upper
	}
	if lvl == 0 {
		return plain
	}
	return shifted
}

// find returns the key that types sym at the first group's plain level
// (shift 0) or shifted level (shift is then the Shift key); code 0 when no
// key does.
func (k *keymap) find(sym xproto.Keysym) (code, shift xproto.Keycode) {
	if k.per == 0 {
		return 0, 0
	}
	for lvl := range 2 {
		for c := k.min; c <= k.max() && c >= k.min; c++ {
			if k.level(c, lvl) != sym {
				continue
			}
			if lvl == 0 {
				return c, 0
			}
			if k.shift != 0 {
				return c, k.shift
			}
		}
	}
	return 0, 0
}

// keysymCase returns the lower- and upper-case forms of sym when it is a
// letter that has both (Latin-1 or Unicode keysyms), else sym twice.
func keysymCase(sym xproto.Keysym) (lower, upper xproto.Keysym) {
	var r rune
	switch {
	case sym >= 0x41 && sym <= 0x5a, sym >= 0x61 && sym <= 0x7a,
		sym >= 0xc0 && sym <= 0xfe && sym != 0xd7 && sym != 0xf7:
		r = rune(sym)
	case sym >= 0x01000100 && sym <= 0x0110ffff:
		r = rune(sym - 0x01000000)
	default:
		return sym, sym
	}
	lo, up := unicode.ToLower(r), unicode.ToUpper(r)
	if lo == up {
		return sym, sym
	}
	return xproto.Keysym(keysym(lo)), xproto.Keysym(keysym(up))
}

// keysym returns the X keysym of r: Return and Tab for '\n' and '\t',
// Latin-1 as itself, anything else as a Unicode keysym.
func keysym(r rune) xproto.Keysym {
	switch {
	case r == '\n':
		return xkReturn
	case r == '\t':
		return xkTab
	case r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xff:
		return xproto.Keysym(r)
	default:
		return xproto.Keysym(0x01000000 | uint32(r))
	}
}
