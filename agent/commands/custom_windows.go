package commands

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/windows"
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

// ownGroup starts cmd in a process group of its own and puts it, once
// started, in a job object, so that its cancellation terminates the job:
// the program and every process it started since. (A child started in the
// instant between the start and the assignment escapes the job; taskkill
// /T then gets it by its parent.) started is called right after cmd.Start;
// release after cmd.Wait.
func ownGroup(cmd *exec.Cmd) (started func(), release func()) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		job = 0
	}
	cmd.Cancel = func() error {
		if job != 0 {
			windows.TerminateJobObject(job, 1)
		}
		kill := exec.Command(os.Getenv("SystemRoot")+`\System32\taskkill.exe`, "/T", "/F", "/PID", strconv.Itoa(cmd.Process.Pid))
		if err := kill.Run(); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	started = func() {
		if job == 0 {
			return
		}
		h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid))
		if err != nil {
			return
		}
		defer windows.CloseHandle(h)
		windows.AssignProcessToJobObject(job, h)
	}
	release = func() {
		if job != 0 {
			windows.CloseHandle(job) // no kill-on-close: what the program left behind after it exited keeps running
		}
	}
	return started, release
}
