package installer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// StartDetached starts exe with args as a process of its own that outlives
// the caller (its own session on Unix, no console on Windows), with its
// output discarded. It does not wait for it.
func StartDetached(exe string, args ...string) (pid int, err error) {
	cmd := exec.Command(exe, args...)
	cmd.SysProcAttr = detachAttr()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", exe, err)
	}
	pid = cmd.Process.Pid
	if err := cmd.Process.Release(); err != nil {
		return pid, fmt.Errorf("start %s: %w", exe, err)
	}
	return pid, nil
}

// ErrNotRunning means there is no process to stop.
var ErrNotRunning = errors.New("not running")

// StopProcess asks process pid to end (SIGTERM on Unix; on Windows, which
// has no such signal for a GUI process, it is killed).
func StopProcess(pid int) error {
	if pid <= 0 {
		return ErrNotRunning
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return ErrNotRunning
	}
	if err := terminate(p); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return ErrNotRunning
		}
		return fmt.Errorf("stop process %d: %w", pid, err)
	}
	return nil
}
