//go:build !linux && !windows && !darwin

package desktop

import (
	"context"

	"github.com/tether-desktop/tether/protocol"
)

// ActiveWindowTitle is not read on this operating system.
func (d *Desktop) ActiveWindowTitle(context.Context) (string, error) {
	return "", protocol.Errorf(protocol.CodeUnavailable, "the active window is not read on this operating system")
}
