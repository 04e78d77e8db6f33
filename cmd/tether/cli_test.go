package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rsc.io/qr"

	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/internal/logbuf"
	"github.com/tether-desktop/tether/internal/relaytest"
)

// cliHangGuard bounds waits that only fail when something hangs.
const cliHangGuard = 20 * time.Second

// runCLI runs one command line in-process with a private config dir and
// relay (through the environment, as a user would set them).
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runContext(context.Background(), os.Getenv, args, &out, &errb)
	return code, out.String(), errb.String()
}

func cliEnv(t *testing.T, relay string) string {
	dir := filepath.Join(t.TempDir(), "tether")
	t.Setenv("TETHER_CONFIG_DIR", dir)
	t.Setenv("TETHER_AGENT_RELAY", relay)
	t.Setenv("TETHER_RELAY", "")
	t.Setenv("TETHER_ENROLL_TOKEN", "")
	return dir
}

func TestUsageAndExitCodes(t *testing.T) {
	cliEnv(t, "http://127.0.0.1:1")
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		out, err string // substrings expected
	}{
		{"no command", nil, 2, "", "Usage: tether <command>"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"help", []string{"help"}, 0, "Usage: tether <command>", ""},
		{"--help", []string{"--help"}, 0, "Usage: tether <command>", ""},
		{"version", []string{"version"}, 0, "tether dev (commit unknown", ""},
		{"bad flag", []string{"status", "--nope"}, 2, "", "flag provided but not defined"},
		{"allow without names", []string{"allow"}, 2, "", "name at least one command"},
		{"deny unknown name", []string{"deny", "teleport"}, 1, "", `unknown command "teleport"; known: beep, `},
		{"stray argument", []string{"status", "extra"}, 2, "", `unexpected argument "extra"`},
		{"unpair-all unregistered", []string{"unpair-all"}, 1, "", "not registered with http://127.0.0.1:1"},
		{"pair with no relay", []string{"pair"}, 1, "", "register with http://127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errs, tc.err) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
			}
			if code == 1 && strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Errorf("an error takes more than one line: %q", errs)
			}
		})
	}
}

func TestAllowDenyEditTheSettings(t *testing.T) {
	dir := cliEnv(t, "http://127.0.0.1:1")
	if code, out, errs := runCLI(t, "deny", "beep", "--config-dir", dir, "notify"); code != 0 || out != "beep: off\nnotify: off\n" {
		t.Fatalf("deny: %d %q %q", code, out, errs)
	}
	if code, _, errs := runCLI(t, "allow", "mouse", "notify"); code != 0 {
		t.Fatalf("allow: %d %q", code, errs)
	}
	s, err := agent.LoadSettings(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Mouse || s.Allowed("beep", true) || !s.Allowed("notify", true) {
		t.Errorf("settings = %+v", s)
	}
	if fi, err := os.Stat(filepath.Join(dir, agent.SettingsFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json: %v %v", fi.Mode(), err)
	}
	// An unknown name changes nothing, even next to a known one.
	if code, _, _ := runCLI(t, "allow", "beep", "teleport"); code != 1 {
		t.Fatal("unknown name accepted")
	}
	var r statusReport
	code, out, _ := runCLI(t, "status", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("status --json: %d %q", code, out)
	}
	if strings.Join(r.Allowed, ",") != "lock_screen,media,notify,receive_files,volume" || !r.Mouse || r.State != "not running" || r.DeviceID != "" {
		t.Errorf("status = %+v", r)
	}
}

func TestPairRunStatusUnpairAgainstTheRelay(t *testing.T) {
	relay := relaytest.Start(t)
	dir := cliEnv(t, relay)

	// pair registers first, then prints only JSON on stdout.
	code, out, errs := runCLI(t, "pair", "--json")
	if code != 0 {
		t.Fatalf("pair --json: %d %q", code, errs)
	}
	var p struct{ Code, URL, Expires_At string }
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("pair --json printed %q: %v", out, err)
	}
	if p.Code == "" || p.URL != relay+"/pair?code="+p.Code || !strings.Contains(errs, "Registered this computer") {
		t.Fatalf("pair: %+v, stderr %q", p, errs)
	}
	if exp, err := time.Parse(time.RFC3339, p.Expires_At); err != nil || time.Until(exp) < 5*time.Minute {
		t.Errorf("expires_at %q: %v", p.Expires_At, err)
	}
	// The code is real: a browser can pair with it.
	resp, err := http.Post(relay+"/api/v1/pairings", "application/json", strings.NewReader(`{"code":"`+p.Code+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("pairing with the code: %d", resp.StatusCode)
	}

	// The text form shows the code, the link and a QR code.
	code, out, _ = runCLI(t, "pair")
	if code != 0 || !strings.Contains(out, "Pairing code: ") || !strings.Contains(out, relay+"/pair?code=") || !strings.Contains(out, "█") {
		t.Fatalf("pair: %d %q", code, out)
	}
	creds, err := agent.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}

	// run connects with the same identity and stops on cancel.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	runLog := &logbuf.Buffer{}
	go func() {
		done <- runContext(ctx, os.Getenv, []string{"run", "--no-tray", "--name", "cli-test"}, io.Discard, runLog)
	}()
	defer func() {
		if t.Failed() {
			t.Logf("log of tether run:\n%s", runLog)
		}
	}()
	var r statusReport
	deadline := time.Now().Add(cliHangGuard)
	for r.State != agent.StateConnected {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("run never connected: %+v", r)
		}
		time.Sleep(20 * time.Millisecond)
		_, out, _ := runCLI(t, "status", "--json")
		r = statusReport{}
		json.Unmarshal([]byte(out), &r)
	}
	if r.DeviceID != creds.DeviceID || r.Agent.Name != "cli-test" || r.Relay != relay {
		t.Errorf("status while running: %+v %+v", r, r.Agent)
	}
	_, out, _ = runCLI(t, "status")
	if !strings.Contains(out, "State:     connected since") || !strings.Contains(out, "Device:    "+creds.DeviceID) {
		t.Errorf("status text: %q", out)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run exited %d", code)
		}
	case <-time.After(cliHangGuard):
		t.Fatal("run did not stop")
	}
	_, out, _ = runCLI(t, "status")
	if !strings.Contains(out, "State:     stopped") {
		t.Errorf("status after stop: %q", out)
	}

	if code, out, errs := runCLI(t, "unpair-all"); code != 0 || !strings.Contains(out, "lost access") {
		t.Fatalf("unpair-all: %d %q %q", code, out, errs)
	}

	// The relay forgot the device (a new relay database): pair registers again.
	other := relaytest.Start(t)
	stale := agent.Credentials{Relay: other, DeviceID: "d_gone", DeviceToken: "gone"}
	if err := agent.SaveCredentials(dir, stale); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, "pair", "--json", "--relay", other)
	if code != 0 || !strings.Contains(errs, "no longer knows") || !strings.Contains(out, other+"/pair?code=") {
		t.Fatalf("pair after the relay forgot: %d %q %q", code, out, errs)
	}
	if c, _ := agent.LoadCredentials(dir); c.DeviceID == "d_gone" || c.Relay != other {
		t.Errorf("credentials after re-registering: %v", c)
	}
}

