//go:build !windows

package installer

import "context"

// RunWindowsService runs nothing outside Windows: handled is false, and
// RunUnattended applies.
func RunWindowsService(ctx context.Context, run func(context.Context) error) (handled bool, err error) {
	return false, nil
}
