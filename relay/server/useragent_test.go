package server

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tether-desktop/tether/protocol"
)

func TestBrowserName(t *testing.T) {
	tests := []struct {
		name, ua, want string
	}{
		{"chrome android", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"firefox windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Windows"},
		{"safari iphone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iPhone"},
		{"chrome iphone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1", "Chrome on iPhone"},
		{"safari mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"},
		{"edge windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68", "Edge on Windows"},
		{"headless chrome linux", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36", "Chrome on Linux"},
		{"samsung", "Mozilla/5.0 (Linux; Android 13; SM-S901B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"},
		{"curl", "curl/8.5.0", "curl"},
		{"python", "python-requests/2.31.0", "python-requests"},
		{"go", "Go-http-client/1.1", "Go-http-client"},
		{"empty", "", unknownBrowser},
		{"unknown mozilla", "Mozilla/5.0 (compatible; Something)", unknownBrowser},
		{"bidi trick", "evil\u202egpj.exe/1.0", unknownBrowser},
		{"control chars", "a\x1b[31mred/1", unknownBrowser},
		{"long token", strings.Repeat("a", 200) + "/1", unknownBrowser},
		{"html", "<script>alert(1)</script>", unknownBrowser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := browserName(tt.ua)
			if got != tt.want {
				t.Errorf("browserName(%q) = %q, want %q", tt.ua, got, tt.want)
			}
			if !protocol.IsDisplayText(got) || utf8.RuneCountInString(got) > protocol.MaxBrowserNameRunes {
				t.Errorf("browserName(%q) = %q is not bounded display text", tt.ua, got)
			}
		})
	}
}

// FuzzBrowserName: whatever the header, the name is bounded display text.
func FuzzBrowserName(f *testing.F) {
	f.Add("curl/8.5.0")
	f.Add("Mozilla/5.0 (iPhone) Version/17 Safari/604.1")
	f.Fuzz(func(t *testing.T, ua string) {
		got := browserName(ua)
		if got == "" || !protocol.IsDisplayText(got) || utf8.RuneCountInString(got) > protocol.MaxBrowserNameRunes {
			t.Fatalf("browserName(%q) = %q", ua, got)
		}
	})
}
