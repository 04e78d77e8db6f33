package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"rsc.io/qr"

	"github.com/tether-desktop/tether/protocol"
)

// qrQuiet is the margin of light modules around a QR code that scanners need.
const qrQuiet = 4

// codeAlphabet is the alphabet of pairing codes (relay/server's CodeAlphabet;
// this package cannot import the server, which imports it).
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// PairQR returns the handler of
//
//	GET /pair/qr.svg?code=ABCD-2345
//
// which draws publicURL + "/pair?code=ABCD-2345" (the link the relay hands out
// with every pairing code) as an SVG QR code with its quiet zone, for a phone
// to scan from the desktop's screen. The code is normalised as people type it
// (case, spaces, dashes); anything that cannot be a code gets 400 bad_request.
// The handler does not look the code up: the image shows only what is in its
// own URL, so it tells nobody anything.
func PairQR(publicURL string) http.Handler {
	base := strings.TrimRight(publicURL, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, ok := normalizeCode(r.URL.Query().Get("code"))
		if !ok {
			writeError(w, http.StatusBadRequest, protocol.CodeBadRequest, "code must be a pairing code such as ABCD-2345")
			return
		}
		svg, err := qrSVG(base + "/pair?code=" + url.QueryEscape(code))
		if err != nil {
			writeError(w, http.StatusInternalServerError, protocol.CodeInternal, err.Error())
			return
		}
		h := w.Header()
		h.Set("Content-Type", "image/svg+xml")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(svg)
	})
}

// normalizeCode turns what a person typed into the canonical "ABCD-2345"
// form, as relay/server's NormalizeCode does; false when it cannot be a code.
func normalizeCode(s string) (string, bool) {
	var b []byte
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r < 128 && strings.IndexByte(codeAlphabet, byte(r)) >= 0 && len(b) < 8:
			b = append(b, byte(r))
		default:
			return "", false
		}
	}
	if len(b) != 8 {
		return "", false
	}
	return string(b[:4]) + "-" + string(b[4:]), true
}

// qrSVG draws text as a QR code: one path of dark modules on a white square
// that includes the quiet zone, one user unit per module.
func qrSVG(text string) ([]byte, error) {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, fmt.Errorf("draw QR code: %w", err)
	}
	n := code.Size + 2*qrQuiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y := 0; y < code.Size; y++ {
		for x := 0; x < code.Size; x++ {
			if code.Black(x, y) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+qrQuiet, y+qrQuiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return []byte(b.String()), nil
}
