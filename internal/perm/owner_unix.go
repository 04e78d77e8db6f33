//go:build unix

package perm

import (
	"io/fs"
	"os"
	"syscall"
)

// modeBitsMatter says whether Unix permission bits protect files here.
const modeBitsMatter = true

// owner returns the uid owning fi and the current effective uid; ok is
// false when the owner cannot be known.
func owner(fi fs.FileInfo) (uid, me int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), os.Geteuid(), true
}
