//go:build !windows && !darwin

package desktop

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// downloadsDir follows the XDG user directories: $XDG_DOWNLOAD_DIR, then
// XDG_DOWNLOAD_DIR in $XDG_CONFIG_HOME/user-dirs.dirs (default
// ~/.config), then ~/Downloads.
func downloadsDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the Downloads folder: %w", err)
	}
	if d := os.Getenv("XDG_DOWNLOAD_DIR"); filepath.IsAbs(d) {
		return filepath.Clean(d), nil
	}
	cfg := os.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(cfg) {
		cfg = filepath.Join(home, ".config")
	}
	if f, err := os.Open(filepath.Join(cfg, "user-dirs.dirs")); err == nil {
		defer f.Close()
		if d := userDirsDownload(bufio.NewScanner(f), home); d != "" {
			return d, nil
		}
	}
	return filepath.Join(home, "Downloads"), nil
}

// userDirsDownload reads XDG_DOWNLOAD_DIR from a user-dirs.dirs file:
// shell-style lines `XDG_DOWNLOAD_DIR="$HOME/Downloads"`, where the value
// is "$HOME/…" or an absolute path (what xdg-user-dirs writes). It
// returns "" when the file names none, or names $HOME itself (the
// convention for "not set").
func userDirsDownload(sc *bufio.Scanner, home string) string {
	dir := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		v, ok := strings.CutPrefix(line, "XDG_DOWNLOAD_DIR=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		switch {
		case v == "$HOME" || v == "$HOME/":
			dir = ""
		case strings.HasPrefix(v, "$HOME/"):
			dir = filepath.Join(home, v[len("$HOME/"):])
		case filepath.IsAbs(v):
			dir = filepath.Clean(v)
		}
	}
	return dir
}
