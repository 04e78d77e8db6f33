package tray

import (
	"context"
	"fmt"
	"os/exec"
	"time"
)

// OpenBrowser opens url in the user's default browser (xdg-open on Linux and
// the BSDs, open on macOS, the URL handler on Windows). It blocks until the
// opener returns, at most 20 s.
func OpenBrowser(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	name, args := openCommand(url)
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("open %s with %s: %w: %s", url, name, err, out)
	}
	return nil
}
