package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tether-desktop/tether/internal/relaytest"
	"github.com/tether-desktop/tether/relay/server"
)

// getQR fetches /pair/qr.svg?code=code from relay and returns its status,
// Content-Type and body.
func getQR(t *testing.T, relay, code string) (int, string, string) {
	t.Helper()
	res, err := http.Get(relay + "/pair/qr.svg?code=" + url.QueryEscape(code))
	if err != nil {
		t.Fatalf("GET qr.svg: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read qr.svg: %v", err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

// TestPairQRCodes checks GET /pair/qr.svg on the real relay: it accepts
// exactly the codes the relay's own NormalizeCode accepts (so the page's
// alphabet cannot drift from the server's), draws the same image for a code
// however it was typed, and answers anything else with 400 bad_request.
func TestPairQRCodes(t *testing.T) {
	relay := relaytest.Start(t)
	svgShape := regexp.MustCompile(`^<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 (\d+) (\d+)" [^>]*><rect [^>]*/><path fill="#000" d="(M\d+ \d+h1v1h-1z)+"/></svg>$`)
	canonical := server.NewPairingCode()
	_, _, want := getQR(t, relay, canonical)
	cases := []string{canonical, strings.ToLower(canonical), " " + strings.ReplaceAll(canonical, "-", " ") + " ",
		"", "ABCD", "ABCD-23456", "ABCD-234", "ABCD-2340", "ABCO-2345", "ABCI-2345", "ABC1-2345", "ÄBCD-2345", "ABCD-2345\x00",
		"http://evil.example/", strings.Repeat("A", 10000)}
	for _, c := range server.CodeAlphabet {
		cases = append(cases, strings.Repeat(string(c), 8))
	}
	for _, code := range cases {
		norm, ok := server.NormalizeCode(code)
		status, ctype, body := getQR(t, relay, code)
		if !ok {
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			if status != 400 || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != "bad_request" {
				t.Errorf("code %.40q: %d %s, want 400 bad_request", code, status, body)
			}
			continue
		}
		m := svgShape.FindStringSubmatch(body)
		if status != 200 || ctype != "image/svg+xml" || m == nil || m[1] != m[2] {
			t.Errorf("code %q: %d %s %.200s, want 200 and a square SVG of modules", code, status, ctype, body)
			continue
		}
		if norm == canonical && body != want {
			t.Errorf("code %q draws another image than %q", code, canonical)
		}
	}
}
