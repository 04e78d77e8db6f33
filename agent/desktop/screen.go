package desktop

import (
	"context"
	"fmt"
	"image"

	"github.com/tether-desktop/tether/protocol"
)

// displayCommands need the display; their availability is the display's.
var displayCommands = []string{protocol.CommandMouseClick, protocol.CommandMouseMove, protocol.CommandScreenshot, protocol.CommandTypeText}

// screenBackend reaches this OS's screen, pointer and keyboard: X11 through
// a pure-Go X protocol client on Linux (x11_linux.go), robotgo on Windows
// and macOS (robot_cgo.go), nothing in other builds (robot_stub.go). Every
// method is safe for concurrent use and returns a *protocol.Error with code
// unavailable, and the reason, while there is no display; none blocks for
// long on a display server that does not answer.
type screenBackend interface {
	// unavailable returns why the display cannot be used now, or "". It is
	// cheap: it blocks only while a connection is being tried, and then
	// for at most checkBound.
	unavailable() string
	screenSize(ctx context.Context) (width, height int, err error)
	move(ctx context.Context, x, y int) error
	// click presses and releases protocol.ButtonLeft, …Right or …Middle.
	click(ctx context.Context, button string) error
	// capture returns the whole desktop, every pixel opaque.
	capture(ctx context.Context) (image.Image, error)
	// typeText types text key by key; '\n' is Return, '\t' is Tab.
	typeText(ctx context.Context, text string) error
	// watchPointer is Desktop.WatchMouse.
	watchPointer(ctx context.Context, emit func(protocol.MouseEvent)) error
	// close releases the display; the backend must not be used afterwards.
	close()
}

// ScreenSize returns the size of the desktop in pixels, or an unavailable
// *protocol.Error when there is no display. It makes one round trip to the
// display server; safe for concurrent use.
func (d *Desktop) ScreenSize() (width, height int, err error) {
	w, h, err := d.display.screenSize(context.Background())
	if err != nil {
		return 0, 0, err
	}
	if w <= 0 || h <= 0 {
		return 0, 0, protocol.Errorf(protocol.CodeUnavailable, "the display reports a screen of %d×%d", w, h)
	}
	return w, h, nil
}

// Screen returns the desktop's size for hello, or nil when there is no
// display. Cheap enough to call every few seconds.
func (d *Desktop) Screen() *protocol.Screen {
	if d.display.unavailable() != "" {
		return nil
	}
	w, h, err := d.ScreenSize()
	if err != nil {
		return nil
	}
	return &protocol.Screen{Width: w, Height: h}
}

// Capture returns an image of the whole desktop. It blocks while the
// display server copies the screen (milliseconds to a few hundred for a large
// one); concurrent calls take turns.
func (d *Desktop) Capture(ctx context.Context) (image.Image, error) {
	img, err := d.display.capture(ctx)
	if err != nil {
		return nil, fmt.Errorf("capture the screen: %w", err)
	}
	return img, nil
}

// MoveMouse puts the pointer at (x, y). The caller checks the bounds.
func (d *Desktop) MoveMouse(ctx context.Context, x, y int) error {
	return d.display.move(ctx, x, y)
}

// Click presses and releases button (left, right or middle) where the
// pointer is.
func (d *Desktop) Click(ctx context.Context, button string) error {
	switch button {
	case protocol.ButtonLeft, protocol.ButtonRight, protocol.ButtonMiddle:
	default:
		return protocol.Errorf(protocol.CodeInvalidArgs, "no mouse button %q", button)
	}
	return d.display.click(ctx, button)
}

// TypeText types text into the focused window, key by key ('\n' is Return,
// '\t' is Tab). It blocks until every key is sent or ctx ends, a few
// milliseconds per key.
func (d *Desktop) TypeText(ctx context.Context, text string) error {
	d.typing.Lock() // two texts typed at once would interleave
	defer d.typing.Unlock()
	return d.display.typeText(ctx, text)
}

// OpenURL opens rawURL (already checked to be http or https) with the OS's
// link opener: xdg-open, open or rundll32, the URL always one argument of
// its own. It blocks until the opener exits or ctx ends.
func (d *Desktop) OpenURL(ctx context.Context, rawURL string) error {
	return openURL(ctx, rawURL)
}

// WatchMouse calls emit with the pointer's moves, button presses and wheel
// turns, starting with its current position, until ctx ends; then it returns
// nil. It returns an unavailable *protocol.Error at once when there is no
// display. When the display goes away while it watches, it waits for the
// display to come back and goes on (starting again with the position).
// emit is called from another goroutine and must not block. Several calls
// may watch at once.
func (d *Desktop) WatchMouse(ctx context.Context, emit func(protocol.MouseEvent)) error {
	if why := d.display.unavailable(); why != "" {
		return protocol.Errorf(protocol.CodeUnavailable, "%s", why)
	}
	return d.display.watchPointer(ctx, emit)
}
