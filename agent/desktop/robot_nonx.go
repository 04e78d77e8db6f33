//go:build cgo && (windows || darwin)

package desktop

import (
	"context"
	"strings"

	"github.com/go-vgo/robotgo"
)

// displayCheck reports "" on Windows and macOS: a desktop session has a
// screen, and robotgo does not crash there without one.
func displayCheck() string { return "" }

// typeText types text with robotgo, with Return for '\n' and Tab for '\t'.
func typeText(ctx context.Context, text string) error {
	robotMu.Lock()
	defer robotMu.Unlock()
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			if err := robotgo.KeyTap("enter"); err != nil {
				return err
			}
		}
		for j, part := range strings.Split(line, "\t") {
			if err := ctx.Err(); err != nil {
				return err
			}
			if j > 0 {
				if err := robotgo.KeyTap("tab"); err != nil {
					return err
				}
			}
			robotgo.Type(part)
		}
	}
	return nil
}
