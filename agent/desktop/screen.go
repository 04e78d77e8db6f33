package desktop

import (
	"context"
	"fmt"
	"image"
	"image/draw"
	"sync"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// displayCommands need the display; their availability is the display's.
var displayCommands = []string{"mouse_click", "mouse_move", "screenshot", "type_text"}

// display remembers whether a display can be used. Once one has opened it is
// trusted for the life of the process (robotgo keeps its connection); a
// failed check is repeated at most every recheckEvery.
type display struct {
	mu    sync.Mutex
	ok    bool
	why   string
	at    time.Time
	known bool
	check func() string // displayCheck; tests replace it
}

// unavailable returns why the display cannot be used, or "".
func (s *display) unavailable() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ok || (s.known && time.Since(s.at) < recheckEvery) {
		return s.why
	}
	s.why, s.at, s.known = s.check(), time.Now(), true
	s.ok = s.why == ""
	return s.why
}

func (d *Desktop) needDisplay() error {
	if why := d.display.unavailable(); why != "" {
		return protocol.Errorf(protocol.CodeUnavailable, "%s", why)
	}
	return nil
}

// ScreenSize returns the size of the desktop in pixels, or an unavailable
// *protocol.Error when there is no display. It makes one round trip to the
// display server; safe for concurrent use.
func (d *Desktop) ScreenSize() (width, height int, err error) {
	if err := d.needDisplay(); err != nil {
		return 0, 0, err
	}
	w, h := robotScreenSize()
	if w <= 0 || h <= 0 {
		return 0, 0, protocol.Errorf(protocol.CodeUnavailable, "the display reports a screen of %d×%d", w, h)
	}
	return w, h, nil
}

// Screen returns the desktop's size for hello, or nil when there is no
// display. Cheap enough to call every few seconds.
func (d *Desktop) Screen() *protocol.Screen {
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
	if err := d.needDisplay(); err != nil {
		return nil, err
	}
	img, err := robotCapture()
	if err != nil {
		return nil, fmt.Errorf("capture the screen: %w", err)
	}
	return opaque(img), nil
}

// opaque returns img with every pixel fully opaque. robotgo's X11 capture
// leaves the alpha bytes at 0, which encoders read as a transparent (and,
// premultiplied, black) image.
func opaque(img image.Image) image.Image {
	src, ok := img.(*image.RGBA)
	if !ok {
		b := img.Bounds()
		dst := image.NewRGBA(b)
		draw.Draw(dst, b, img, b.Min, draw.Src)
		src = dst
	}
	for i := 3; i < len(src.Pix); i += 4 {
		src.Pix[i] = 0xff
	}
	return src
}

// MoveMouse puts the pointer at (x, y). The caller checks the bounds.
func (d *Desktop) MoveMouse(ctx context.Context, x, y int) error {
	if err := d.needDisplay(); err != nil {
		return err
	}
	robotMove(x, y)
	return nil
}

// Click presses and releases button (left, right or middle) where the
// pointer is.
func (d *Desktop) Click(ctx context.Context, button string) error {
	if err := d.needDisplay(); err != nil {
		return err
	}
	switch button {
	case protocol.ButtonLeft, protocol.ButtonRight, protocol.ButtonMiddle:
	default:
		return protocol.Errorf(protocol.CodeInvalidArgs, "no mouse button %q", button)
	}
	robotClick(button)
	return nil
}

// TypeText types text into the focused window, key by key ('\n' is Return,
// '\t' is Tab). It blocks until every key is sent or ctx ends, a few
// milliseconds per key.
func (d *Desktop) TypeText(ctx context.Context, text string) error {
	if err := d.needDisplay(); err != nil {
		return err
	}
	d.typing.Lock() // two texts typed at once would interleave
	defer d.typing.Unlock()
	return typeText(ctx, text)
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
// display. emit is called from another goroutine and must not block.
// Several calls may watch at once.
func (d *Desktop) WatchMouse(ctx context.Context, emit func(protocol.MouseEvent)) error {
	if err := d.needDisplay(); err != nil {
		return err
	}
	x, y := robotLocation()
	emit(protocol.MouseEvent{Kind: protocol.MouseMove, X: x, Y: y})
	return watchPointer(ctx, emit)
}
