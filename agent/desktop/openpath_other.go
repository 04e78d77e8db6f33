//go:build !linux && !darwin && !windows

package desktop

import (
	"context"

	"github.com/tether-desktop/tether/protocol"
)

func openPath(context.Context, string) error {
	return protocol.Errorf(protocol.CodeUnavailable, noOpener)
}
