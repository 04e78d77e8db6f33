package desktop

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/tether-desktop/tether/protocol"
)

// runOpener runs the OS's link opener with the URL as one argument of its
// own, never through a shell, and waits until it exits (openers hand the
// link to the browser and return) or ctx ends (it is then killed).
func runOpener(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return protocol.Errorf(protocol.CodeUnavailable, "%s could not open the link (%v): %s", name, ee, msg)
	}
	return fmt.Errorf("run %s: %w", name, err)
}
