//go:build !linux && !darwin && !windows

package desktop

import (
	"context"
	"log/slog"
	"runtime"

	"github.com/tether-desktop/tether/protocol"
)

// notifier is the stand-in on systems without a notification backend here.
type notifier struct{}

func newNotifier(*slog.Logger) *notifier { return &notifier{} }

func (*notifier) notify(context.Context, string, string) error {
	return protocol.Errorf(protocol.CodeUnavailable, "notifications are not supported on %s", runtime.GOOS)
}

func (*notifier) check(context.Context) string {
	return "notifications are not supported on " + runtime.GOOS
}
