package desktop

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"

	"github.com/tether-desktop/tether/protocol"
)

// notifier shows notifications with osascript. The text travels as script
// arguments after "--" (osascriptArgs), never inside the script and never
// where osascript reads options, so it cannot inject AppleScript.
type notifier struct{ log *slog.Logger }

func newNotifier(log *slog.Logger) *notifier { return &notifier{log: log} }

func (n *notifier) notify(ctx context.Context, title, body string) error {
	if why := n.check(ctx); why != "" {
		return protocol.Errorf(protocol.CodeUnavailable, "%s", why)
	}
	out, err := exec.CommandContext(ctx, "osascript", osascriptArgs(title, body)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("osascript: %w: %s", err, out)
	}
	return nil
}

func (n *notifier) check(context.Context) string {
	if _, err := exec.LookPath("osascript"); err != nil {
		return fmt.Sprintf("no osascript: %v", err)
	}
	return ""
}
