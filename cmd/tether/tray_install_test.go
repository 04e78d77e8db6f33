package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallStartStopUninstall runs the real binary's service commands in a
// temporary home. No systemd user manager is reachable (PATH holds no
// systemctl), so install falls back to the XDG autostart entry; start and
// stop then run and signal the agent themselves.
func TestInstallStartStopUninstall(t *testing.T) {
	relay := startRelay(t, freeAddr(t), t.TempDir())
	_, tether := binaries(t)
	home := t.TempDir()
	configDir := filepath.Join(t.TempDir(), "cfg")
	os.MkdirAll(filepath.Join(home, ".config", "keep"), 0o755) // the user's own
	snap := func() string {
		var out []string
		filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
			rel, _ := filepath.Rel(home, p)
			if rel == filepath.Join(".config", "pulse") {
				// Where PulseAudio is installed, ALSA's configuration asks it
				// whether it runs whenever a program opens a sound device,
				// and its client library leaves this behind: not Tether's.
				return filepath.SkipDir
			}
			out = append(out, rel)
			return err
		})
		return strings.Join(out, "\n")
	}
	before := snap()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=", "DISPLAY=", "DBUS_SESSION_BUS_ADDRESS=",
		"TETHER_CONFIG_DIR=" + configDir, "TETHER_RELAY=", "TETHER_AGENT_RELAY=", "PATH=" + t.TempDir()}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(tether, args...)
		cmd.Env = append(os.Environ(), env...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("tether %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		return out.String()
	}
	status := func() statusReport {
		t.Helper()
		var r statusReport
		if err := json.Unmarshal([]byte(run("status", "--json")), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}

	entry := filepath.Join(home, ".config", "autostart", "tether.desktop")
	for range 2 { // idempotent
		if out := run("install", "--relay", relay.url); !strings.Contains(out, "autostart entry") {
			t.Fatalf("install said %q", out)
		}
	}
	b, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Exec=" + tether + " run --relay " + relay.url + " --config-dir " + configDir + "\n"; !strings.Contains(string(b), want) {
		t.Errorf("autostart entry:\n%s\nwant the line %q", b, want)
	}
	if r := status(); !r.Service.Installed || r.Service.Target != "xdg-autostart" || r.Service.Path != entry || r.Relay != relay.url {
		t.Errorf("status after install: %+v", r)
	}

	run("start")
	waitFor(t, "the started agent connected", func() bool { return status().State == "connected" })
	if pid := status().Agent.PID; pid > 0 {
		t.Cleanup(func() { // only matters when the test fails before stop
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		})
	}
	if out := run("start"); !strings.Contains(out, "already running") {
		t.Errorf("second start: %q", out)
	}
	if out := run("stop"); !strings.Contains(out, "Stopped Tether") {
		t.Errorf("stop: %q", out)
	}
	waitFor(t, "the agent stopped", func() bool { return status().State == "stopped" })
	if out := run("stop"); !strings.Contains(out, "not running") {
		t.Errorf("stop when stopped: %q", out)
	}

	for range 2 {
		run("uninstall")
	}
	if r := status(); r.Service.Installed {
		t.Errorf("still installed: %+v", r.Service)
	}
	if after := snap(); after != before {
		t.Errorf("the home changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	cmd := exec.Command(tether, "start")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not installed") {
		t.Errorf("start when not installed: %v %s", err, out)
	}
}
