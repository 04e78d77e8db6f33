package commands

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// cleanPath is the PATH of a custom command, and where a bare argv[0] is
// looked up.
var cleanPath = os.Getenv("SystemRoot") + `\System32;` + os.Getenv("SystemRoot")

// cleanEnv is the whole environment of a custom command: PATH, the
// user's profile and what Windows programs cannot start without.
func cleanEnv() []string {
	env := []string{"PATH=" + cleanPath, "HOME=" + homeDir(), "USERPROFILE=" + homeDir()}
	for _, k := range []string{"SystemRoot", "SystemDrive", "TEMP", "TMP", "LANG"} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// ownGroup starts cmd in a new process group and makes its cancellation
// kill its whole process tree (taskkill /T).
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
	cmd.Cancel = func() error {
		kill := exec.Command(os.Getenv("SystemRoot")+`\System32\taskkill.exe`, "/T", "/F", "/PID", strconv.Itoa(cmd.Process.Pid))
		if err := kill.Run(); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
}
