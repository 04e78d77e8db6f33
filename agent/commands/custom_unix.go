//go:build !windows

package commands

import (
	"os"
	"os/exec"
	"syscall"
)

// cleanPath is the PATH of a custom command, and where a bare argv[0] is
// looked up.
const cleanPath = "/usr/bin:/bin"

// cleanEnv is the whole environment of a custom command: PATH, HOME and
// LANG, nothing inherited from the agent besides the last two.
func cleanEnv() []string {
	env := []string{"PATH=" + cleanPath, "HOME=" + homeDir()}
	if lang := os.Getenv("LANG"); lang != "" {
		env = append(env, "LANG="+lang)
	}
	return env
}

// ownGroup starts cmd in a new process group and makes its cancellation
// kill the whole group, children included.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
