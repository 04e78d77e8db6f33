//go:build !cgo

package desktop

import (
	"context"
	"log/slog"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

const noCgo = "built without cgo: no sound"

// sound is the stand-in of a build without cgo: there is no speaker.
type sound struct{}

func newSound(*slog.Logger) *sound { return &sound{} }

func (*sound) beep(context.Context, int, time.Duration) error {
	return protocol.Errorf(protocol.CodeUnavailable, "%s", noCgo)
}

func (*sound) unavailable() string { return noCgo }

func (*sound) recheck() {}

func (*sound) close() {}
