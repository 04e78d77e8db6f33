//go:build !linux

package agent

import "errors"

// clockWatch is the kernel's clock-change notice of clockwatch_linux.go;
// elsewhere there is none and the pump compares the clocks every
// sleepCheck.
type clockWatch struct{}

// clockWatchAvailable reports whether watchClock works on this system.
const clockWatchAvailable = false

func watchClock() (*clockWatch, error) {
	return nil, errors.New("no clock-change notice on this system")
}

func (w *clockWatch) jumped() <-chan struct{} { return nil }
func (w *clockWatch) close()                  {}
