package desktop

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// downloadsDir asks Windows for the Downloads known folder
// (SHGetKnownFolderPath with FOLDERID_Downloads), which the user may have
// moved to another drive.
func downloadsDir() (string, error) {
	dir, err := windows.KnownFolderPath(windows.FOLDERID_Downloads, 0)
	if err != nil {
		return "", fmt.Errorf("find the Downloads folder: %w", err)
	}
	return dir, nil
}
