//go:build cgo && linux

package desktop

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/internal/logbuf"
	"github.com/tether-desktop/tether/protocol"
)

// asoundrcFile routes ALSA's default device into a raw file: signed 16-bit
// little-endian stereo at the speaker's rate, written as fast as the speaker
// produces it (the null slave does not keep real time).
func asoundrcFile(out string) string {
	return `pcm.!default { type file; slave.pcm { type null }; file "` + out + `"; format "raw" }` + "\n"
}

// asoundrcNoCard points ALSA's default device at a sound card that does not exist.
const asoundrcNoCard = "pcm.!default { type hw; card 29 }\nctl.!default { type hw; card 29 }\n"

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBeepHeard plays 880 Hz for 300 ms into an ALSA file device and reads
// the tone back.
func TestBeepHeard(t *testing.T) {
	const hz, dur = 880, 300 * time.Millisecond
	if isChild(t.Name()) {
		d := New(nil)
		start := time.Now()
		err := d.Beep(context.Background(), hz, dur)
		t.Logf("Beep returned %v after %v", err, time.Since(start))
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	home := t.TempDir()
	raw := filepath.Join(home, "out.raw")
	writeFile(t, filepath.Join(home, ".asoundrc"), asoundrcFile(raw))
	runChild(t, t.Name(), nil, "HOME="+home)

	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatalf("the ALSA file device wrote nothing: %v", err)
	}
	left, right := frames(b)
	span := nonSilent(left)
	if span == nil {
		t.Fatalf("%d frames, all silent", len(left))
	}
	for i := range left {
		if left[i] != right[i] {
			t.Fatalf("frame %d: left %d, right %d: want the same tone on both channels", i, left[i], right[i])
		}
	}
	gotDur := time.Duration(len(span)) * time.Second / sampleRate
	gotHz := frequency(span)
	peak := 0
	for _, v := range span {
		peak = max(peak, abs(int(v)))
	}
	t.Logf("file: %d frames (%.1f s of sound at %d Hz); tone: %d frames = %v, %.2f Hz, peak %d (%.2f of full scale), first/last sample %d/%d",
		len(left), float64(len(left))/sampleRate, sampleRate, len(span), gotDur, gotHz, peak, float64(peak)/32767, span[0], span[len(span)-1])

	if math.Abs(gotHz-hz)/hz > 0.02 {
		t.Errorf("frequency %.2f Hz, want %d Hz within 2%%", gotHz, hz)
	}
	// The file device is not paced, so the stream holds exactly the tone's
	// frames: no buffer slack is needed; 5% covers the quiet fade edges.
	if diff := math.Abs(gotDur.Seconds()-dur.Seconds()) / dur.Seconds(); diff > 0.05 {
		t.Errorf("sound lasts %v, want %v within 5%%", gotDur, dur)
	}
	if want := toneAmplitude * 32767; math.Abs(float64(peak)-want)/want > 0.05 {
		t.Errorf("peak %d, want about %.0f", peak, want)
	}
	// Fades: the tone starts and ends near zero, so there is no click.
	if abs(int(span[0])) > 300 || abs(int(span[len(span)-1])) > 300 {
		t.Errorf("tone starts at %d and ends at %d: want a fade from and to silence", span[0], span[len(span)-1])
	}
}

// TestBeepNoSoundDevice checks that Beep on a machine whose default sound
// device is a card that does not exist reports unavailable at once, with the
// reason, and does not hang.
func TestBeepNoSoundDevice(t *testing.T) {
	if isChild(t.Name()) {
		d := New(nil)
		defer d.Close()
		for i := range 2 { // the second Beep tries to open the device again
			start := time.Now()
			err := d.Beep(context.Background(), 440, 100*time.Millisecond)
			took := time.Since(start)
			t.Logf("Beep %d without a card returned after %v: %v", i+1, took, err)
			var perr *protocol.Error
			if !errors.As(err, &perr) || perr.Code != protocol.CodeUnavailable || !strings.Contains(perr.Message, "no sound device") || !strings.Contains(perr.Message, "ALSA") {
				t.Fatalf("Beep = %v, want unavailable: no sound device: … ALSA …", err)
			}
			if took > openBound {
				t.Errorf("Beep took %v to fail, want well under %v", took, openBound)
			}
		}
		if why := d.Unavailable()["beep"]; !strings.Contains(why, "no sound device") || !strings.Contains(why, "ALSA") {
			t.Errorf("Unavailable()[beep] = %q, want the ALSA reason", why)
		}
		return
	}
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".asoundrc"), asoundrcNoCard)
	runChild(t, t.Name(), nil, "HOME="+home)
}

