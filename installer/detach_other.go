//go:build !unix && !windows

package installer

import (
	"os"
	"syscall"
)

func detachAttr() *syscall.SysProcAttr { return nil }

func terminate(p *os.Process) error { return p.Kill() }
