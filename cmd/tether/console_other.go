//go:build !windows

package main

// attachConsole does nothing outside Windows: programs there always have
// the output streams of whoever started them.
func attachConsole() {}
