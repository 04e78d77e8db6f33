//go:build !linux && !windows && !darwin

package telemetry

import (
	"context"

	"github.com/tether-desktop/tether/protocol"
)

// readBattery: batteries are not read on this OS.
func readBattery(context.Context) *protocol.Battery { return nil }
