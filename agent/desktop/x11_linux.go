//go:build linux

package desktop

// The X display on Linux. One owner (xDisplay) holds the connection to the X
// server, spoken to with jezek/xgb, a pure-Go client of the X protocol: no
// Xlib, whose default I/O error handler exits the process when the server
// goes away, and no robotgo, which dereferences a display it failed to open.
// The owner opens the display on first use, notices when the server goes
// away (the connection's event stream ends), tries again while there is
// none (on use, at most every retryEvery, and on its own after retryEvery,
// then twice as long each time, up to retryMax), tells the Desktop's
// Changes of each loss and return, and logs each change of state once.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/screensaver"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"github.com/tether-desktop/tether/protocol"
)

func init() {
	// xgb logs every read error of a closed connection to stderr; the owner
	// logs each change of the display's state once instead.
	xgb.Logger = log.New(io.Discard, "", 0)
}

// Bounds of the display's connection.
const (
	retryEvery = time.Second      // a missing display is tried again at most this often
	retryMax   = 30 * time.Second // the longest wait of the owner's own attempts
	xOpenBound = 5 * time.Second  // dialling and the connection setup
	replyBound = 10 * time.Second // a server that does not answer a request within this is dropped
)

// xDisplay owns the connection to the X server named by DISPLAY. Safe for
// concurrent use.
type xDisplay struct {
	log     *slog.Logger
	changed func() // told when a connection opens or is lost

	mu      sync.Mutex
	cur     *xConn        // the open connection; nil while there is none
	why     string        // why there is none; "" while cur is set
	tried   time.Time     // when the last attempt to open began
	unset   bool          // the last attempt found DISPLAY empty
	opening chan struct{} // closed when the attempt in flight ends; nil when none
	state   xState        // the state last logged
	retry   *time.Timer   // the owner's next attempt of its own; nil when none is due
	backoff time.Duration // the wait before the owner's next attempt of its own
	closed  bool
	wg      sync.WaitGroup // attempts and connection watchers
}

// xState is the display's state as last logged.
type xState int

const (
	xUnknown xState = iota // not tried yet
	xUp                    // a connection is open
	xMissing               // never opened
	xGone                  // was open, went away
)

func newDisplay(log *slog.Logger, changed func()) screenBackend {
	return &xDisplay{log: log, changed: changed, why: "no X display yet (the first attempt to open it has not finished)"}
}

// xConn is one open connection and what the server told about itself.
type xConn struct {
	name   string // the DISPLAY it was opened from
	x      *xgb.Conn
	nc     net.Conn
	setup  *xproto.SetupInfo
	screen *xproto.ScreenInfo
	root   xproto.Window
	xtest  error // why XTEST cannot be used; nil when it can
	saver  error // why MIT-SCREEN-SAVER (the idle time) cannot be used; nil when it can

	stalled atomic.Bool // dropped because the server stopped answering
}

// close drops the connection: every request waiting on it returns an error
// and the watcher reports the loss.
func (c *xConn) close() { c.nc.Close() }

// stall drops a connection whose server does not answer.
func (c *xConn) stall() {
	c.stalled.Store(true)
	c.close()
}

// answer waits for the reply of one request, dropping c when the server has
// not answered within replyBound (the wait then fails).
func answer[T any](c *xConn, reply func() (T, error)) (T, error) {
	defer time.AfterFunc(replyBound, c.stall).Stop()
	return reply()
}

// sync waits until the server has handled every request sent so far.
func (c *xConn) sync() error {
	_, err := answer(c, xproto.GetInputFocus(c.x).Reply)
	return err
}

func (x *xDisplay) unavailable() string {
	if _, err := x.conn(); err != nil {
		return err.(*protocol.Error).Message
	}
	return ""
}

