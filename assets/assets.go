// Package assets holds what Tether's binaries embed: the tray icons, one per
// state, drawn by gen_icons.go (run `go generate ./assets` and commit its
// output). Everything here is read-only and safe to use from any goroutine.
package assets

import (
	"embed"
	"fmt"
)

//go:generate go run gen_icons.go

//go:embed icons
var icons embed.FS

// Icon states: one icon set each.
const (
	IconConnected = "connected" // the tunnel is up
	IconOffline   = "offline"   // connecting, reconnecting, not registered
	IconPaused    = "paused"    // the owner paused the agent
	IconError     = "error"     // the relay refused this device, or the agent stopped
)

// IconStates lists every state that has icons.
var IconStates = []string{IconConnected, IconOffline, IconPaused, IconError}

// PNGSizes are the pixel sizes of the PNG icons.
var PNGSizes = []int{16, 22, 32, 48}

// PNG returns the state's icon as PNG at size pixels (one of PNGSizes).
func PNG(state string, size int) ([]byte, error) {
	return icons.ReadFile(fmt.Sprintf("icons/%s-%d.png", state, size))
}

// ICO returns the state's icon for Windows: 16, 24, 32, 48 and 256 px in one file.
func ICO(state string) ([]byte, error) {
	return icons.ReadFile("icons/" + state + ".ico")
}

// Template returns the state's macOS template image (black and alpha only,
// 22 px; retina is true for the 44 px one): macOS tints it for the menu bar.
func Template(state string, retina bool) ([]byte, error) {
	if retina {
		return icons.ReadFile("icons/" + state + "-template@2x.png")
	}
	return icons.ReadFile("icons/" + state + "-template.png")
}

// AppIcon returns the application icon, 256 px PNG.
func AppIcon() []byte {
	b, err := icons.ReadFile("icons/tether-256.png")
	if err != nil {
		panic("assets: the application icon is missing: " + err.Error())
	}
	return b
}