func TestQRCodeReadsBack(t *testing.T) {
	for _, text := range []string{"http://127.0.0.1:8080/pair?code=ABCD-2345", "https://relay.example.com/pair?code=WXYZ-6789"} {
		t.Run(text, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeQR(&b, text); err != nil {
				t.Fatal(err)
			}
			want, err := qr.Encode(text, qr.M)
			if err != nil {
				t.Fatal(err)
			}
			n := want.Size + 2*qrQuiet
			lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if len(lines) != (n+1)/2 {
				t.Fatalf("%d lines for %d module rows", len(lines), n)
			}
			for i, line := range lines {
				cells := []rune(line)
				if len(cells) != n {
					t.Fatalf("line %d has %d cells, want %d", i, len(cells), n)
				}
				for x, r := range cells {
					top := r == '█' || r == '▀'
					bottom := r == '█' || r == '▄'
					for dy, lit := range []bool{top, bottom} {
						y := 2*i + dy
						if y >= n {
							continue
						}
						mx, my := x-qrQuiet, y-qrQuiet
						light := mx < 0 || my < 0 || mx >= want.Size || my >= want.Size || !want.Black(mx, my)
						if lit != light {
							t.Fatalf("module (%d,%d) drawn light=%v, want %v", x, y, lit, light)
						}
					}
				}
			}
		})
	}
}

// TestRelayEnvNames: TETHER_AGENT_RELAY names the relay; the older
// TETHER_RELAY still works, with a notice; the flag wins over both.
func TestRelayEnvNames(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name       string
		env        map[string]string
		args       []string
		wantRelay  string
		wantNotice bool
	}{
		{"new name", map[string]string{"TETHER_AGENT_RELAY": "http://new.example"}, nil, "http://new.example", false},
		{"old name", map[string]string{"TETHER_RELAY": "http://old.example"}, nil, "http://old.example", true},
		{"both", map[string]string{"TETHER_AGENT_RELAY": "http://new.example", "TETHER_RELAY": "http://old.example"}, nil, "http://new.example", false},
		{"flag wins", map[string]string{"TETHER_AGENT_RELAY": "http://new.example"}, []string{"--relay", "http://flag.example"}, "http://flag.example", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["TETHER_CONFIG_DIR"] = dir
			var out, errb bytes.Buffer
			args := append(tc.args, "status", "--json")
			if code := runContext(context.Background(), func(k string) string { return tc.env[k] }, args, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			var st statusReport
			if err := json.Unmarshal(out.Bytes(), &st); err != nil {
				t.Fatal(err)
			}
			if st.Relay != tc.wantRelay {
				t.Errorf("relay %q, want %q", st.Relay, tc.wantRelay)
			}
			if got := strings.Contains(errb.String(), "TETHER_RELAY is deprecated"); got != tc.wantNotice {
				t.Errorf("notice printed: %v, want %v (stderr %q)", got, tc.wantNotice, errb.String())
			}
		})
	}
}