// TestSoundCheckedWithoutOpening: on a machine with no sound card, no sound
// server and no ALSA configuration of the user's, the availability check
// says so without opening ALSA's default device, which would load
// alsa-lib's configuration and its PulseAudio plugin's libraries for the
// rest of the process's life. Where ALSA is configured, the check leaves
// the verdict to the first beep, and still opens nothing.
func TestSoundCheckedWithoutOpening(t *testing.T) {
	if m, _ := filepath.Glob("/dev/snd/pcmC*D*p"); len(m) > 0 {
		t.Skip("this machine has a sound card")
	}
	if isChild(t.Name()) {
		d := New(nil)
		defer d.Close()
		why := d.Unavailable()["beep"]
		want := os.Getenv("WANT_REASON") != ""
		if want != strings.Contains(why, "no sound device") {
			t.Errorf("Unavailable()[beep] = %q, want a reason: %v", why, want)
		}
		d.sound.mu.Lock()
		tried, opening := !d.sound.tried.IsZero(), d.sound.opening != nil
		d.sound.mu.Unlock()
		if tried || opening {
			t.Errorf("the availability check opened the sound device (tried %v, opening %v)", tried, opening)
		}
		maps, _ := os.ReadFile("/proc/self/maps")
		if strings.Contains(string(maps), "libasound_module") || strings.Contains(string(maps), "libpulse") {
			t.Errorf("the availability check loaded an ALSA plugin:\n%s", maps)
		}
		return
	}
	empty := t.TempDir()
	clean := []string{"HOME=" + empty, "XDG_CONFIG_HOME=" + empty, "XDG_RUNTIME_DIR=" + empty, "ALSA_CONFIG_PATH=", "PULSE_SERVER="}
	if _, err := os.Stat("/etc/asound.conf"); err == nil {
		t.Log("/etc/asound.conf exists: only the configured case is checked")
	} else {
		t.Run("nothing", func(t *testing.T) {
			runChild(t, "TestSoundCheckedWithoutOpening", nil, append(clean, "WANT_REASON=1")...)
		})
	}
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".asoundrc"), asoundrcNoCard)
	t.Run("configured", func(t *testing.T) { runChild(t, "TestSoundCheckedWithoutOpening", nil, append(clean, "HOME="+home)...) })
}

// TestBeepRetriesWhenACardAppears checks that after a failed open the next
// Beep opens the device again and plays. ALSA reloads its top-level
// configuration files (not ~/.asoundrc) when their inode or mtime changes, so
// this child reads its configuration from ALSA_CONFIG_PATH and the "new card"
// is a new file renamed over it.
func TestBeepRetriesWhenACardAppears(t *testing.T) {
	conf := os.Getenv("ALSA_CONFIG_PATH")
	raw := filepath.Join(filepath.Dir(conf), "out.raw")
	if isChild(t.Name()) {
		d := New(nil)
		defer d.Close()
		if err := d.Beep(context.Background(), 440, 100*time.Millisecond); err == nil {
			t.Fatal("Beep without a card succeeded")
		}
		if why := d.Unavailable()["beep"]; !strings.Contains(why, "no sound device") {
			t.Fatalf("Unavailable()[beep] after a beep without a card = %q, want no sound device", why)
		}
		writeFile(t, conf+".new", asoundrcFile(raw))
		if err := os.Rename(conf+".new", conf); err != nil {
			t.Fatal(err)
		}
		if err := d.Beep(context.Background(), 440, 100*time.Millisecond); err != nil {
			t.Fatalf("Beep after the card appeared = %v, want it to open the device again and play", err)
		}
		if why := d.Unavailable()["beep"]; why != "" {
			t.Errorf("Unavailable()[beep] = %q once the card plays, want \"\"", why)
		}
		return
	}
	dir := t.TempDir()
	conf = filepath.Join(dir, "alsa.conf")
	raw = filepath.Join(dir, "out.raw")
	writeFile(t, conf, asoundrcNoCard)
	runChild(t, t.Name(), nil, "ALSA_CONFIG_PATH="+conf)
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatalf("the retried Beep wrote nothing: %v", err)
	}
	left, _ := frames(b)
	if span := nonSilent(left); len(span) < sampleRate/10*95/100 {
		t.Errorf("retried Beep wrote %d tone frames, want about %d", len(span), sampleRate/10)
	}
}

