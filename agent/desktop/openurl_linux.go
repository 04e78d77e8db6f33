package desktop

import (
	"context"
	"os"
	"os/exec"

	"github.com/tether-desktop/tether/protocol"
)

// openerCheck reports why links cannot be opened here, or "".
func openerCheck() string {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return "no desktop session to open a browser in (neither DISPLAY nor WAYLAND_DISPLAY is set)"
	}
	if _, err := exec.LookPath("xdg-open"); err != nil {
		return "no xdg-open to open links with (install xdg-utils)"
	}
	return ""
}

// openURL hands rawURL to xdg-open.
func openURL(ctx context.Context, rawURL string) error {
	if why := openerCheck(); why != "" {
		return protocol.Errorf(protocol.CodeUnavailable, "%s", why)
	}
	return runOpener(ctx, "xdg-open", rawURL)
}
