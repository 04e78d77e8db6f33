package main

// The Windows build under Wine: the real tether.exe (cgo through mingw, the
// console and the GUI subsystem, as scripts/package builds them) against the
// real Linux relay on loopback, with Xvfb for the screen and an ALSA file
// device for the speaker. What Wine cannot prove: toasts (its powershell.exe
// is a stub), the real Explorer tray, ACLs, SmartScreen, and a GUI-subsystem
// program's output in a real console (Wine hands every program its Unix
// stdout).

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/internal/desktoptest"
	"github.com/tether-desktop/tether/internal/winetest"
	"github.com/tether-desktop/tether/protocol"
)

// wineCall bounds one tether.exe command under Wine (a cold start of a Wine
// process takes a few seconds on a busy machine).
const wineCall = time.Minute

func TestWine(t *testing.T) {
	start := time.Now()
	t.Cleanup(winetest.Cleanup)
	display := desktoptest.Xvfb(t, "1024x768x24")
	dir := t.TempDir()
	raw := filepath.Join(dir, "speaker.raw")
	alsa := filepath.Join(dir, "asound.conf")
	conf := fmt.Sprintf("pcm.!default { type file; slave.pcm { type null }; file %q; format \"raw\" }\n", raw)
	if err := os.WriteFile(alsa, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	w := winetest.New(t, display, "ALSA_CONFIG_PATH="+alsa, "TETHER_CONFIG_DIR=", "TETHER_AGENT_RELAY=", "TETHER_RELAY=")
	console := winetest.Build(t, ".", false)
	gui := winetest.Build(t, ".", true)
	t.Logf("prefix and builds ready in %v", time.Since(start).Round(time.Second))
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	cfg := filepath.Join(dir, "cfg")
	tether := func(t *testing.T, exe string, args ...string) (string, error) {
		t.Helper()
		out, errOut, err := w.Run(t, wineCall, exe, append([]string{"--config-dir", winetest.Path(cfg), "--relay", relay.url}, args...)...)
		if err != nil {
			return out, fmt.Errorf("tether %s: %v: %s", strings.Join(args, " "), err, errOut)
		}
		return out, nil
	}
	// must runs a tether command; it fails the (sub)test t that calls it.
	must := func(t *testing.T, exe string, args ...string) string {
		t.Helper()
		out, err := tether(t, exe, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	t.Run("version from both builds", func(t *testing.T) {
		for _, exe := range []string{console, gui} {
			if out := must(t, exe, "version"); !strings.Contains(out, "tether wine-test") || !strings.Contains(out, "windows/amd64") {
				t.Errorf("%s version printed %q", filepath.Base(exe), out)
			}
		}
	})

	must(t, console, "allow", "screenshot", "mouse_move", "mouse_click")
	// startAgent runs `tether run` from exe, with args (default --no-tray);
	// the channel is closed when it exits.
	startAgent := func(exe, name string, args ...string) <-chan struct{} {
		t.Helper()
		agentLog := filepath.Join(dir, name+".log")
		logf, err := os.Create(agentLog)
		if err != nil {
			t.Fatal(err)
		}
		if len(args) == 0 {
			args = []string{"run", "--no-tray"}
		}
		run := w.Command(t.Context(), exe, append([]string{"--config-dir", winetest.Path(cfg), "--relay", relay.url}, args...)...)
		run.Stdout, run.Stderr = logf, logf
		if err := run.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { run.Wait(); logf.Close(); close(exited) }()
		t.Cleanup(func() {
			run.Process.Kill()
			<-exited
			if t.Failed() {
				b, _ := os.ReadFile(agentLog)
				t.Logf("--- %s log ---\n%s", name, tail(b, 60))
			}
		})
		return exited
	}
	exitedWithin := func(t *testing.T, exited <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-exited:
		case <-time.After(hangGuard):
			t.Fatalf("the agent still runs after %s", what)
		}
	}
	stoppedCleanly := func(t *testing.T) {
		t.Helper()
		st, err := agent.ReadStatus(cfg)
		if err != nil || st.State != agent.StateStopped {
			t.Fatalf("status.json: %+v %v, want stopped", st, err)
		}
	}
	exited := startAgent(gui, "agent")

	status := func(t *testing.T) statusReport {
		t.Helper()
		var r statusReport
		out := must(t, console, "status", "--json")
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("status --json printed %q: %v", out, err)
		}
		return r
	}
	waitFor(t, "the agent connected", func() bool { return status(t).State == agent.StateConnected })

	var p struct{ Code string }
	if err := json.Unmarshal([]byte(must(t, console, "pair", "--json")), &p); err != nil || p.Code == "" {
		t.Fatalf("pair --json: %+v %v", p, err)
	}
	session, device := pair(t, relay.url, p.Code, "")
	c := dialClient(t, relay.url, session)
	pr := c.presence(device, func(p protocol.Presence) bool { return p.Online })
	if pr.OS != "windows" || pr.Screen == nil || *pr.Screen != (protocol.Screen{Width: 1024, Height: 768}) {
		t.Fatalf("presence %+v (screen %+v), want windows on a 1024×768 screen", pr, pr.Screen)
	}

	t.Run("the GUI build prints in the console it was started from", func(t *testing.T) {
		// As cmd.exe starts it: a console, but no standard handles passed.
		line := fmt.Sprintf("%q --config-dir %q --relay %s pair", winetest.Path(gui), winetest.Path(cfg), relay.url)
		screen, err := w.RunInConsole(t, wineCall, line)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(screen, "Pairing code: ") || !strings.Contains(screen, relay.url+"/pair?code=") {
			t.Fatalf("the console shows %q, want the pairing code and its link", screen)
		}
	})

	t.Run("telemetry without per-core CPU", func(t *testing.T) {
		// Wine lacks NtQuerySystemInformationEx: per-core CPU cannot be read.
		var tm protocol.Telemetry
		json.Unmarshal(c.next(protocol.TypeTelemetry).Data, &tm)
		if tm.MemTotal == 0 || tm.MemPercent <= 0 || tm.CPUPercent < 0 || tm.CPUPercent > 100 {
			t.Fatalf("telemetry %+v, want CPU and memory", tm)
		}
	})

	t.Run("beep heard", func(t *testing.T) {
		res := c.command(device, "beep", map[string]int{"frequency_hz": 440, "duration_ms": 300})
		if code(res) != "ok" {
			t.Fatalf("beep: %s %+v", code(res), res.Error)
		}
		// Wine's mixer passes the tone on in periods after the command
		// answered: wait until the whole tone is in the file.
		var hz, secs float64
		var gaps, size int
		defer func() { // what the wait saw last, when it timed out
			if t.Failed() {
				t.Logf("last read of %s: %d bytes, %.1f Hz for %.3f s (%d gaps)", raw, size, hz, secs, gaps)
			}
		}()
		waitFor(t, "the whole tone written", func() bool {
			b, err := os.ReadFile(raw)
			if err != nil {
				return false
			}
			size = len(b)
			hz, secs, gaps = soundingTone(b)
			return secs >= 0.3*0.95
		})
		t.Logf("beep heard through Wine's ALSA driver: %.1f Hz for %.3f s (%d gaps)", hz, secs, gaps)
		if math.Abs(hz-440)/440 > 0.03 || math.Abs(secs-0.3)/0.3 > 0.05 {
			t.Errorf("tone %.1f Hz for %.3f s, want 440 Hz ±3%% for 0.300 s ±5%%", hz, secs)
		}
	})

	t.Run("mouse and screenshot on the X server", func(t *testing.T) {
		if res := c.command(device, "mouse_move", map[string]int{"x": 321, "y": 123}); code(res) != "ok" {
			t.Fatalf("mouse_move: %s %+v", code(res), res.Error)
		}
		if out := desktoptest.Run(t, display, "xdotool", "getmouselocation"); !strings.HasPrefix(out, "x:321 y:123 ") {
			t.Errorf("pointer at %q, want x:321 y:123", out)
		}
		if res := c.command(device, "mouse_click", map[string]any{"x": 10, "y": 20, "button": "left"}); code(res) != "ok" {
			t.Fatalf("mouse_click: %s %+v", code(res), res.Error)
		}
		if out := desktoptest.Run(t, display, "xdotool", "getmouselocation"); !strings.HasPrefix(out, "x:10 y:20 ") {
			t.Errorf("pointer at %q after the click, want x:10 y:20", out)
		}
		res := c.command(device, "screenshot", map[string]string{"format": "png"})
		if code(res) != "ok" {
			t.Fatalf("screenshot: %s %+v", code(res), res.Error)
		}
		var shot protocol.Screenshot
		json.Unmarshal(res.Data, &shot)
		if shot.Width != 1024 || shot.Height != 768 || len(shot.Data) == 0 {
			t.Errorf("screenshot %s %d×%d, %d bytes", shot.Format, shot.Width, shot.Height, len(shot.Data))
		}
	})

	t.Run("notify says when no toast was shown", func(t *testing.T) {
		// Wine's powershell.exe is a stub that exits 0 and shows nothing.
		res := c.command(device, "notify", map[string]string{"title": "Tether", "body": "under Wine"})
		if code(res) == "ok" {
			t.Fatalf("notify answered ok, but Wine shows no toast")
		}
		t.Logf("notify: %s: %s", code(res), res.Error.Message)
	})

	t.Run("stop ends the agent cleanly", func(t *testing.T) {
		if out := must(t, console, "stop"); !strings.Contains(out, "Stopped Tether") {
			t.Fatalf("stop printed %q", out)
		}
		exitedWithin(t, exited, "tether stop")
		stoppedCleanly(t)
		if r := status(t); r.State != agent.StateStopped {
			t.Errorf("status after stop: %q", r.State)
		}
		if out := must(t, console, "stop"); !strings.Contains(out, "not running") {
			t.Errorf("second stop printed %q", out)
		}
	})

	t.Run("taskkill without /F stops the GUI build cleanly", func(t *testing.T) {
		// Windows' SIGTERM for a GUI program: WM_CLOSE to its windows.
		exited := startAgent(gui, "agent-taskkill")
		var r statusReport
		waitFor(t, "the agent connected again", func() bool { r = status(t); return r.State == agent.StateConnected && r.Agent.PID != 0 })
		if out, errOut, err := w.Run(t, wineCall, "taskkill", "/PID", fmt.Sprint(r.Agent.PID)); err != nil {
			t.Fatalf("taskkill /PID %d: %v %s %s", r.Agent.PID, err, out, errOut)
		}
		exitedWithin(t, exited, "taskkill")
		stoppedCleanly(t)
		if b, _ := os.ReadFile(filepath.Join(dir, "agent-taskkill.log")); !strings.Contains(string(b), "message=WM_CLOSE") {
			t.Errorf("the agent's log does not say WM_CLOSE stopped it:\n%s", b)
		}
	})

	t.Run("tray menu: Pause", func(t *testing.T) {
		// With no X tray manager Wine shows tray icons in its own "Wine System
		// Tray" window, and the icon's menu is a real Win32 popup menu.
		exited := startAgent(gui, "agent-tray", "run")
		waitFor(t, "the tray agent connected", func() bool { return status(t).State == agent.StateConnected })
		var tray string
		waitFor(t, "Wine's tray window", func() bool {
			out, err := xdo(display, "search", "--onlyvisible", "--name", "Wine System Tray")
			tray = strings.TrimSpace(out)
			return err == nil && tray != ""
		})
		geo := desktoptest.Run(t, display, "xdotool", "getwindowgeometry", "--shell", strings.Fields(tray)[0])
		var x, y int
		for _, l := range strings.Fields(geo) {
			fmt.Sscanf(l, "X=%d", &x)
			fmt.Sscanf(l, "Y=%d", &y)
		}
		windows := func() int {
			out, _ := xdo(display, "search", "--onlyvisible", "--name", ".*")
			return len(strings.Fields(out))
		}
		before := windows()
		desktoptest.Run(t, display, "xdotool", "mousemove", fmt.Sprint(x+10), fmt.Sprint(y+10), "click", "3")
		waitFor(t, "the tray menu opened", func() bool { return windows() > before })
		// Down walks the visible items, disabled ones included: the status
		// line, Pair a browser…, Paired browsers, Unpair all, then Pause.
		desktoptest.Run(t, display, "xdotool", "key", "Down", "Down", "Down", "Down", "Down", "Return")
		c.presence(device, func(p protocol.Presence) bool { return p.Paused })
		s, err := agent.LoadSettings(cfg)
		if err != nil || !s.Paused || s.Mouse {
			t.Fatalf("settings after clicking Pause: %+v %v, want paused and nothing else changed", s, err)
		}
		if res := c.command(device, "beep", map[string]int{"frequency_hz": 440, "duration_ms": 50}); code(res) != protocol.CodePaused {
			t.Errorf("beep while paused: %s", code(res))
		}
		must(t, console, "stop")
		exitedWithin(t, exited, "tether stop")
		s.Paused = false
		if err := agent.SaveSettings(cfg, s); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("unattended service through the service manager", func(t *testing.T) {
		if out := must(t, console, "install", "--unattended"); !strings.Contains(out, "Installed and started") {
			t.Fatalf("install --unattended printed %q", out)
		}
		waitFor(t, "the service's agent connected", func() bool { return status(t).State == agent.StateConnected })
		if out, _, err := w.Run(t, wineCall, "sc", "query", "tether-unattended"); err != nil || !strings.Contains(out, "RUNNING") {
			t.Errorf("sc query: %q %v, want RUNNING", out, err)
		}
		must(t, console, "stop", "--unattended")
		waitFor(t, "the service's agent stopped", func() bool { st, err := agent.ReadStatus(cfg); return err == nil && st.State == agent.StateStopped })
		must(t, console, "uninstall", "--unattended")
		if out, _, err := w.Run(t, wineCall, "sc", "query", "tether-unattended"); err == nil && strings.Contains(out, "tether-unattended") {
			t.Errorf("the service is still there after uninstall: %q", out)
		}
	})

	t.Run("install, start, stop, start again, uninstall", func(t *testing.T) {
		const key = `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`
		must(t, console, "install")
		out, errOut, err := w.Run(t, wineCall, "reg", "query", key, "/v", "Tether")
		if err != nil || !strings.Contains(out, "tether") || !strings.Contains(out, "run") {
			t.Fatalf("reg query after install: %v %q %q", err, out, errOut)
		}
		// A stopped agent leaves nothing that makes start think one runs.
		for i := range 2 {
			if out := must(t, console, "start"); !strings.Contains(out, "Started Tether") {
				t.Fatalf("start #%d printed %q", i+1, out)
			}
			waitFor(t, "the started agent connected", func() bool { return status(t).State == agent.StateConnected })
			if out := must(t, console, "start"); !strings.Contains(out, "already running") {
				t.Errorf("start while running printed %q", out)
			}
			if out := must(t, console, "stop"); !strings.Contains(out, "Stopped Tether") {
				t.Fatalf("stop #%d printed %q", i+1, out)
			}
			stoppedCleanly(t)
		}
		must(t, console, "uninstall")
		if out, _, err := w.Run(t, wineCall, "reg", "query", key, "/v", "Tether"); err == nil {
			t.Fatalf("the Run value is still there after uninstall: %q", out)
		}
	})
	t.Run("msi installs per user and uninstalls cleanly", func(t *testing.T) { testMSI(t, w, gui, relay.url) })
	t.Logf("the Wine test took %v", time.Since(start).Round(time.Second))
}

// soundingTone measures a tone in raw audio (44.1 kHz, S16LE, stereo) over
// the stretches where it sounds. Wine's mixer feeds ALSA in real time and,
// on a machine too busy to keep up, inserts a period of silence: such gaps
// count in neither the length nor the frequency, and are reported.
func soundingTone(raw []byte) (hz, secs float64, gaps int) {
	const rate, frame, loud, gap = 44100, 4, 300, 88 // gap: 2 ms without a loud sample
	n := len(raw) / frame
	v := make([]int16, n)
	for i := range v {
		v[i] = int16(binary.LittleEndian.Uint16(raw[i*frame:]))
	}
	// Per run of loud samples: its length, and the half periods between its
	// first and last zero crossing (exact however the run is cut).
	frames, halves, between, runs := 0, 0, 0, 0
	first, last := -1, -1 // the run being read
	closeRun := func() {
		if first < 0 {
			return
		}
		runs++
		frames += last - first
		c0, c1, c := -1, -1, 0
		for i := first + 1; i <= last; i++ {
			if (v[i-1] < 0) != (v[i] < 0) {
				if c0 < 0 {
					c0 = i
				}
				c1, c = i, c+1
			}
		}
		if c > 1 {
			halves += c - 1
			between += c1 - c0
		}
	}
	for i := range n {
		if v[i] <= loud && v[i] >= -loud {
			continue
		}
		if first >= 0 && i-last > gap {
			closeRun()
			first = -1
		}
		if first < 0 {
			first = i
		}
		last = i
	}
	closeRun()
	if frames == 0 || between == 0 {
		return 0, 0, 0
	}
	return float64(halves) / 2 / (float64(between) / rate), float64(frames) / rate, max(0, runs-1)
}

// xdo runs xdotool on display and returns its output.
func xdo(display string, args ...string) (string, error) {
	cmd := exec.Command("xdotool", args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.Output()
	return string(out), err
}

// wineMSI builds the MSI as scripts/package does, from the GUI build, the
// relay, installer/tether.wxs and the shortcut's AppUserModelID, and returns
// its path.
func wineMSI(t *testing.T, gui string) string {
	t.Helper()
	desktoptest.Need(t, "wixl", "msibuild")
	src := t.TempDir()
	relay := winetest.BuildNoCgo(t, "../tether-relay")
	for from, to := range map[string]string{gui: "tether.exe", relay: "tether-relay.exe",
		"../../README.md": "README.md", "../../assets/icons/connected.ico": "tether.ico"} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	msi := filepath.Join(t.TempDir(), "tether.msi")
	wxs, _ := filepath.Abs("../../installer/tether.wxs")
	cmd := exec.Command("wixl", "-a", "x64", "-D", "Version=0.0.1", "-D", "SourceDir=.", "-o", msi, wxs)
	cmd.Dir = src // wixl takes files relative to the working directory only
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wixl: %v\n%s", err, out)
	}
	if out, err := exec.Command("msibuild", msi, "-i", "../../installer/tether-aumid.idt").CombinedOutput(); err != nil {
		t.Fatalf("msibuild: %v\n%s", err, out)
	}
	return msi
}

// testMSI installs the MSI per user, starts Tether as logon would (the Run
// value's command line), and uninstalls it: everything it added is gone.
func testMSI(t *testing.T, w *winetest.Wine, gui, relayURL string) {
	msi := wineMSI(t, gui)
	reg := func(args ...string) (string, error) {
		out, _, err := w.Run(t, wineCall, "reg", append([]string{"query"}, args...)...)
		return out, err
	}
	const run = `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`
	user := w.UserDir(t)
	home := filepath.Join(user, "AppData", "Local", "Programs", "Tether")
	added := []string{
		filepath.Join(home, "tether.exe"), filepath.Join(home, "tether-relay.exe"), filepath.Join(home, "README.md"),
		filepath.Join(user, "AppData", "Roaming", "Microsoft", "Windows", "Start Menu", "Programs", "Tether.lnk"),
	}
	arp := func() bool { // the Apps & features entry (Wine keeps it under HKLM)
		for _, root := range []string{"HKCU", "HKLM"} {
			out, _ := reg(root+`\Software\Microsoft\Windows\CurrentVersion\Uninstall`, "/s")
			if strings.Contains(out, "REG_SZ    Tether") {
				return true
			}
		}
		return false
	}

	if out, errOut, err := w.Run(t, 2*time.Minute, "msiexec", "/i", winetest.Path(msi), "/qn"); err != nil {
		t.Fatalf("msiexec /i: %v %s %s", err, out, errOut)
	}
	for _, f := range added {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	value, err := reg(run, "/v", "Tether")
	want := `C:\users\` + filepath.Base(user) + `\AppData\Local\Programs\Tether\tether.exe" run`
	if err != nil || !strings.Contains(value, want) {
		t.Fatalf("Run value %q (%v), want %s", value, err, want)
	}
	if !arp() {
		t.Error("no Apps & features entry after install")
	}

	// Logon: the Run value's command, with the relay in the user's config.json.
	cfg := filepath.Join(user, "AppData", "Roaming", "tether")
	os.MkdirAll(cfg, 0o700)
	if err := os.WriteFile(filepath.Join(cfg, agent.SettingsFile), []byte(`{"relay":"`+relayURL+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	installed := filepath.Join(home, "tether.exe")
	logon := w.Command(t.Context(), installed, "run")
	if err := logon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { logon.Wait(); close(exited) }()
	defer func() { logon.Process.Kill(); <-exited }()
	waitFor(t, "the installed agent connected", func() bool {
		out, _, _ := w.Run(t, wineCall, installed, "status", "--json")
		var r statusReport
		return json.Unmarshal([]byte(out), &r) == nil && r.State == agent.StateConnected
	})
	if out, _, err := w.Run(t, wineCall, installed, "stop"); err != nil || !strings.Contains(out, "Stopped Tether") {
		t.Fatalf("stop: %q %v", out, err)
	}

	if out, errOut, err := w.Run(t, 2*time.Minute, "msiexec", "/x", winetest.Path(msi), "/qn"); err != nil {
		t.Fatalf("msiexec /x: %v %s %s", err, out, errOut)
	}
	for _, f := range append(added, home) {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("left after uninstall: %s", f)
		}
	}
	for _, key := range []string{run + ` /v Tether`, `HKCU\Software\Tether`} {
		if out, err := reg(strings.Fields(key)...); err == nil {
			t.Errorf("left after uninstall: %s: %q", key, out)
		}
	}
	if arp() {
		t.Error("the Apps & features entry is left after uninstall")
	}
}

// TestSoundingTone checks the measurement of the Wine beep on a made-up
// tone with a 10 ms gap in the middle, as Wine's mixer leaves on a busy
// machine.
func TestSoundingTone(t *testing.T) {
	var raw []byte
	put := func(s int16) {
		raw = binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(raw, uint16(s)), uint16(s))
	}
	for range 4410 { // 100 ms of silence before
		put(0)
	}
	for i := range 44100 * 3 / 10 {
		if i == 44100*15/100 {
			for range 441 { // the gap
				put(0)
			}
		}
		put(int16(12000 * math.Sin(2*math.Pi*440*float64(i)/44100)))
	}
	hz, secs, gaps := soundingTone(raw)
	if math.Abs(hz-440) > 2 || math.Abs(secs-0.3) > 0.002 || gaps != 1 {
		t.Fatalf("soundingTone = %.1f Hz, %.4f s, %d gaps; want 440 Hz, 0.300 s, 1 gap", hz, secs, gaps)
	}
}
