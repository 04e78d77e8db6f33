package desktop

import "context"

// openPath hands a checked local path to open(1).
func openPath(ctx context.Context, path string) error {
	return runOpener(ctx, "open", path)
}
