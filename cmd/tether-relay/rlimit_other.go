//go:build !unix

package main

import "errors"

// raiseFileLimit has nothing to raise on systems without rlimits.
func raiseFileLimit() (uint64, error) { return 0, errors.New("not supported on this system") }
