package web_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tether-desktop/tether/internal/browsertest"
)

// zbarimg returns the path of zbarimg (Debian's zbar-tools), or skips the
// test when there is none; fails it when TETHER_REQUIRE_BROWSER is set, as
// scripts/setup --test installs it next to Chromium.
func zbarimg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("TETHER_REQUIRE_BROWSER") != "" {
			t.Fatal("no zbarimg on this machine (scripts/setup --test installs zbar-tools) and TETHER_REQUIRE_BROWSER is set")
		}
		t.Skip("no zbarimg on PATH (scripts/setup --test installs zbar-tools)")
	}
	return p
}

// TestPairPhoneByQROnRealRelay pairs a phone as a person would: the desktop's
// browser opens the pair link the tray opens, a screenshot of its screen is
// decoded with zbarimg as a phone camera would, the decoded URL must be
// exactly the relay's pair link, and a second browser (its own profile)
// opening it pairs with the press of one button.
func TestPairPhoneByQROnRealRelay(t *testing.T) {
	zbar := zbarimg(t)
	relay, desk := openPage(t, 1280, 900)
	a := startSimAgent(t, relay, studio(t, "beep"))
	code := a.pairingCode()
	link := relay + "/pair?code=" + code
	do(t, desk, chromedp.Navigate(link))
	waitFor(t, desk, "the QR code drawn", `(() => { const i = document.getElementById('pair-qr');
		return !document.getElementById('pair-scan').hidden && i.complete && i.naturalWidth > 0 })()`)
	got := eval[map[string]any](t, desk, `(() => { const r = document.getElementById('pair-qr').getBoundingClientRect();
		return {w: r.width, h: r.height, code: document.getElementById('pair-qr-code').textContent,
			button: document.getElementById('pair-submit').textContent} })()`)
	if got["w"].(float64) < 240 || got["h"].(float64) < 240 || got["code"] != code || got["button"] != "Pair this browser" {
		t.Fatalf("the scan block: %v, want a QR of at least 240 px, the code %s and the button Pair this browser", got, code)
	}

	shot, err := chromedp.Run(desk, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	file := filepath.Join(t.TempDir(), "pair.png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("TETHER_ARTIFACTS"); dir != "" {
		_ = os.MkdirAll(dir, 0o755)
		_ = os.WriteFile(filepath.Join(dir, "pair-qr.png"), shot, 0o644)
	}
	out, err := exec.Command(zbar, "--raw", "-q", file).Output()
	if err != nil {
		t.Fatalf("zbarimg found no QR code in the screenshot: %v", err)
	}
	if scanned := strings.TrimSpace(string(out)); scanned != link {
		t.Fatalf("the QR code says %q, want %q", scanned, link)
	}

	phone := browsertest.Start(t, browsertest.Options{Width: 390, Height: 844})
	do(t, phone, chromedp.Navigate(strings.TrimSpace(string(out))))
	waitFor(t, phone, "the code filled in", `document.getElementById('pair-code').value === `+strconv.Quote(code)+
		` && !document.getElementById('pair-submit').disabled`)
	_ = eval[bool](t, phone, `(document.getElementById('pair-submit').click(), true)`)
	waitFor(t, phone, "device online", `!!document.querySelector('#devices [data-device=`+strconv.Quote(a.id)+`][data-online="true"]')`)
	if v := eval[bool](t, phone, `document.getElementById('pair-scan').hidden`); !v {
		t.Error("the QR code is still shown after pairing")
	}
}
