//go:build !cgo || !(linux || windows || darwin)

package desktop

import (
	"context"
	"errors"
	"image"

	"github.com/tether-desktop/tether/protocol"
)

// noRobot is why a build without cgo (or for another OS) cannot reach the
// screen, pointer or keyboard.
const noRobot = "this build of the agent has no screen, pointer or keyboard support (built without cgo)"

func displayCheck() string { return noRobot }

var errNoRobot = errors.New(noRobot)

func robotScreenSize() (int, int)                         { return 0, 0 }
func robotLocation() (int, int)                           { return 0, 0 }
func robotMove(int, int)                                  {}
func robotClick(string)                                   {}
func robotCapture() (image.Image, error)                  { return nil, errNoRobot }
func typeText(context.Context, string) error              { return errNoRobot }
func subscribe(func(protocol.MouseEvent)) (cancel func()) { return func() {} }

func watchPointer(context.Context, func(protocol.MouseEvent)) error { return errNoRobot }
