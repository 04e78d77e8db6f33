package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// TestEndToEnd runs the real relay and the real agent as processes on
// loopback and goes through what a person does: pair, watch telemetry, beep,
// switch a command off, and survive a relay restart.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	relay := startRelay(t, addr, filepath.Join(dir, "relay"))
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	env := agentEnv(t, home)
	agent := startAgent(t, relay.url, filepath.Join(dir, "agent"), env)

	// Registered on first start, credentials owner-only.
	creds := filepath.Join(agent.configDir, "credentials.json")
	waitFor(t, "agent registration", func() bool { _, err := os.Stat(creds); return err == nil })
	if fi, _ := os.Stat(creds); fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials mode %v, want 0600", fi.Mode().Perm())
	}
	if log, _ := os.ReadFile(agent.log); containsToken(log) {
		t.Errorf("the agent's log contains a token")
	}

	session, device := pair(t, relay.url, agent.pairingCode(), "")
	c := dialClient(t, relay.url, session)
	p := c.presence(device, func(p protocol.Presence) bool { return p.Online })
	if !contains(p.Capabilities, "beep") || !contains(p.Capabilities, "notify") {
		t.Fatalf("capabilities %v, want beep and notify on by default", p.Capabilities)
	}

	t.Run("telemetry while watched", func(t *testing.T) {
		var last protocol.Telemetry
		for i := 0; i < 2; i++ {
			m := c.next(protocol.TypeTelemetry)
			if m.Device != device {
				t.Fatalf("telemetry of %q", m.Device)
			}
			json.Unmarshal(m.Data, &last)
			if _, err := time.Parse(time.RFC3339Nano, m.TS); err != nil {
				t.Fatalf("ts %q: %v", m.TS, err)
			}
		}
		if last.CPUPercent < 0 || last.CPUPercent > 100 || last.MemPercent <= 0 || last.MemPercent > 100 || len(last.CPUPerCore) == 0 {
			t.Fatalf("implausible telemetry %+v", last)
		}
	})

	t.Run("beep is played", func(t *testing.T) {
		res := c.command(device, "beep", map[string]int{"frequency_hz": 440, "duration_ms": 300})
		switch code(res) {
		case "ok":
			raw := filepath.Join(home, "speaker.raw")
			waitFor(t, "audio written", func() bool { fi, err := os.Stat(raw); return err == nil && fi.Size() > 0 })
			hz, secs := tone(t, raw)
			t.Logf("beep heard: %.1f Hz for %.3f s", hz, secs)
			if math.Abs(hz-440)/440 > 0.03 {
				t.Errorf("tone %.1f Hz, want 440 Hz ±3%%", hz)
			}
			if math.Abs(secs-0.3)/0.3 > 0.05 {
				t.Errorf("tone lasts %.3f s, want 0.300 s ±5%%", secs)
			}
		case protocol.CodeUnavailable:
			t.Logf("no sound device here: %s", res.Error.Message)
			if res.Error.Message == "" {
				t.Errorf("unavailable without a reason")
			}
		default:
			t.Fatalf("beep: %s %+v", code(res), res.Error)
		}
		if got := code(c.command(device, "beep", map[string]int{"frequency_hz": 99})); got != protocol.CodeInvalidArgs {
			t.Errorf("beep at 99 Hz: %s, want invalid_args", got)
		}
	})

	t.Run("switched off", func(t *testing.T) {
		if got := code(c.command(device, "screenshot", nil)); got != protocol.CodeNotAllowed {
			t.Fatalf("screenshot: %s, want not_allowed", got)
		}
		if _, err := agent.cli("deny", "beep"); err != nil {
			t.Fatal(err)
		}
		c.presence(device, func(p protocol.Presence) bool { return p.Online && !contains(p.Capabilities, "beep") })
		if got := code(c.command(device, "beep", nil)); got != protocol.CodeNotAllowed {
			t.Fatalf("beep after deny: %s, want not_allowed", got)
		}
		if _, err := agent.cli("allow", "beep"); err != nil {
			t.Fatal(err)
		}
		c.presence(device, func(p protocol.Presence) bool { return contains(p.Capabilities, "beep") })
	})

	t.Run("offline device answered at once", func(t *testing.T) {
		// A second desktop that registered and paired but is not running.
		otherDir := filepath.Join(dir, "other")
		other := &agentProc{proc: &proc{t: t}, configDir: otherDir, env: env, relayURL: relay.url}
		_, otherDevice := pair(t, relay.url, other.pairingCode(), session)
		c.presence(otherDevice, func(p protocol.Presence) bool { return !p.Online })
		start := time.Now()
		if got := code(c.command(otherDevice, "beep", nil)); got != protocol.CodeDeviceOffline {
			t.Fatalf("offline: %s", got)
		}
		t.Logf("device_offline answered in %v", time.Since(start))
	})

	t.Run("not paired", func(t *testing.T) {
		// A stranger: paired with another desktop only.
		strangerDir := filepath.Join(dir, "stranger")
		stranger := &agentProc{proc: &proc{t: t}, configDir: strangerDir, env: env, relayURL: relay.url}
		strangerSession, _ := pair(t, relay.url, stranger.pairingCode(), "")
		sc := dialClient(t, relay.url, strangerSession)
		if got := code(sc.command(device, "beep", nil)); got != protocol.CodeNotPaired {
			t.Fatalf("stranger's command: %s, want not_paired", got)
		}
		// It sees nothing of the device for a few telemetry periods.
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			m, err := sc.nextWithin(time.Until(deadline), protocol.TypeTelemetry, protocol.TypePresence, protocol.TypeEvent)
			if err != nil {
				break
			}
			if m.Device == device {
				t.Fatalf("stranger saw %s of the device", m.Type)
			}
		}
		var list []map[string]any
		getJSON(t, relay.url+"/api/v1/devices", strangerSession, &list)
		for _, d := range list {
			if d["device_id"] == device {
				t.Fatalf("stranger lists the device")
			}
		}
	})

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run("relay restarted after "+sig.String(), func(t *testing.T) {
			relay.stop(sig)
			relay = startRelay(t, addr, relay.data)
			start := time.Now()
			c = dialClient(t, relay.url, session) // the pairing survived
			c.presence(device, func(p protocol.Presence) bool { return p.Online })
			t.Logf("agent back online %v after the relay restarted", time.Since(start).Round(time.Millisecond))
			if got := code(c.command(device, "beep", map[string]int{"duration_ms": 20})); got != "ok" && got != protocol.CodeUnavailable {
				t.Fatalf("beep after restart: %s", got)
			}
		})
	}
}

