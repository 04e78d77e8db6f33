//go:build windows

package agent

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockFile takes an exclusive lock on the open file f, waiting for another
// process that holds it.
func lockFile(f *os.File) error {
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, new(windows.Overlapped))
}
