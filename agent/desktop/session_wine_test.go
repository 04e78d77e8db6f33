//go:build linux

package desktop

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/internal/desktoptest"
	"github.com/tether-desktop/tether/internal/winetest"
	"github.com/tether-desktop/tether/protocol"
)

// winAnswer is what testdata/winsession prints.
type winAnswer struct {
	Volume      []commands.VolumeState
	Text        string
	Truncated   bool
	Method      string
	Keys        []string
	Unavailable map[string]string
	Error       *protocol.Error
}

// winSession runs testdata/winsession in one Wine prefix.
type winSession struct {
	t       *testing.T
	w       *winetest.Wine
	exe     string
	display string
}

// start starts exe (winsession when "") with args and env added, its
// stdout and stderr going to files (Wine's own processes started on the
// way inherit them and outlive it, so pipes would not end), and stdin from
// stdin (may be nil).
func (s *winSession) start(ctx context.Context, env []string, stdin *os.File, exe string, args ...string) (cmd *exec.Cmd, stdout, stderr string) {
	s.t.Helper()
	if exe == "" {
		exe = s.exe
	}
	dir := s.t.TempDir()
	stdout, stderr = filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr")
	out, err := os.Create(stdout)
	if err != nil {
		s.t.Fatal(err)
	}
	errf, err := os.Create(stderr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { out.Close(); errf.Close() })
	cmd = s.w.Command(ctx, exe, args...)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = out, errf
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	return cmd, stdout, stderr
}

// runExe runs exe with args and env added, and returns what it printed.
func (s *winSession) runExe(env []string, exe string, args ...string) (stdout, stderr string, err error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard
	defer cancel()
	cmd, outPath, errPath := s.start(ctx, env, nil, exe, args...)
	err = cmd.Wait()
	out, _ := os.ReadFile(outPath)
	errOut, _ := os.ReadFile(errPath)
	return string(out), string(errOut), err
}

// run runs winsession with args and env added and returns its answer.
func (s *winSession) run(env []string, args ...string) winAnswer {
	s.t.Helper()
	out, errOut, err := s.runExe(env, "", args...)
	var a winAnswer
	if jerr := json.Unmarshal([]byte(out), &a); err != nil || jerr != nil {
		s.t.Fatalf("winsession %v: %v %v\nstdout: %s\nstderr: %s", args, err, jerr, out, errOut)
	}
	return a
}

// wantErr fails unless a answered an error of code whose message holds
// every one of parts.
func wantErr(t *testing.T, what string, a winAnswer, code string, parts ...string) {
	t.Helper()
	if a.Error == nil || a.Error.Code != code {
		t.Fatalf("%s: %+v, want a %s error", what, a, code)
	}
	for _, p := range parts {
		if !strings.Contains(a.Error.Message, p) {
			t.Errorf("%s: %q does not say %q", what, a.Error.Message, p)
		}
	}
}

