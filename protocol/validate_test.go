package protocol_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tether-desktop/tether/protocol"
)

func TestCheckDeviceInfo(t *testing.T) {
	tests := []struct {
		name, in, os     string
		wantName, wantOS string
		refused          bool
	}{
		{name: "plain", in: "Anna's laptop", os: "linux", wantName: "Anna's laptop", wantOS: "linux"},
		{name: "trimmed", in: "  pc \t", os: " darwin ", wantName: "pc", wantOS: "darwin"},
		{name: "empty gets the default", in: "", os: "windows", wantName: protocol.DefaultDeviceName, wantOS: "windows"},
		{name: "emoji and accents", in: "Büro 🖥️ 👩‍💻", os: "linux", wantName: "Büro 🖥️ 👩‍💻", wantOS: "linux"},
		{name: "name at the rune bound", in: strings.Repeat("é", protocol.MaxDeviceNameRunes), os: "linux", wantName: strings.Repeat("é", protocol.MaxDeviceNameRunes), wantOS: "linux"},
		{name: "name past the rune bound", in: strings.Repeat("é", protocol.MaxDeviceNameRunes+1), os: "linux", refused: true},
		{name: "os past the rune bound", in: "pc", os: strings.Repeat("x", protocol.MaxOSRunes+1), refused: true},
		{name: "newline in name", in: "pc\nadmin: yes", os: "linux", refused: true},
		{name: "newline in os", in: "pc", os: "linux\r\nx", refused: true},
		{name: "escape sequence", in: "pc\x1b[2J", os: "linux", refused: true},
		{name: "DEL", in: "pc\x7f", os: "linux", refused: true},
		{name: "C1 next line", in: "pc\u0085x", os: "linux", refused: true},
		{name: "right-to-left override", in: "invoice\u202egpj.exe", os: "linux", refused: true},
		{name: "left-to-right embedding", in: "a\u202ab", os: "linux", refused: true},
		{name: "first strong isolate", in: "a\u2068b", os: "linux", refused: true},
		{name: "right-to-left mark", in: "a\u200fb", os: "linux", refused: true},
		{name: "arabic letter mark in os", in: "pc", os: "lin\u061cux", refused: true},
		{name: "line separator", in: "a\u2028b", os: "linux", refused: true},
		{name: "invalid UTF-8", in: "a\xffb", os: "linux", refused: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name, os, err := protocol.CheckDeviceInfo(tc.in, tc.os)
			if tc.refused {
				if err == nil || err.Code != protocol.CodeBadRequest {
					t.Fatalf("CheckDeviceInfo(%q, %q) = %q, %q, %v; want bad_request", tc.in, tc.os, name, os, err)
				}
				return
			}
			if err != nil || name != tc.wantName || os != tc.wantOS {
				t.Fatalf("CheckDeviceInfo(%q, %q) = %q, %q, %v; want %q, %q", tc.in, tc.os, name, os, err, tc.wantName, tc.wantOS)
			}
		})
	}
}

