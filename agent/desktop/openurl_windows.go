package desktop

import "context"

// openerCheck reports "": Windows always has rundll32 and url.dll.
func openerCheck() string { return "" }

// openURL hands rawURL to the shell's URL handler (the default browser).
func openURL(ctx context.Context, rawURL string) error {
	return runOpener(ctx, "rundll32", "url.dll,FileProtocolHandler", rawURL)
}
