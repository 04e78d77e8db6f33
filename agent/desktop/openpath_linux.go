package desktop

import (
	"context"

	"github.com/tether-desktop/tether/protocol"
)

// openPath hands a checked local path to xdg-open.
func openPath(ctx context.Context, path string) error {
	if why := openerCheck(); why != "" {
		return protocol.Errorf(protocol.CodeUnavailable, "%s", why)
	}
	return runOpener(ctx, "xdg-open", path)
}
