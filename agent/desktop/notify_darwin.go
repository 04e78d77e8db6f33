package desktop

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"

	"github.com/tether-desktop/tether/protocol"
)

// notifier shows notifications with osascript. The text travels as script
// arguments (argv), never inside the script, so it cannot inject AppleScript.
type notifier struct{ log *slog.Logger }

func newNotifier(log *slog.Logger) *notifier { return &notifier{log: log} }

const notifyScript = `on run argv
display notification (item 2 of argv) with title (item 1 of argv)
end run`

func (n *notifier) notify(ctx context.Context, title, body string) error {
	if why := n.check(ctx); why != "" {
		return protocol.Errorf(protocol.CodeUnavailable, "%s", why)
	}
	out, err := exec.CommandContext(ctx, "osascript", "-e", notifyScript, title, body).CombinedOutput()
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
