//go:build !linux

package agent

// newTicker is the runtime's ticker: the kernel timer of
// quietticker_linux.go is Linux only.
func newTicker() ticker { return newTimeTicker() }
