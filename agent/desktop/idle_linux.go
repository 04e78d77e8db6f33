package desktop

import (
	"context"
	"time"

	"github.com/jezek/xgb/screensaver"
	"github.com/jezek/xgb/xproto"

	"github.com/tether-desktop/tether/protocol"
)

// idleTime asks the X server's MIT-SCREEN-SAVER extension how long ago the
// last keyboard or pointer input was.
func (d *Desktop) idleTime(ctx context.Context) (time.Duration, error) {
	x, ok := d.display.(*xDisplay)
	if !ok {
		return 0, protocol.Errorf(protocol.CodeUnavailable, "no X display")
	}
	var idle time.Duration
	err := x.do(func(c *xConn) error {
		if c.saver != nil {
			return protocol.Errorf(protocol.CodeUnavailable, "the X server has no MIT-SCREEN-SAVER extension: %v", c.saver)
		}
		r, err := answer(c, screensaver.QueryInfo(c.x, xproto.Drawable(c.root)).Reply)
		if err != nil {
			return err
		}
		idle = time.Duration(r.MsSinceUserInput) * time.Millisecond
		return nil
	})
	return idle, err
}
