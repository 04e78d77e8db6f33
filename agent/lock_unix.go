//go:build unix

package agent

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on the open file f, waiting for
// another process that holds it.
func lockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
