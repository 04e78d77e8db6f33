package desktop

import "context"

// openerCheck reports "": macOS always has open(1).
func openerCheck() string { return "" }

// openURL hands rawURL to open(1).
func openURL(ctx context.Context, rawURL string) error {
	return runOpener(ctx, "open", rawURL)
}
