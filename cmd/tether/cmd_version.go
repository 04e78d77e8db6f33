package main

import (
	"context"
	"fmt"
	"runtime"
)

func (c *cli) version(ctx context.Context, args []string) error {
	fmt.Fprintf(c.stdout, "tether %s (commit %s, built %s, %s %s/%s)\n", version, commit, date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
