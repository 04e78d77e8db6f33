package desktop

import (
	"context"

	"github.com/tether-desktop/tether/protocol"
)

// noWindowTitle says why the active window's title is not read on macOS.
const noWindowTitle = "the active window's title is not read on macOS: window titles need the Screen Recording or Accessibility permission and a native (cgo) call, which this agent does not use yet"

// ActiveWindowTitle answers unavailable on macOS (see noWindowTitle); the
// window title sensor is then absent from telemetry.
func (d *Desktop) ActiveWindowTitle(context.Context) (string, error) {
	return "", protocol.Errorf(protocol.CodeUnavailable, "%s", noWindowTitle)
}
