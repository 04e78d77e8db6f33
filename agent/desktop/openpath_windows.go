package desktop

import "context"

// openPath hands a checked local path to the shell's file handler: a file
// opens in its default application, a folder in Explorer. (explorer.exe
// itself exits 1 even when it worked, so its status would prove nothing.)
func openPath(ctx context.Context, path string) error {
	return runOpener(ctx, "rundll32", "url.dll,FileProtocolHandler", path)
}
