package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/agent"
)

// TestStatusFallbackAsksTheProcessNotTheFileAge: when the control channel
// cannot be asked at all (here: a config directory whose socket path is too
// long for a Unix socket), `tether status` believes status.json while its
// agent process lives, however old the file is (the agent writes it only on
// change, with no periodic refresh to wake it), and not once that process
// is gone, however fresh the file is.
func TestStatusFallbackAsksTheProcessNotTheFileAge(t *testing.T) {
	dir := cliEnv(t, "http://127.0.0.1:1")
	dir = filepath.Join(dir, strings.Repeat("d", 120)) // no Unix socket path fits
	t.Setenv("TETHER_CONFIG_DIR", dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		pid     int
		updated time.Time
		want    string
	}{
		{"old file, live process", os.Getpid(), time.Now().Add(-time.Hour), agent.StateConnected},
		{"fresh file, process gone", gone.Process.Pid, time.Now(), "not running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := agent.Status{State: agent.StateConnected, Since: tc.updated, Updated: tc.updated, PID: tc.pid,
				Relay: "http://127.0.0.1:1"}
			b, _ := json.Marshal(st)
			if err := os.WriteFile(filepath.Join(dir, agent.StatusFile), b, 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errs := runCLI(t, "status", "--json")
			var r statusReport
			if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
				t.Fatalf("status --json: %d %q %q", code, out, errs)
			}
			if r.State != tc.want {
				t.Errorf("state %q, want %q (status.json %s old, pid %d)", r.State, tc.want,
					time.Since(tc.updated).Round(time.Second), tc.pid)
			}
		})
	}
}
