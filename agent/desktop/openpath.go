package desktop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// OpenPath opens the file or folder at path with the desktop's default
// application for it (a folder in the file manager): xdg-open on Linux,
// open on macOS, the shell's file handler on Windows, the path always one
// argument of its own. Unlike OpenURL it takes a local path, never a URL:
// path must be absolute (so it can never read as an option of the opener)
// and must exist. It blocks until the opener exits or ctx ends.
func (d *Desktop) OpenPath(ctx context.Context, path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("open %q: not an absolute path", path)
	}
	path = filepath.Clean(path)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if err := openPath(ctx, path); err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	return nil
}
