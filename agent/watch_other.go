//go:build !linux

package agent

import "errors"

// dirWatch is the directory watch of watch_linux.go; elsewhere there is
// none and the settings watcher polls.
type dirWatch struct{}

// watchDir always fails here: the caller polls.
func watchDir(dir string, names ...string) (*dirWatch, error) {
	return nil, errors.New("no directory watch on this system: polling " + dir)
}

func (w *dirWatch) changed() <-chan struct{} { return nil }
func (w *dirWatch) ended() <-chan struct{}   { return nil }
func (w *dirWatch) close()                   {}
