//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestQuickStart runs scripts/run as the README tells a new user to, in a
// home of its own, then types the README's commands in "another terminal":
// `tether status` must find the quick start's agent (connected, registered),
// `tether pair` must pair that same computer and not register a second one,
// and Ctrl-C must stop everything.
func TestQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries with scripts/build")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	bindir := filepath.Join(home, ".local", "bin")
	addr := freeAddr(t)
	env := quickStartEnv(t, home, bindir)
	env = append(env, "TETHER_LISTEN="+addr, "TETHER_DATA="+filepath.Join(home, "data"))

	cmd := exec.Command(filepath.Join(repo, "scripts", "run"))
	cmd.Dir = repo
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if t.Failed() {
			t.Logf("scripts/run stderr:\n%s", stderr.String())
			for _, f := range []string{"relay.log", "agent.log"} {
				b, _ := os.ReadFile(filepath.Join(home, "data", f))
				t.Logf("--- %s ---\n%s", f, tail(b, 30))
			}
		}
	})

	// Wait for the pairing code the script prints (a cold build is slow).
	var printed []string
	deadline := time.After(5 * time.Minute)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("scripts/run ended early; printed:\n%s", strings.Join(printed, "\n"))
			}
			printed = append(printed, l)
			if strings.HasPrefix(l, "Pairing code:") {
				break wait
			}
		case <-deadline:
			t.Fatalf("no pairing code from scripts/run; printed:\n%s", strings.Join(printed, "\n"))
		}
	}
	go func() {
		for range lines { // keep the pipe drained
		}
	}()

	// "In another terminal": tether as the README writes it, found on PATH.
	tether := lookPathIn(t, env, "tether")
	if want := filepath.Join(bindir, "tether"); tether != want {
		t.Fatalf("tether resolves to %s, want the link %s", tether, want)
	}
	run := func(args ...string) string {
		t.Helper()
		c := exec.Command(tether, args...)
		c.Env = env
		out, err := c.Output()
		if err != nil {
			t.Fatalf("tether %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var st statusReport
	if err := json.Unmarshal([]byte(run("status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Relay != "http://"+addr || st.DeviceID == "" || st.State != "connected" {
		t.Fatalf("tether status sees relay %q device %q state %q; want the quick start's agent, connected", st.Relay, st.DeviceID, st.State)
	}

	var p struct{ Code string }
	if err := json.Unmarshal([]byte(run("pair", "--json")), &p); err != nil {
		t.Fatal(err)
	}
	session, device := pair(t, "http://"+addr, p.Code, "")
	if device != st.DeviceID {
		t.Fatalf("tether pair paired device %s; the running agent is %s", device, st.DeviceID)
	}
	var devices []struct {
		DeviceID string `json:"device_id"`
		Online   bool   `json:"online"`
	}
	getJSON(t, "http://"+addr+"/api/v1/devices", session, &devices)
	if len(devices) != 1 || !devices[0].Online {
		t.Fatalf("the browser sees %+v; want exactly this computer, online", devices)
	}

	// Ctrl-C stops the relay and the agent.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(hangGuard):
		t.Fatal("scripts/run did not stop on Ctrl-C")
	}
	if err := json.Unmarshal([]byte(run("status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.State != "stopped" && st.State != "not running" {
		t.Fatalf("after Ctrl-C tether status says %q", st.State)
	}
}

// quickStartEnv is this process's environment with a home of the test's own,
// bindir first on PATH, no tether settings inherited, and the Go caches kept
// (a cold build in the new home would take minutes).
func quickStartEnv(t *testing.T, home, bindir string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "PATH", k == "XDG_CONFIG_HOME", k == "DISPLAY", k == "DBUS_SESSION_BUS_ADDRESS",
			strings.HasPrefix(k, "TETHER_"), k == "GOCACHE", k == "GOMODCACHE", k == "GOPATH":
			continue
		}
		env = append(env, kv)
	}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		env = append(env, k+"="+strings.TrimSpace(string(out)))
	}
	return append(env, "HOME="+home, "PATH="+bindir+":"+os.Getenv("PATH"))
}

// lookPathIn finds name on the PATH of env.
func lookPathIn(t *testing.T, env []string, name string) string {
	t.Helper()
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, dir := range filepath.SplitList(p) {
				f := filepath.Join(dir, name)
				if fi, err := os.Stat(f); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
					return f
				}
			}
		}
	}
	t.Fatalf("%s is not on PATH", name)
	return ""
}
