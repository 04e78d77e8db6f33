//go:build !unix

package clustertest

import "os/exec"

// ownGroup does nothing where there are no process groups to set: the
// package only has to compile there (cmd/tether's tests, which use it, are
// vetted for Windows).
func ownGroup(cmd *exec.Cmd) {}
