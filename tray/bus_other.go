//go:build !linux

package tray

// SessionBusAvailable reports nil: only Linux needs a session bus for the tray.
func SessionBusAvailable() error { return nil }
