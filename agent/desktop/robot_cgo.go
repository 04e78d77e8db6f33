//go:build cgo && (windows || darwin)

package desktop

import (
	"context"
	"errors"
	"image"
	"image/draw"
	"log/slog"
	"strings"
	"sync"

	"github.com/go-vgo/robotgo"

	"github.com/tether-desktop/tether/protocol"
)

// robotDisplay reaches the screen, pointer and keyboard of Windows and macOS
// through robotgo (and gohook for the pointer's events, hook_nonx.go). A
// desktop session there always has a screen, and robotgo does not crash
// without one, so it is always available.
type robotDisplay struct{}

func newDisplay(*slog.Logger, func()) screenBackend { return robotDisplay{} }

// robotMu serialises every robotgo call: robotgo keeps its state in C
// globals, which are not safe for concurrent use.
var robotMu sync.Mutex

func (robotDisplay) unavailable() string { return "" }
func (robotDisplay) close()              {}

func (robotDisplay) screenSize(context.Context) (int, int, error) {
	robotMu.Lock()
	defer robotMu.Unlock()
	w, h := robotgo.GetScreenSize()
	return w, h, nil
}

func (robotDisplay) move(_ context.Context, x, y int) error {
	robotMu.Lock()
	defer robotMu.Unlock()
	robotgo.Move(x, y)
	return nil
}

func (robotDisplay) click(_ context.Context, button string) error {
	if button == protocol.ButtonMiddle {
		button = "center" // robotgo's name
	}
	robotMu.Lock()
	defer robotMu.Unlock()
	robotgo.Click(button)
	return nil
}

func (robotDisplay) capture(context.Context) (image.Image, error) {
	robotMu.Lock()
	defer robotMu.Unlock()
	img, err := robotgo.CaptureImg()
	if err != nil {
		return nil, err
	}
	if img == nil || img.Bounds().Empty() {
		return nil, errors.New("the screen capture is empty")
	}
	return opaque(img), nil
}

// opaque returns img with every pixel fully opaque. robotgo's captures may
// leave the alpha bytes at 0, which encoders read as a transparent (and,
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

// typeText types text with robotgo, with Return for '\n' and Tab for '\t'.
func (robotDisplay) typeText(ctx context.Context, text string) error {
	robotMu.Lock()
	defer robotMu.Unlock()
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			if err := robotgo.KeyTap("enter"); err != nil {
				return err
			}
		}
		for j, part := range strings.Split(line, "\t") {
			if err := ctx.Err(); err != nil {
				return err
			}
			if j > 0 {
				if err := robotgo.KeyTap("tab"); err != nil {
					return err
				}
			}
			robotgo.Type(part)
		}
	}
	return nil
}

func (robotDisplay) watchPointer(ctx context.Context, emit func(protocol.MouseEvent)) error {
	robotMu.Lock()
	x, y := robotgo.Location()
	robotMu.Unlock()
	emit(protocol.MouseEvent{Kind: protocol.MouseMove, X: x, Y: y})
	return watchPointer(ctx, emit)
}
