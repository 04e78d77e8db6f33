//go:build darwin && !cgo

package tray

import (
	"context"
	"errors"
)

// Run would show the tray; a macOS build without cgo has none.
func Run(ctx context.Context, c *Controller) error {
	return errors.New("tray: this build has no tray icon (macOS needs cgo)")
}

// IconSize is the PNG size given to StatusNotifierItem hosts.
const IconSize = 22