func TestDecodeHello(t *testing.T) {
	hello := func(mut func(h map[string]any)) json.RawMessage {
		h := map[string]any{
			"name": "pc", "os": "linux", "arch": "amd64", "hostname": "pc.example", "version": "1.2.3",
			"commands": []any{map[string]any{"name": "beep", "title": "Beep", "args": []any{
				map[string]any{"name": "frequency_hz", "type": "integer"},
				map[string]any{"name": "button", "type": "string", "enum": []string{"left", "right"}},
			}}},
		}
		if mut != nil {
			mut(h)
		}
		return protocol.MustData(h)
	}
	t.Run("accepted", func(t *testing.T) {
		h, err := protocol.DecodeHello(hello(func(h map[string]any) {
			h["name"] = "  pc  "
			h["unavailable"] = map[string]string{"beep": "oto: ALSA error\nat line 2\u202e " + strings.Repeat("x", 2*protocol.MaxUnavailableLen)}
		}))
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "pc" || h.OS != "linux" || len(h.Commands) != 1 || h.Commands[0].Title != "Beep" {
			t.Fatalf("hello %+v", h)
		}
		why := h.Unavailable["beep"]
		if !protocol.IsDisplayText(why) || len(why) > protocol.MaxUnavailableLen || !strings.HasPrefix(why, "oto: ALSA error at line 2  ") {
			t.Fatalf("unavailable reason not cleaned: %q (%d bytes)", why, len(why))
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := protocol.MustData(map[string]any{"name": "pc", "os": "linux", "pad": strings.Repeat("x", protocol.MaxHelloData)})
		if _, err := protocol.DecodeHello(big); err == nil || err.Code != protocol.CodeTooLarge {
			t.Fatalf("DecodeHello of %d bytes = %v, want too_large", len(big), err)
		}
	})
	t.Run("empty name gets the default", func(t *testing.T) {
		h, err := protocol.DecodeHello(hello(func(h map[string]any) { delete(h, "name") }))
		if err != nil || h.Name != protocol.DefaultDeviceName {
			t.Fatalf("got %+v, %v", h, err)
		}
	})
	many := func(n int) []any {
		cs := make([]any, n)
		for i := range cs {
			cs[i] = map[string]any{"name": "c" + strings.Repeat("x", i%10), "args": []any{}}
		}
		return cs
	}
	for _, tc := range []struct {
		name, contains string
		mut            func(h map[string]any)
	}{
		{"not JSON", "not valid", func(h map[string]any) { h["commands"] = "beep" }},
		{"newline in name", "name", func(h map[string]any) { h["name"] = "pc\nroot" }},
		{"bidi override in name", "name", func(h map[string]any) { h["name"] = "pc\u202eexe" }},
		{"name too long", "name", func(h map[string]any) { h["name"] = strings.Repeat("n", protocol.MaxDeviceNameRunes+1) }},
		{"newline in os", "os", func(h map[string]any) { h["os"] = "linux\n" + "x" }},
		{"os too long", "os", func(h map[string]any) { h["os"] = strings.Repeat("o", protocol.MaxOSRunes+1) }},
		{"hostname too long", "hostname longer", func(h map[string]any) { h["hostname"] = strings.Repeat("h", protocol.MaxHostnameLen+1) }},
		{"hostname with escape", "hostname has control", func(h map[string]any) { h["hostname"] = "pc\x1b]0;owned\x07" }},
		{"version too long", "version longer", func(h map[string]any) { h["version"] = strings.Repeat("v", protocol.MaxShortTextLen+1) }},
		{"arch with isolate", "arch has control", func(h map[string]any) { h["arch"] = "amd\u206664" }},
		{"too many commands", "more than", func(h map[string]any) { h["commands"] = many(protocol.MaxHelloCommands + 1) }},
		{"command without a name", "without a name", func(h map[string]any) { h["commands"] = []any{map[string]any{"title": "x"}} }},
		{"command name too long", "command name longer", func(h map[string]any) {
			h["commands"] = []any{map[string]any{"name": strings.Repeat("c", protocol.MaxNameLen+1)}}
		}},
		{"command title with newline", "command title has control", func(h map[string]any) {
			h["commands"] = []any{map[string]any{"name": "beep", "title": "Beep\nnow"}}
		}},
		{"command description too long", "command description longer", func(h map[string]any) {
			h["commands"] = []any{map[string]any{"name": "beep", "description": strings.Repeat("d", protocol.MaxDescriptionLen+1)}}
		}},
		{"command description with bidi mark", "command description has control", func(h map[string]any) {
			h["commands"] = []any{map[string]any{"name": "beep", "description": "Plays a tone‮"}}
		}},
		{"command timeout over the bound", "timeout_ms", func(h map[string]any) {
			h["commands"] = []any{map[string]any{"name": "backup", "timeout_ms": protocol.MaxCommandWait.Milliseconds() + 1}}
		}},
		{"too many args", "args", func(h map[string]any) {
			args := make([]any, protocol.MaxHelloArgs+1)
			for i := range args {
				args[i] = map[string]any{"name": "a", "type": "string"}
			}
			h["commands"] = []any{map[string]any{"name": "beep", "args": args}}
		}},
		{"enum value too long", "enum value longer", func(h map[string]any) {
			h["commands"] = []any{map[string]any{"name": "beep", "args": []any{map[string]any{"name": "b", "type": "string", "enum": []string{strings.Repeat("e", protocol.MaxEnumValueLen+1)}}}}}
		}},
		{"too many enum values", "enum values", func(h map[string]any) {
			h["commands"] = []any{map[string]any{"name": "beep", "args": []any{map[string]any{"name": "b", "type": "string", "enum": make([]string, protocol.MaxHelloEnum+1)}}}}
		}},
		{"unavailable command with newline", "unavailable command has control", func(h map[string]any) { h["unavailable"] = map[string]string{"be\nep": "x"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := protocol.DecodeHello(hello(tc.mut))
			if err == nil || err.Code != protocol.CodeBadRequest {
				t.Fatalf("DecodeHello accepted %+v (%v); want bad_request", h, err)
			}
			if !strings.Contains(err.Message, tc.contains) {
				t.Fatalf("message %q does not contain %q", err.Message, tc.contains)
			}
		})
	}
}