// conn returns the open connection, or an unavailable *protocol.Error with
// the reason. With none open it starts an attempt (at most one at a time,
// at most one every retryEvery) and waits for it for up to checkBound.
func (x *xDisplay) conn() (*xConn, error) {
	x.mu.Lock()
	if c := x.cur; c != nil {
		x.mu.Unlock()
		return c, nil
	}
	if x.unset && x.opening == nil && os.Getenv("DISPLAY") == "" {
		// Still no DISPLAY: nothing to dial, so no attempt (a goroutine and
		// a timer every second while the idle time is sampled).
		why := x.why
		x.mu.Unlock()
		return nil, protocol.Errorf(protocol.CodeUnavailable, "%s", why)
	}
	wait := x.openLocked()
	x.mu.Unlock()
	if wait != nil {
		t := time.NewTimer(checkBound)
		select {
		case <-wait:
		case <-t.C:
		}
		t.Stop()
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if c := x.cur; c != nil {
		return c, nil
	}
	return nil, protocol.Errorf(protocol.CodeUnavailable, "%s", x.why)
}

// openLocked starts an attempt to open the display unless one is in flight
// or the last began less than retryEvery ago, and returns the channel that
// closes when the attempt in flight ends (nil when none). mu is held.
func (x *xDisplay) openLocked() chan struct{} {
	if x.opening == nil && !x.closed && (x.tried.IsZero() || time.Since(x.tried) >= retryEvery) {
		x.tried = time.Now()
		done := make(chan struct{})
		x.opening = done
		name := os.Getenv("DISPLAY")
		x.unset = false // until this attempt says otherwise
		x.wg.Go(func() {
			defer close(done)
			c, why, err := openX(name)
			x.opened(c, why, err)
		})
	}
	return x.opening
}

// opened takes the outcome of an attempt: a connection, or why there is none
// and the error behind it.
func (x *xDisplay) opened(c *xConn, why string, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.opening = nil
	x.unset = c == nil && err == nil && why == whyUnset
	if x.closed {
		if c != nil {
			c.close()
		}
		return
	}
	if c == nil {
		switch x.state {
		case xUnknown, xMissing:
			if x.state == xUnknown {
				x.log.Info("no X display: screen, pointer and keyboard commands are unavailable until one opens", "reason", why, "err", err)
			}
			x.state, x.why = xMissing, why
		case xGone: // keep saying that it went away
		}
		x.log.Debug("the X display did not open", "reason", why, "err", err)
		if !x.unset {
			x.retryLocked()
		}
		return
	}
	switch x.state {
	case xGone:
		x.log.Info("the X display is back: screen, pointer and keyboard commands work again", "display", c.name)
	case xMissing:
		x.log.Info("an X display opened: screen, pointer and keyboard commands work now", "display", c.name)
	default:
		x.log.Info("using the X display", "display", c.name, "width", c.screen.WidthInPixels, "height", c.screen.HeightInPixels)
	}
	if c.xtest != nil {
		x.log.Warn("the X server has no XTEST extension: the pointer and keyboard cannot be driven", "display", c.name, "err", c.xtest)
	}
	x.cur, x.why, x.state, x.backoff = c, "", xUp, 0
	x.changed()
	x.wg.Go(func() {
		for { // drain events and errors nobody waits for, until the connection ends
			if ev, xerr := c.x.WaitForEvent(); ev == nil && xerr == nil {
				break
			}
		}
		x.lost(c)
	})
}

// lost forgets c, whose connection ended, and logs that the display went
// away (once). It is called for every end of a connection, by its watcher
// and by whoever saw a request fail first.
func (x *xDisplay) lost(c *xConn) {
	c.close()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cur != c {
		return
	}
	x.cur, x.state = nil, xGone
	if c.stalled.Load() {
		x.why = fmt.Sprintf("the X display %q stopped answering", c.name)
	} else {
		x.why = fmt.Sprintf("the X display %q went away", c.name)
	}
	if !x.closed {
		x.log.Warn("the X display went away: screen, pointer and keyboard commands are unavailable until it returns", "display", c.name, "reason", x.why)
		x.changed()
		x.retryLocked()
	}
}

// retryLocked arms the owner's next attempt of its own, after backoff
// (retryEvery at first, doubling up to retryMax), unless one is armed. mu
// is held.
func (x *xDisplay) retryLocked() {
	if x.retry != nil || x.closed {
		return
	}
	x.backoff = min(max(2*x.backoff, retryEvery), retryMax)
	x.retry = time.AfterFunc(x.backoff, func() {
		x.mu.Lock()
		defer x.mu.Unlock()
		x.retry = nil
		if x.cur == nil && !x.closed {
			x.openLocked() // a failure arms the next one (opened)
		}
	})
}

// fail turns the error of a request on c into what the caller returns: an X
// protocol error stays an error; anything else means the connection is gone,
// which is an unavailable *protocol.Error with the reason.
func (x *xDisplay) fail(c *xConn, err error) error {
	var perr *protocol.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &perr), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	if xerr, ok := err.(xgb.Error); ok {
		return fmt.Errorf("the X server refused a request: %v", xerr)
	}
	x.lost(c)
	x.mu.Lock()
	defer x.mu.Unlock()
	why := x.why
	if why == "" { // a new connection is already open
		why = fmt.Sprintf("the X display %q went away", c.name)
	}
	return protocol.Errorf(protocol.CodeUnavailable, "%s", why)
}