// TestBeepLogsAvailabilityOnce checks that the agent's log says once that
// the sound device is unavailable, however often it tries again, then once
// that it is available again, then once that it is gone again, each time on
// one line without a stack trace. (It used to log every failed attempt, with
// the stack trace that faiface/beep's error prints under slog's text format.)
func TestBeepLogsAvailabilityOnce(t *testing.T) {
	conf := os.Getenv("ALSA_CONFIG_PATH")
	if isChild(t.Name()) {
		var out logbuf.Buffer
		d := New(slog.New(slog.NewTextHandler(&out, nil)))
		defer d.Close()
		d.sound.idleAfter = 50 * time.Millisecond
		setCard := func(text string) {
			writeFile(t, conf+".new", text)
			if err := os.Rename(conf+".new", conf); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 3 {
			if err := d.Beep(context.Background(), 440, 20*time.Millisecond); err == nil {
				t.Fatalf("Beep %d without a card succeeded", i+1)
			}
		}
		setCard(asoundrcFile(filepath.Join(filepath.Dir(conf), "out.raw")))
		for i := range 2 {
			if err := d.Beep(context.Background(), 440, 20*time.Millisecond); err != nil {
				t.Fatalf("Beep %d with a card = %v", i+1, err)
			}
		}
		setCard(asoundrcNoCard)
		isOpen := func() bool { d.sound.mu.Lock(); defer d.sound.mu.Unlock(); return d.sound.dev != nil }
		for deadline := time.Now().Add(30 * time.Second); isOpen(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) { // hang guard only
				t.Fatal("the sound device is still open")
			}
		}
		for i := range 2 {
			if err := d.Beep(context.Background(), 440, 20*time.Millisecond); err == nil {
				t.Fatalf("Beep %d after the card went succeeded", i+1)
			}
		}
		log := out.String()
		t.Logf("the agent's log:\n%s", log)
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
			if !strings.Contains(line, "level=DEBUG") {
				got = append(got, line)
			}
		}
		want := []string{"sound device unavailable", "sound device available again", "sound device unavailable"}
		if len(got) != len(want) {
			t.Fatalf("%d lines logged, want %d, one per change: %q", len(got), len(want), want)
		}
		for i, line := range got {
			if !strings.Contains(line, "msg=\""+want[i]+"\"") {
				t.Errorf("line %d = %q, want %q", i+1, line, want[i])
			}
			if strings.Contains(line, ".go:") || strings.Contains(line, "goroutine") {
				t.Errorf("line %d holds a stack trace: %q", i+1, line)
			}
		}
		if !strings.Contains(got[0], "ALSA") {
			t.Errorf("line 1 = %q, want the ALSA reason", got[0])
		}
		return
	}
	conf = filepath.Join(t.TempDir(), "alsa.conf")
	writeFile(t, conf, asoundrcNoCard)
	runChild(t, t.Name(), nil, "ALSA_CONFIG_PATH="+conf)
}

// TestBeepAfterIdleClose checks that the device is closed when idle and
// opened again by the next Beep, three times. Under load it used to fail
// now and then ("Beep 3 = unavailable: the sound device stopped playing"):
// faiface/beep's speaker (oto v0.7.1) closed each ALSA device a second time
// from its own goroutine, after the next one had opened. The agent now
// drives ALSA itself on Linux and closes each device once.
func TestBeepAfterIdleClose(t *testing.T) {
	if isChild(t.Name()) {
		d := New(nil)
		defer d.Close()
		// Far below the product's 2 s, yet long enough for the device to
		// take the buffered end of the tone before the idle close (with
		// 20 ms a loaded machine sometimes closed it first).
		d.sound.idleAfter = 500 * time.Millisecond
		isOpen := func() bool { d.sound.mu.Lock(); defer d.sound.mu.Unlock(); return d.sound.dev != nil }
		for i := range 3 {
			if err := d.Beep(context.Background(), 440, 50*time.Millisecond); err != nil {
				t.Fatalf("Beep %d = %v", i+1, err)
			}
			for deadline := time.Now().Add(30 * time.Second); isOpen(); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) { // hang guard only
					t.Fatalf("the sound device is still open after beep %d", i+1)
				}
			}
		}
		return
	}
	home := t.TempDir()
	raw := filepath.Join(home, "out.raw")
	writeFile(t, filepath.Join(home, ".asoundrc"), asoundrcFile(raw))
	runChild(t, t.Name(), nil, "HOME="+home)
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	// The file device starts its file afresh at every open: the last beep is there.
	left, _ := frames(b)
	if span := nonSilent(left); len(span) < sampleRate/20*95/100 || len(span) > sampleRate/20*105/100 {
		t.Errorf("last beep: %d tone frames, want about %d", len(span), sampleRate/20)
	}
}

