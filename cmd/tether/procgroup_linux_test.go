//go:build linux

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ownGroup starts cmd in a process group of its own, so that endGroup can
// end what it started too (the agent runs pactl, say), not only cmd.
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// endGroup kills what is left of the process group that ownGroup gave the
// process pid, once pid itself has exited, and waits up to bound until
// none of it runs: a child left running (a pactl the agent started just
// before it was killed) could still write in the test's directories while
// the test removes them. It reports false if some of it still ran at bound.
func endGroup(pid int, bound time.Duration) bool {
	syscall.Kill(-pid, syscall.SIGKILL)
	deadline := time.Now().Add(bound)
	for groupRuns(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// groupRuns reports whether a process of group pgid is alive; a zombie
// (killed, not yet reaped by whoever inherited it) does not count.
func groupRuns(pgid int) bool {
	if syscall.Kill(-pgid, 0) == syscall.ESRCH {
		return false
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if state, pgrp, ok := procStat(e.Name()); ok && pgrp == strconv.Itoa(pgid) && state != "Z" {
			return true
		}
	}
	return false
}

// procStat reads the state and process group of process pid from
// /proc/PID/stat; ok is false when it is gone.
func procStat(pid string) (state, pgrp string, ok bool) {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	i := bytes.LastIndexByte(stat, ')') // the command, in brackets, may hold spaces
	if err != nil || i < 0 {
		return "", "", false
	}
	f := strings.Fields(string(stat[i+1:])) // state, ppid, pgrp, …
	if len(f) < 3 {
		return "", "", false
	}
	return f[0], f[2], true
}

// TestStopEndsWhatTheProcessStarted checks that stopping a process also
// ends the children it left behind, as a killed agent leaves its pactl.
func TestStopEndsWhatTheProcessStarted(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	p := start(t, "sh", nil, "/bin/sh", "-c", `sleep 300 & echo $! > "$0"; wait`, pidFile)
	var child int
	waitFor(t, "the child's pid", func() bool {
		b, err := os.ReadFile(pidFile)
		child, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && child > 0
	})
	p.stop(syscall.SIGKILL)
	if state, _, ok := procStat(strconv.Itoa(child)); ok && state != "Z" {
		t.Fatalf("the child %d still runs after its parent was stopped (state %s)", child, state)
	}
}
