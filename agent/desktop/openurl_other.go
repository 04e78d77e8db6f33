//go:build !linux && !darwin && !windows

package desktop

import (
	"context"

	"github.com/tether-desktop/tether/protocol"
)

const noOpener = "this build of the agent cannot open links on this system"

func openerCheck() string { return noOpener }

func openURL(context.Context, string) error {
	return protocol.Errorf(protocol.CodeUnavailable, noOpener)
}
