//go:build cgo && (linux || windows || darwin)

package desktop

import (
	"errors"
	"image"
	"sync"

	"github.com/go-vgo/robotgo"

	"github.com/tether-desktop/tether/protocol"
)

// robotMu serialises every robotgo call: robotgo keeps one connection to the
// display in a C global, which is not safe for concurrent use.
var robotMu sync.Mutex

// Every robot… function below may only be called once displayCheck has
// returned "": robotgo kills the process when it cannot open a display.

func robotScreenSize() (int, int) {
	robotMu.Lock()
	defer robotMu.Unlock()
	return robotgo.GetScreenSize()
}

func robotLocation() (int, int) {
	robotMu.Lock()
	defer robotMu.Unlock()
	return robotgo.Location()
}

func robotMove(x, y int) {
	robotMu.Lock()
	defer robotMu.Unlock()
	robotgo.Move(x, y)
}

func robotClick(button string) {
	if button == protocol.ButtonMiddle {
		button = "center" // robotgo's name
	}
	robotMu.Lock()
	defer robotMu.Unlock()
	robotgo.Click(button)
}

func robotCapture() (image.Image, error) {
	robotMu.Lock()
	defer robotMu.Unlock()
	img, err := robotgo.CaptureImg()
	if err != nil {
		return nil, err
	}
	if img == nil || img.Bounds().Empty() {
		return nil, errors.New("the screen capture is empty")
	}
	return img, nil
}
