//go:build unix

package clustertest

import (
	"os/exec"
	"syscall"
)

// ownGroup starts cmd in a process group of its own, so that only the test
// signals it: a signal to the terminal's process group (Ctrl-C) does not
// reach it directly.
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }
