//go:build !windows && !darwin

package tray

func openCommand(url string) (string, []string) { return "xdg-open", []string{url} }
