//go:build !linux && !(cgo && (windows || darwin))

package desktop

import (
	"context"
	"image"
	"log/slog"

	"github.com/tether-desktop/tether/protocol"
)

// noRobot is why a build without cgo for Windows or macOS (or a build for
// another OS) cannot reach the screen, pointer or keyboard.
const noRobot = "this build of the agent has no screen, pointer or keyboard support (built without cgo)"

// noDisplay is the screenBackend of such a build: everything is unavailable.
type noDisplay struct{}

func newDisplay(*slog.Logger, func()) screenBackend { return noDisplay{} }

var errNoRobot = protocol.Errorf(protocol.CodeUnavailable, noRobot)

func (noDisplay) unavailable() string                          { return noRobot }
func (noDisplay) close()                                       {}
func (noDisplay) screenSize(context.Context) (int, int, error) { return 0, 0, errNoRobot }
func (noDisplay) move(context.Context, int, int) error         { return errNoRobot }
func (noDisplay) click(context.Context, string) error          { return errNoRobot }
func (noDisplay) capture(context.Context) (image.Image, error) { return nil, errNoRobot }
func (noDisplay) typeText(context.Context, string) error       { return errNoRobot }
func (noDisplay) watchPointer(context.Context, func(protocol.MouseEvent)) error {
	return errNoRobot
}