func getJSON(t testing.TB, url, bearer string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	json.NewDecoder(resp.Body).Decode(out)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// containsToken reports whether b holds anything shaped like a device or session token.
func containsToken(b []byte) bool {
	for _, p := range []string{"tdt_", "tst_"} {
		for i := 0; i+len(p)+20 <= len(b); i++ {
			if string(b[i:i+len(p)]) == p {
				return true
			}
		}
	}
	return false
}

// tone reads raw audio (signed 16-bit little-endian stereo at 44.1 kHz, as the
// agent's speaker writes it) and returns the frequency of the first tone in it
// by zero crossings, and that tone's length in seconds. ALSA's null device
// takes audio faster than real time, so the file may hold many megabytes of
// silence around the tone: it is read as a stream, and reading stops once a
// second of silence follows the tone.
func tone(t testing.TB, path string) (hz, secs float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const rate, frame, loud = 44100, 4, 300
	r := bufio.NewReaderSize(f, 1<<20)
	var buf [frame]byte
	first, last, crossings, atLast := -1, -1, 0, 0
	var prev int16
	for i := 0; ; i++ {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			break
		}
		v := int16(binary.LittleEndian.Uint16(buf[:]))
		if first >= 0 && (prev < 0) != (v < 0) {
			crossings++
		}
		if v > loud || v < -loud {
			if first < 0 {
				first = i
			}
			last, atLast = i, crossings
		}
		prev = v
		if last >= 0 && i-last > rate {
			break
		}
	}
	if first < 0 {
		t.Fatalf("the audio file holds only silence")
	}
	secs = float64(last-first) / rate
	return float64(atLast) / 2 / secs, secs
}