// TestSessionOnWindows runs the Windows build of the session commands
// (testdata/winsession, built with mingw's Go cross-build) under Wine, on
// an X server of its own: Core Audio's endpoint volume with no sound device
// and with an ALSA null device, the clipboard against X11 programs (xclip)
// and against another Windows program holding it open, the active window's
// title (Notepad), the media keys as a low-level keyboard hook sees them,
// and what Unavailable reports.
func TestSessionOnWindows(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a Wine prefix")
	}
	desktoptest.Need(t, "xclip")
	t.Cleanup(winetest.Cleanup)
	display := desktoptest.Xvfb(t, "640x480x24")
	s := &winSession{t: t, w: winetest.New(t, display), display: display}
	s.exe = winetest.BuildNoCgo(t, "./testdata/winsession")

	// Notepad keeps the prefix's wineserver (and the clipboard it holds)
	// alive between the runs, and is the window whose title is read.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	notepad := s.w.Command(ctx, "notepad")
	if err := notepad.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); notepad.Wait() })

	dir := t.TempDir()
	noSound := filepath.Join(dir, "none.conf")
	nullSound := filepath.Join(dir, "null.conf")
	os.WriteFile(noSound, nil, 0o644)
	os.WriteFile(nullSound, []byte(fmt.Sprintf(`pcm.!default { type file; slave.pcm "null"; file %q; format "raw" }
pcm.null { type null }
`, filepath.Join(dir, "out.raw"))), 0o644)
	// No PulseAudio: Wine's winepulse finds no server and winealsa is used.
	silent := []string{"ALSA_CONFIG_PATH=" + noSound, "PULSE_SERVER=unix:" + filepath.Join(dir, "no-pulse")}
	sound := []string{"ALSA_CONFIG_PATH=" + nullSound, "PULSE_SERVER=unix:" + filepath.Join(dir, "no-pulse")}

	t.Run("volume without a sound device", func(t *testing.T) {
		a := s.run(silent, "volume", "-", "-")
		wantErr(t, "Volume", a, protocol.CodeUnavailable, "no sound output device")
		if why := a.Unavailable[protocol.CommandVolume]; !strings.Contains(why, "no sound output device") {
			t.Errorf("Unavailable()[volume] = %q", why)
		}
		// Wine reports no sleep state; Windows would name the ones it has.
		if why := a.Unavailable[protocol.CommandSleep]; !strings.Contains(why, "IsPwrSuspendAllowed") {
			t.Errorf("Unavailable()[sleep] = %q", why)
		}
	})

	t.Run("volume through Core Audio", func(t *testing.T) {
		a := s.run(sound, "volume", "-", "-")
		if a.Error != nil || len(a.Volume) != 1 || a.Volume[0] != (commands.VolumeState{Level: 100, Method: "Core Audio"}) {
			t.Fatalf("read: %+v", a)
		}
		if why, ok := a.Unavailable[protocol.CommandVolume]; ok {
			t.Errorf("Unavailable()[volume] = %q with an output device", why)
		}
		// Wine keeps mute in the process (a new process reads it unmuted
		// again); Windows keeps it in the device.
		if a = s.run(sound, "volume", "-", "on"); a.Error != nil || !a.Volume[0].Muted || a.Volume[0].Level != 100 {
			t.Fatalf("mute: %+v", a)
		}
		if a = s.run(sound, "volume", "-", "off"); a.Error != nil || a.Volume[0].Muted {
			t.Fatalf("unmute: %+v", a)
		}
		// Wine 8 does not implement SetMasterVolumeLevelScalar: the answer
		// must say so plainly. Where it is implemented, the level must stick.
		a = s.run(sound, "volume", "37", "-")
		if a.Error != nil {
			wantErr(t, "set 37", a, protocol.CodeUnavailable, "SetMasterVolumeLevelScalar is not implemented (E_NOTIMPL)")
			t.Logf("Wine: %s", a.Error.Message)
		} else if a.Volume[0].Level != 37 {
			t.Fatalf("set 37: %+v", a)
		}
	})

	t.Run("COM calls: float arguments, one lasting thread, failures answered", func(t *testing.T) {
		// This package's Windows tests, built as a Windows program, run
		// TestEndpointVolumeFloatArgs against Wine's Core Audio, and the
		// COM thread's tests (com_windows_test.go) under Wine.
		exe := filepath.Join(t.TempDir(), "desktop.test.exe")
		build := exec.Command("go", "test", "-c", "-o", exe, ".")
		build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go test -c for windows: %v\n%s", err, out)
		}
		out, errOut, err := s.runExe(append(sound, "TETHER_WINE_COM=1"), exe, "-test.run=^(TestEndpointVolumeFloatArgs|TestCOM.*)$", "-test.v")
		if err != nil || !strings.Contains(out, "--- PASS: TestEndpointVolumeFloatArgs") || !strings.Contains(out, "--- PASS: TestCOMThreadOutlivesCalls") {
			t.Fatalf("under Wine: %v\n%s\n%s", err, out, errOut)
		}
		t.Logf("under Wine: %s", strings.TrimSpace(out))
	})

	xclip := func(args ...string) *exec.Cmd {
		cmd := exec.Command("xclip", append([]string{"-selection", "clipboard"}, args...)...)
		cmd.Env = append(os.Environ(), "DISPLAY="+display)
		return cmd
	}
	setText := func(text, timeoutMS string) winAnswer {
		return s.run(nil, "clip-set", hex.EncodeToString([]byte(text)), timeoutMS)
	}

	t.Run("clipboard with X11 programs", func(t *testing.T) {
		text := "héllo ; $(rm -rf ~) ✓ 😀\nline 2"
		if a := setText(text, "10000"); a.Error != nil {
			t.Fatalf("set: %+v", a.Error)
		}
		if out, err := xclip("-o", "-t", "UTF8_STRING").Output(); err != nil || string(out) != text {
			t.Errorf("xclip read %q (%v), want %q", out, err, text)
		}
		if a := s.run(nil, "clip-get", "10000"); a.Error != nil || a.Text != text || a.Truncated {
			t.Errorf("read back in another process: %+v", a)
		}
		// xclip takes the clipboard; the Windows side reads its text, and
		// more than MaxClipboardGet bytes of it is cut on a rune boundary.
		long := strings.Repeat("x", commands.MaxClipboardGet-1) + "ß and more"
		xc := xclip("-quiet", "-i")
		xc.Stdin = strings.NewReader(long)
		if err := xc.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { xc.Process.Kill(); xc.Wait() }()
		var a winAnswer
		waitUntil(t, "xclip's text on the Windows clipboard", func() bool {
			a = s.run(nil, "clip-get", "10000")
			return a.Error == nil && a.Text != text
		})
		if want := strings.Repeat("x", commands.MaxClipboardGet-1); a.Text != want || !a.Truncated {
			t.Errorf("long text: %d bytes, truncated %v; want %d bytes, truncated", len(a.Text), a.Truncated, len(want))
		}
	})

	t.Run("clipboard held by another program", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		holder, holderOut, _ := s.start(ctx, nil, r, "", "hold")
		r.Close()
		defer holder.Wait()
		waitUntil(t, "the holder has the clipboard open", func() bool {
			b, _ := os.ReadFile(holderOut)
			return strings.Contains(string(b), "held")
		})
		// With a short deadline the answer says who holds it.
		a := setText("first", "1500")
		wantErr(t, "set while held", a, protocol.CodeUnavailable, "the clipboard stays open in another program (process ")

		// With a long one it retries until the holder lets go.
		setter, setOut, setErr := s.start(ctx, nil, nil, "", "clip-set", hex.EncodeToString([]byte("second")), "60000")
		waitUntil(t, "the setter retries", func() bool {
			b, _ := os.ReadFile(setErr)
			return strings.Contains(string(b), "clipboard busy, retrying")
		})
		fmt.Fprintln(w, "release")
		if err := setter.Wait(); err != nil {
			t.Fatal(err)
		}
		out, _ := os.ReadFile(setOut)
		errOut, _ := os.ReadFile(setErr)
		if strings.TrimSpace(string(out)) != "{}" || !strings.Contains(string(errOut), "clipboard opened after retries") {
			t.Fatalf("set after release: %s\n%s", out, errOut)
		}
		if a := s.run(nil, "clip-get", "10000"); a.Error != nil || a.Text != "second" {
			t.Errorf("read back: %+v", a)
		}
	})

	t.Run("active window", func(t *testing.T) {
		var a winAnswer
		waitUntil(t, "Notepad in front", func() bool {
			a = s.run(nil, "window")
			return a.Error == nil && a.Text == "Untitled - Notepad"
		})
	})

	t.Run("media keys", func(t *testing.T) {
		for action, vk := range map[string]string{commands.MediaNext: "B0", commands.MediaPrevious: "B1", commands.MediaPlayPause: "B3"} {
			a := s.run(nil, "media", action)
			if want := []string{"down " + vk, "up " + vk}; a.Error != nil || a.Method != "media key" || !slices.Equal(a.Keys, want) {
				t.Errorf("%s: %+v, want keys %v", action, a, want)
			}
		}
	})
}
