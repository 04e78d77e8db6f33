//go:build !linux && !darwin && !windows

package desktop

import (
	"context"
	"log/slog"

	"github.com/tether-desktop/tether/protocol"
)

// noClipboard stands in where the clipboard is not reached.
type noClipboard struct{}

const noClipboardHere = "the clipboard is not reached on this operating system yet"

func newClipboard(*slog.Logger) clipboard { return noClipboard{} }

func (noClipboard) get(context.Context) (string, bool, error) {
	return "", false, protocol.Errorf(protocol.CodeUnavailable, noClipboardHere)
}

func (noClipboard) set(context.Context, string) error {
	return protocol.Errorf(protocol.CodeUnavailable, noClipboardHere)
}

func (noClipboard) unavailable(screenBackend) string { return noClipboardHere }
func (noClipboard) close()                           {}
