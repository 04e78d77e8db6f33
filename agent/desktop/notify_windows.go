package desktop

import (
	"context"
	"log/slog"

	"github.com/tether-desktop/tether/relay/protocol"
)

// notifier is not written for Windows yet (toast notifications need an
// AppUserModelID, which the installer will register).
type notifier struct{}

func newNotifier(*slog.Logger) *notifier { return &notifier{} }

const notifyWindows = "notifications are not yet supported on Windows"

func (*notifier) notify(context.Context, string, string) error {
	return protocol.Errorf(protocol.CodeUnavailable, "%s", notifyWindows)
}

func (*notifier) check(context.Context) string { return notifyWindows }