// TestBeepCancelled checks that Beep returns at once with ctx.Err() when its
// context has ended while the device opens, and that the open attempt it
// started still serves the next Beep. (Cancelling in the middle of a tone
// cannot be timed here: the file device takes a 3 s tone in milliseconds.)
func TestBeepCancelled(t *testing.T) {
	if isChild(t.Name()) {
		d := New(nil)
		defer d.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := d.Beep(ctx, 440, 3*time.Second); !errors.Is(err, context.Canceled) {
			t.Fatalf("Beep with an ended context = %v, want context.Canceled", err)
		}
		if err := d.Beep(context.Background(), 440, 50*time.Millisecond); err != nil {
			t.Fatalf("Beep after a cancelled one = %v", err)
		}
		return
	}
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".asoundrc"), asoundrcFile(filepath.Join(home, "out.raw")))
	runChild(t, t.Name(), nil, "HOME="+home)
}

// frames splits raw S16_LE stereo into its channels.
func frames(b []byte) (left, right []int16) {
	n := len(b) / 4
	left, right = make([]int16, n), make([]int16, n)
	for i := range n {
		left[i] = int16(binary.LittleEndian.Uint16(b[4*i:]))
		right[i] = int16(binary.LittleEndian.Uint16(b[4*i+2:]))
	}
	return left, right
}

// nonSilent returns the samples from the first non-zero one to the last.
func nonSilent(s []int16) []int16 {
	first, last := -1, -1
	for i, v := range s {
		if v != 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return nil
	}
	return s[first : last+1]
}

// frequency measures the frequency of a tone from its zero crossings: the
// cycles between the first and the last crossing over the time between them.
func frequency(s []int16) float64 {
	first, last, n := -1, -1, 0
	prev := 0
	for i, v := range s {
		sign := 0
		switch {
		case v > 0:
			sign = 1
		case v < 0:
			sign = -1
		}
		if sign == 0 {
			continue
		}
		if prev != 0 && sign != prev {
			n++
			if first < 0 {
				first = i
			}
			last = i
		}
		prev = sign
	}
	if n < 2 {
		return 0
	}
	return float64(n-1) / 2 / (float64(last-first) / sampleRate)
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// TestBeepIdleCycles opens and closes the device many times in quick
// succession: a beep, an idle close after a millisecond, the next beep at
// once. Every beep must play. (faiface/beep's speaker closed each device a
// second time a buffer or two after the next had opened; the beep that
// followed then never finished in about one cycle in ten.)
func TestBeepIdleCycles(t *testing.T) {
	const cycles = 40
	if isChild(t.Name()) {
		d := New(nil)
		defer d.Close()
		d.sound.idleAfter = time.Millisecond
		isOpen := func() bool { d.sound.mu.Lock(); defer d.sound.mu.Unlock(); return d.sound.dev != nil }
		for i := range cycles {
			if err := d.Beep(context.Background(), 440, 20*time.Millisecond); err != nil {
				t.Fatalf("Beep %d = %v", i+1, err)
			}
			for deadline := time.Now().Add(30 * time.Second); isOpen(); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) { // hang guard only
					t.Fatalf("the sound device is still open after beep %d", i+1)
				}
			}
		}
		return
	}
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".asoundrc"), asoundrcFile(filepath.Join(home, "out.raw")))
	runChild(t, t.Name(), nil, "HOME="+home)
}
