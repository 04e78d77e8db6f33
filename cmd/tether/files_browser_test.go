//go:build unix

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tether-desktop/tether/internal/browsertest"
)

// pageEval runs a JavaScript expression in the page.
func pageEval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// pageWait polls a JavaScript condition; only a hang makes it fail, and
// then it shows what the page says.
func pageWait(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(2 * hangGuard)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("waiting for %s: %v; the page says:\n%s", what, err, page)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeJPEG writes a w×h photo-like JPEG (a gradient with a disc) to path.
func writeJPEG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 160, 255}
			if dx, dy := x-w/2, y-h/2; dx*dx+dy*dy < (h/4)*(h/4) {
				c = color.RGBA{250, 200, 40, 255}
			}
			img.Set(x, y, c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// row is a JavaScript expression for the send list's row of file name.
func row(name string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#send-list .send-item')].find((li) => li.dataset.name === %q)`, name)
}

// TestBrowserSendsFiles drives the control page in Chromium to send a
// real 30 MB file and a JPEG at once through the real relay to the real
// agent, checks what lands in Downloads/Tether byte for byte, has a file
// refused for a bad hash, kills the agent mid-transfer, and takes the
// phone-sized picture of sending a photo.
func TestBrowserSendsFiles(t *testing.T) {
	s := startFiles(t)
	browsertest.Require(t)
	top := t // owns the agent started again in a subtest
	files := t.TempDir()
	big := filepath.Join(files, "video.bin")
	os.WriteFile(big, randomBytes(t, 30<<20), 0o644)
	photo := filepath.Join(files, "IMG_0001.jpg")
	writeJPEG(t, photo, 1600, 1200)

	ctx := browsertest.Start(t, browsertest.Options{Width: 1280, Height: 900, HangGuard: 5 * time.Minute})
	code := s.agent.pairingCode()
	if err := chromedp.Do(ctx, chromedp.Navigate(s.relay.url+"/pair?code="+code), chromedp.WaitVisible(`#pair-code`),
		chromedp.Click(`#pair-submit`), chromedp.WaitVisible(`#devices [data-online="true"]`)); err != nil {
		t.Fatal(err)
	}
	pageWait(t, ctx, "the send card, enabled", `!document.getElementById('send-card').hidden && document.getElementById('send-card').dataset.enabled === 'true'`)
	if pageEval[bool](t, ctx, `!!document.getElementById('cmd-receive_files')`) {
		t.Error("receive_files also shows as a command form")
	}
	if got := pageEval[string](t, ctx, `document.getElementById('send-limit').textContent`); !strings.Contains(got, "100 MiB") {
		t.Errorf("limit shown as %q, want 100 MiB", got)
	}

	t.Run("the page's SHA-256 is Go's", func(t *testing.T) {
		sums := pageEval[[]string](t, ctx, `(async () => {
			const { Sha256 } = await import('/static/sha256.js');
			const out = [];
			for (const n of [0, 1, 3, 55, 56, 63, 64, 65, 127, 128, 1000, 49152, 100003]) {
				const b = new Uint8Array(n);
				for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255;
				const h = new Sha256();
				for (let i = 0, k = 1; i < n; i += k, k = k * 3 % 997 + 1) h.update(b.subarray(i, Math.min(n, i + k)));
				out.push(h.hex());
			}
			return out;
		})()`)
		for i, n := range []int{0, 1, 3, 55, 56, 63, 64, 65, 127, 128, 1000, 49152, 100003} {
			b := make([]byte, n)
			for j := range b {
				b[j] = byte((j*31 + 7) & 255)
			}
			if want := hexSum(b); i >= len(sums) || sums[i] != want {
				t.Errorf("%d bytes: page says %v, Go says %s", n, sums, want)
			}
		}
	})

	t.Run("a 30 MB file and a JPEG at once", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.SetUploadFiles(`#send-files`, []string{big, photo})); err != nil {
			t.Fatal(err)
		}
		pageWait(t, ctx, "both files sent", row("video.bin")+`?.dataset.state === 'done' && `+row("IMG_0001.jpg")+`?.dataset.state === 'done'`)
		for name, src := range map[string]string{"video.bin": big, "IMG_0001.jpg": photo} {
			saved := pageEval[string](t, ctx, row(name)+`.dataset.savedAs`)
			if saved != name {
				t.Errorf("%s saved as %q", name, saved)
			}
			if got, want := fileSum(t, filepath.Join(s.inbox, saved)), fileSum(t, src); got != want {
				t.Errorf("%s on disk has SHA-256 %s, sent %s", name, got, want)
			}
			status := pageEval[string](t, ctx, row(name)+`.querySelector('.send-status').textContent`)
			if !strings.Contains(status, "Saved as “"+name+"” in Downloads here/Tether") {
				t.Errorf("%s: page says %q", name, status)
			}
		}
		if !pageEval[bool](t, ctx, row("IMG_0001.jpg")+`.querySelector('.send-thumb img')?.naturalWidth > 0`) {
			t.Error("the photo has no thumbnail")
		}
		ms := pageEval[float64](t, ctx, `Number(`+row("video.bin")+`.dataset.ms)`)
		t.Logf("30 MB sent by the page in %.0f ms (%.1f MB/s, with the JPEG at the same time)", ms, 30*1.048576e3/ms)
		noPart(t, s.inbox)
	})

	t.Run("dropped and pasted", func(t *testing.T) {
		for _, ev := range []string{
			`(() => { const dt = new DataTransfer(); dt.items.add(new File(['dropped bytes'], 'dropped.txt', {type: 'text/plain'}));
				const card = document.getElementById('send-card');
				card.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
				return card.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true})) === false; })()`,
			`(() => { const dt = new DataTransfer(); dt.items.add(new File(['pasted bytes'], 'pasted.txt', {type: 'text/plain'}));
				return document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true})) === false; })()`,
		} {
			if !pageEval[bool](t, ctx, ev) {
				t.Fatalf("the page did not take the event: %s", ev)
			}
		}
		pageWait(t, ctx, "both sent", row("dropped.txt")+`?.dataset.state === 'done' && `+row("pasted.txt")+`?.dataset.state === 'done'`)
		for name, want := range map[string]string{"dropped.txt": "dropped bytes", "pasted.txt": "pasted bytes"} {
			if b, err := os.ReadFile(filepath.Join(s.inbox, name)); err != nil || string(b) != want {
				t.Errorf("%s on disk: %q, %v", name, b, err)
			}
		}
	})

	t.Run("a bad hash is refused", func(t *testing.T) {
		pageEval[bool](t, ctx, `import('/static/sha256.js').then((m) => { window.realHex = m.Sha256.prototype.hex; m.Sha256.prototype.hex = () => '0'.repeat(64); return true; })`)
		defer pageEval[bool](t, ctx, `import('/static/sha256.js').then((m) => { m.Sha256.prototype.hex = window.realHex; return true; })`)
		if err := chromedp.Do(ctx, chromedp.SetUploadFiles(`#send-files`, []string{photo})); err != nil {
			t.Fatal(err)
		}
		pageWait(t, ctx, "the refusal", `[...document.querySelectorAll('#send-list .send-item')].some((li) => li.dataset.state === 'failed' && li.textContent.includes('arrived damaged'))`)
		if _, err := os.Stat(filepath.Join(s.inbox, "IMG_0001 (2).jpg")); err == nil {
			t.Error("a file with a bad hash was saved")
		}
		noPart(t, s.inbox)
	})

	huge := filepath.Join(files, "huge.bin")
	os.WriteFile(huge, randomBytes(t, 99<<20), 0o644)
	underWay := row("huge.bin") + `?.dataset.state === 'sending' && /\/s · .+ left$/.test(` + row("huge.bin") + `.querySelector('.send-status').textContent)`

	t.Run("cancelled midway", func(t *testing.T) {
		// The agent runs slowly (slowDown), so the 99 MB file is still on
		// its way when the page is seen sending, however fast or loaded
		// the machine. The agent is then held stopped while the cancel is
		// clicked: the page can send at most one window (8 chunks) past
		// the last acknowledgement, so its file_end cannot go out first.
		slow := slowDown(s.agent.cmd.Process)
		defer slow.resume()
		if err := chromedp.Do(ctx, chromedp.SetUploadFiles(`#send-files`, []string{huge})); err != nil {
			t.Fatal(err)
		}
		pageWait(t, ctx, "the transfer under way, with its speed and time left", underWay)
		slow.hold()
		// Read the state and click in one task of the page, so nothing
		// moves between them.
		was := pageEval[string](t, ctx, `(() => { const li = `+row("huge.bin")+`; const was = li.dataset.state; if (was === 'sending') li.querySelector('.send-cancel').click(); return was; })()`)
		slow.resume()
		if was != "sending" {
			t.Skipf("the page had the transfer %q, no longer sending, when the cancel was to be clicked: a machine slower than this test assumes", was)
		}
		pageWait(t, ctx, "the page says it is cancelled", row("huge.bin")+`.dataset.state === 'failed' && `+row("huge.bin")+`.textContent.includes('Cancelled')`)
		noPart(t, s.inbox)
		if _, err := os.Stat(filepath.Join(s.inbox, "huge.bin")); err == nil {
			t.Error("a cancelled file was saved")
		}
		pageEval[bool](t, ctx, `(`+row("huge.bin")+`.remove(), true)`)
	})

	t.Run("the agent killed mid-transfer", func(t *testing.T) {
		// Slowed down (see above), the agent cannot finish 99 MB before
		// its part file is seen; it is held stopped, then killed.
		slow := slowDown(s.agent.cmd.Process)
		defer slow.resume()
		if err := chromedp.Do(ctx, chromedp.SetUploadFiles(`#send-files`, []string{huge})); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the part file", func() bool {
			for _, n := range inboxNames(t, s.inbox) {
				if strings.HasSuffix(n, ".part") {
					return true
				}
			}
			return false
		})
		slow.hold()
		// Stopped, the agent can no longer finish the file: it renames
		// the part file before it answers, so a huge.bin not in the
		// folder now never will be.
		if _, err := os.Stat(filepath.Join(s.inbox, "huge.bin")); err == nil {
			t.Skip("the transfer finished before the agent could be stopped: a machine faster than this test assumes")
		}
		s.agent.stop(syscall.SIGKILL)
		pageWait(t, ctx, "the page says the computer went away", row("huge.bin")+`.dataset.state === 'failed' && `+row("huge.bin")+`.textContent.includes('went offline')`)
		s.agent = startAgent(top, s.relay.url, s.agent.configDir, s.agent.env)
		s.socket(t) // online again, after it cleaned its inbox
		pageWait(t, ctx, "the page sees it back", `document.getElementById('send-card').dataset.enabled === 'true'`)
		noPart(t, s.inbox)
		if _, err := os.Stat(filepath.Join(s.inbox, "huge.bin")); err == nil {
			t.Error("a file cut short was saved")
		}
	})

	t.Run("switched off, the card says why", func(t *testing.T) {
		if _, err := s.agent.cli("deny", "receive_files"); err != nil {
			t.Fatal(err)
		}
		pageWait(t, ctx, "the card disabled, saying why", `document.getElementById('send-card').dataset.enabled === 'false' && document.getElementById('send-files').disabled && document.getElementById('send-why').textContent.includes('tether allow receive_files')`)
		if _, err := s.agent.cli("allow", "receive_files"); err != nil {
			t.Fatal(err)
		}
		pageWait(t, ctx, "the card enabled again", `document.getElementById('send-card').dataset.enabled === 'true'`)
	})

	t.Run("on a phone", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch),
			chromedp.Navigate(s.relay.url+"/")); err != nil {
			t.Fatal(err)
		}
		pageWait(t, ctx, "the send card, enabled", `document.getElementById('send-card').dataset.enabled === 'true'`)
		if !pageEval[bool](t, ctx, `!document.getElementById('send-camera-label').hidden && document.getElementById('send-drop-hint').hidden`) {
			t.Error("a phone is not offered the camera")
		}
		cam := pageEval[string](t, ctx, `(() => { const i = document.getElementById('send-camera'); return i.accept + ' ' + i.getAttribute('capture') + ' ' + i.multiple; })()`)
		if cam != "image/* environment true" {
			t.Errorf("camera input: %q", cam)
		}
		if err := chromedp.Do(ctx, chromedp.SetUploadFiles(`#send-camera`, []string{photo})); err != nil {
			t.Fatal(err)
		}
		pageWait(t, ctx, "the photo sent", row("IMG_0001.jpg")+`?.dataset.state === 'done' && !!`+row("IMG_0001.jpg")+`.querySelector('.send-thumb img')`)
		saved := pageEval[string](t, ctx, row("IMG_0001.jpg")+`.dataset.savedAs`)
		if got, want := fileSum(t, filepath.Join(s.inbox, saved)), fileSum(t, photo); got != want || saved != "IMG_0001 (2).jpg" {
			t.Errorf("the phone's photo saved as %q with SHA-256 %s, want IMG_0001 (2).jpg with %s", saved, got, want)
		}
		pageEval[bool](t, ctx, `(document.getElementById('send-card').scrollIntoView({block: 'start'}), window.scrollBy(0, -8), true)`)
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(artifactDir(t), "send-photo-phone.png")
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", out)
	})
}

// slowed is a process run a fifth of the time, as on a computer far
// busier than this one; see slowDown.
type slowed struct {
	p       *os.Process
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// slowDown lets p run 20 ms in every 100 (SIGCONT, then SIGSTOP), until
// hold or resume.
func slowDown(p *os.Process) *slowed {
	s := &slowed{p: p, done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(s.stopped)
		for {
			p.Signal(syscall.SIGCONT)
			select {
			case <-s.done:
				p.Signal(syscall.SIGSTOP)
				return
			case <-time.After(20 * time.Millisecond):
			}
			p.Signal(syscall.SIGSTOP)
			select {
			case <-s.done:
				return
			case <-time.After(80 * time.Millisecond):
			}
		}
	}()
	return s
}

// hold ends the slowing down and leaves the process stopped.
func (s *slowed) hold() {
	s.once.Do(func() { close(s.done) })
	<-s.stopped
}

// resume ends the slowing down and lets the process run (a process that
// has exited is left alone).
func (s *slowed) resume() {
	s.hold()
	s.p.Signal(syscall.SIGCONT)
}
