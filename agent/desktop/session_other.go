//go:build !linux && !darwin && !windows

package desktop

import (
	"context"
	"time"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

const noSessionHere = "not supported on this operating system"

func lockScreen(context.Context) (string, error) {
	return "", protocol.Errorf(protocol.CodeUnavailable, noSessionHere)
}

func suspend(context.Context) (string, error) {
	return "", protocol.Errorf(protocol.CodeUnavailable, noSessionHere)
}

func setVolume(context.Context, commands.VolumeChange) (commands.VolumeState, error) {
	return commands.VolumeState{}, protocol.Errorf(protocol.CodeUnavailable, noSessionHere)
}

func mediaAction(context.Context, string) (string, error) {
	return "", protocol.Errorf(protocol.CodeUnavailable, noSessionHere)
}

func sessionUnavailable(context.Context) map[string]string {
	out := map[string]string{}
	for _, n := range []string{protocol.CommandLockScreen, protocol.CommandSleep, protocol.CommandVolume, protocol.CommandMedia} {
		out[n] = noSessionHere
	}
	return out
}

func (d *Desktop) idleTime(context.Context) (time.Duration, error) {
	return 0, protocol.Errorf(protocol.CodeUnavailable, noSessionHere)
}