// do runs f on the open connection and turns its error with fail.
func (x *xDisplay) do(f func(c *xConn) error) error {
	c, err := x.conn()
	if err != nil {
		return err
	}
	return x.fail(c, f(c))
}

func (x *xDisplay) close() {
	x.mu.Lock()
	x.closed = true
	if x.retry != nil {
		x.retry.Stop()
		x.retry = nil
	}
	c := x.cur
	x.mu.Unlock()
	if c != nil {
		c.close()
	}
	x.wg.Wait()
}

// whyUnset is why there is no display when DISPLAY is empty.
const whyUnset = "no X display (DISPLAY is not set)"

// openX opens the display name and asks what it needs to know. On failure
// it returns why (for people) and the error behind it (for the log).
func openX(name string) (*xConn, string, error) {
	if name == "" {
		return nil, whyUnset, nil
	}
	why := fmt.Sprintf("no X display (cannot open DISPLAY %q)", name)
	nc, addr, cookie, err := dialX(name, xOpenBound)
	if err != nil {
		return nil, why, err
	}
	c, err := setupX(nc, addr, cookie)
	if err != nil {
		nc.Close()
		return nil, why, err
	}
	c.name = name
	return c, "", nil
}

// setupX makes an xgb connection of nc and reads the screen it will use.
func setupX(nc net.Conn, addr xAddress, cookie []byte) (*xConn, error) {
	nc.SetDeadline(time.Now().Add(xOpenBound))
	var (
		x   *xgb.Conn
		err error
	)
	if cookie != nil {
		x, err = xgb.NewConnNetWithCookieHex(nc, fmt.Sprintf("%x", cookie))
	} else {
		x, err = xgb.NewConnNet(nc)
	}
	if err != nil {
		return nil, fmt.Errorf("X connection setup: %w", err)
	}
	c := &xConn{x: x, nc: nc, setup: xproto.Setup(x)}
	if c.setup == nil || len(c.setup.Roots) == 0 {
		return nil, errors.New("the X server has no screens")
	}
	c.screen = &c.setup.Roots[0]
	if addr.screen < len(c.setup.Roots) {
		c.screen = &c.setup.Roots[addr.screen]
	}
	c.root = c.screen.Root
	c.xtest = xtest.Init(x) // one round trip, under the deadline
	c.saver = screensaver.Init(x)
	if err := c.sync(); err != nil {
		return nil, fmt.Errorf("X connection setup: %w", err)
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}
