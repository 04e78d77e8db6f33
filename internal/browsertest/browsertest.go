// Package browsertest starts the real headless Chromium that the browser
// tests drive through chromedp, with the flags these machines need (as root,
// on a closed network), for tests only.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Find returns the path of a Chromium-family browser on PATH, or "".
func Find() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Require returns the browser's path, or skips the test when there is none
// (fails it when TETHER_REQUIRE_BROWSER is set). Tests call it before they
// start anything else.
func Require(t testing.TB) string {
	t.Helper()
	path := Find()
	if path == "" {
		if os.Getenv("TETHER_REQUIRE_BROWSER") != "" {
			t.Fatal("no Chromium on this machine (scripts/setup --test installs it) and TETHER_REQUIRE_BROWSER is set")
		}
		t.Skip("no Chromium on PATH (scripts/setup --test installs it)")
	}
	return path
}

// Options shape the browser of one test; the zero value is a default window
// and a two-minute hang guard.
type Options struct {
	Width, Height int           // window size; 0: Chromium's default
	HangGuard     time.Duration // bound of the returned context; 0: 2 minutes
}

// Start starts a headless Chromium with a profile of the test's own and
// returns a chromedp context for it, bounded by o.HangGuard. Without a
// browser installed the test is skipped, or fails when TETHER_REQUIRE_BROWSER
// is set (scripts/test sets it). Everything is stopped when the test ends.
func Start(t testing.TB, o Options) context.Context {
	t.Helper()
	path := Require(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		// Without these Chromium floods the closed network at every start.
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
	}
	if o.Width > 0 && o.Height > 0 {
		opts = append(opts, chromedp.WindowSize(o.Width, o.Height))
	}
	if o.HangGuard <= 0 {
		o.HangGuard = 2 * time.Minute
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	ctx, cancelGuard := context.WithTimeout(ctx, o.HangGuard)
	t.Cleanup(cancelGuard)
	return ctx
}
