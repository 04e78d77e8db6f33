//go:build unix

package inbox

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// freeSpace returns the bytes an unprivileged user may still write on the
// file system of dir (statfs's available blocks).
func freeSpace(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

func isNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }

// markFromInternet does nothing outside Windows.
func markFromInternet(string) {}
