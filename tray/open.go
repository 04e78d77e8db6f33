package tray

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
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

// FileURL is the file:// URL of the local file at path (an absolute path;
// on Windows file:///C:/…), which OpenBrowser opens in the default browser.
func FileURL(path string) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}
