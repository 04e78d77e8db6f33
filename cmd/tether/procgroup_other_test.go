//go:build !linux

package main

import (
	"os/exec"
	"time"
)

// ownGroup does nothing here: the end-to-end tests run on Linux.
func ownGroup(cmd *exec.Cmd) {}

// endGroup does nothing here: the end-to-end tests run on Linux.
func endGroup(pid int, bound time.Duration) bool { return true }
