//go:build !linux

package main

import "errors"

// releaseStartupPages is Linux only (MADV_PAGEOUT).
func releaseStartupPages() (int64, error) {
	return 0, errors.New("not on this system")
}
