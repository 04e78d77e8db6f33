package server

import (
	"strings"
	"unicode/utf8"

	"github.com/tether-desktop/tether/protocol"
)

// unknownBrowser is the name of a pairing whose User-Agent says nothing
// usable.
const unknownBrowser = "Unknown browser"

// browserName derives a short display name from a User-Agent header:
// "Chrome on Android", "Safari on iPhone", "Firefox on Windows", or for a
// script the product token it sends ("curl", "python-requests"). The result
// is display text (protocol.IsDisplayText) of at most
// protocol.MaxBrowserNameRunes runes, whatever the header holds: a header
// is chosen by the client, so only a fixed vocabulary or a plain token of
// it ever reaches the desktop's owner.
func browserName(ua string) string {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return unknownBrowser
	}
	if b := browserOf(ua); b != "" {
		if os := osOf(ua); os != "" {
			return b + " on " + os
		}
		return b
	}
	if tok := productToken(ua); tok != "" {
		return tok
	}
	return unknownBrowser
}

// browserOf names the browser of a User-Agent, or "" when it is none that
// the relay knows. Order matters: Edge and Opera also say Chrome, Chrome
// also says Safari.
func browserOf(ua string) string {
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"},
		{"OPR/", "Opera"}, {"OPiOS/", "Opera"},
		{"SamsungBrowser/", "Samsung Internet"},
		{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"HeadlessChrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"},
	} {
		if strings.Contains(ua, b.token) {
			return b.name
		}
	}
	if strings.Contains(ua, "Safari/") && strings.Contains(ua, "Version/") {
		return "Safari"
	}
	return ""
}

// osOf names the operating system of a browser's User-Agent, or "".
func osOf(ua string) string {
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"iPod", "iPod"},
		{"CrOS", "ChromeOS"}, {"Windows", "Windows"}, {"Macintosh", "macOS"}, {"Mac OS X", "macOS"},
		{"Linux", "Linux"}, {"FreeBSD", "FreeBSD"}, {"OpenBSD", "OpenBSD"},
	} {
		if strings.Contains(ua, o.token) {
			return o.name
		}
	}
	return ""
}

// productToken returns the product of a non-browser User-Agent ("curl" of
// "curl/8.5.0"): its first word before any "/", kept only when it is a
// plain token of letters, digits, '.', '_' and '-' and fits the bound.
func productToken(ua string) string {
	tok, _, _ := strings.Cut(ua, " ")
	tok, _, _ = strings.Cut(tok, "/")
	if tok == "" || utf8.RuneCountInString(tok) > protocol.MaxBrowserNameRunes {
		return ""
	}
	for _, r := range tok {
		ok := r == '.' || r == '_' || r == '-' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return ""
		}
	}
	if tok == "Mozilla" {
		return "" // a browser the relay does not know: no product to name
	}
	return tok
}
