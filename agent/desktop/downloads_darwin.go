package desktop

import (
	"fmt"
	"os"
	"path/filepath"
)

// downloadsDir is ~/Downloads, where macOS keeps it for every user.
func downloadsDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the Downloads folder: %w", err)
	}
	return filepath.Join(home, "Downloads"), nil
}
