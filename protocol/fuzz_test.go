package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/tether-desktop/tether/protocol"
)

// FuzzDecode checks that Decode never panics, that every refusal is a
// bad_request *Error, and that an accepted frame survives Encode and Decode
// unchanged: re-encoding is a fixed point.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","device":"d_x","ts":"2026-11-22T10:00:00.120Z","data":{"name":"pc","os":"linux","commands":[{"name":"beep","args":[{"name":"frequency_hz","type":"integer","min":100,"max":4000,"default":880}]}]}}`,
		`{"type":"welcome","data":{"device_id":"d_x","heartbeat_s":25,"max_frame":8388608,"server_time":"2026-11-22T10:00:00.120Z"}}`,
		`{"type":"presence","device":"d_x","data":{"online":true,"name":"pc","os":"linux","capabilities":["beep"]}}`,
		`{"type":"telemetry","device":"d_x","ts":"2026-11-22T10:00:00.120Z","data":{"cpu_percent":12.5,"mem_percent":41.0}}`,
		`{"type":"event","device":"d_x","data":{"kind":"mouse_click","x":200,"y":300,"button":"left"}}`,
		`{"type":"command","id":"c1","device":"d_x","name":"beep","args":{"frequency_hz":880,"duration_ms":200}}`,
		`{"type":"command","id":"c1","device":"d_x","name":"notify","args":{"title":"<b>\u2028</b>","body":"\ud800"}}`,
		`{"type":"result","id":"c1","device":"d_x","ok":true}`,
		`{"type":"result","id":"c2","device":"d_x","ok":false,"error":{"code":"not_allowed","message":"no"}}`,
		`{"type":"watch","data":{"watchers":3}}`,
		`{"type":"error","error":{"code":"bad_request","message":"empty frame"}}`,
		`{"TYPE":"hello","Data":null,"args":null}`,
		`{"type":"bogus","type":"hello"}`,
		`{"type":"event","data":{"s":"\\","t":[[[{"u":"[{"}]]]}}`,
		`{"type":"hello"}}`,
		`{"type":"hello"} {}`,
		` {"type":"hello"} `,
		`[]`,
		``,
		"\xff",
		nested(protocol.MaxDepth),
		nested(protocol.MaxDepth + 1),
		`{"type":"result","id":"c\n1","ts":"` + strings.Repeat("9", protocol.MaxTSLen) + `"}`,
		`{"type":"error","error":{"code":"` + strings.Repeat("c", protocol.MaxCodeLen+1) + `","message":"m"}}`,
		`{"type":"result","id":"c","ok":false,"error":{"code":"internal","message":"` + strings.Repeat("m", protocol.MaxMessageLen) + `"}}`,
		`{"type":"result","id":"c","ok":false,"error":{"code":"internal","message":"` + strings.Repeat("m", protocol.MaxMessageLen+1) + `"}}`,
		`{"type":"presence","device":"d\u0085","ts":"\u001b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := protocol.Decode(frame)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeBadRequest {
				t.Fatalf("refusal %v (%T) is not a bad_request *Error", err, err)
			}
			if m != nil {
				t.Fatal("a message came with the error")
			}
			return
		}
		if m == nil {
			t.Fatal("nil message without an error")
		}
		if m.Type == "" || len(m.ID) > protocol.MaxIDLen || len(m.Device) > protocol.MaxDeviceLen || len(m.Name) > protocol.MaxNameLen ||
			len(m.TS) > protocol.MaxTSLen || m.Error != nil && (len(m.Error.Code) > protocol.MaxCodeLen || len(m.Error.Message) > protocol.MaxMessageLen) {
			t.Fatalf("accepted a message outside the bounds: %+v", m)
		}
		for _, s := range []string{m.ID, m.Device, m.Name, m.TS} {
			if strings.ContainsFunc(s, unicode.IsControl) {
				t.Fatalf("accepted control characters in %q", s)
			}
		}
		if m.Error != nil && strings.ContainsFunc(m.Error.Code, unicode.IsControl) {
			t.Fatalf("accepted control characters in error code %q", m.Error.Code)
		}
		if string(m.Args) == "null" || string(m.Data) == "null" {
			t.Fatalf("null args or data not normalised: %+v", m)
		}
		b1, err := protocol.Encode(m)
		if err != nil {
			t.Fatalf("Encode of a decoded message: %v", err)
		}
		m2, err := protocol.Decode(b1)
		if err != nil {
			t.Fatalf("Decode(Encode(m)) failed: %v\nframe:   %q\nencoded: %s", err, frame, b1)
		}
		b2, err := protocol.Encode(m2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("re-encoding is not stable:\n%s\n%s", b1, b2)
		}
		// Apart from the raw JSON fields (compacted by Encode), the decoded
		// messages are equal.
		a, b := *m, *m2
		a.Args, a.Data, b.Args, b.Data = nil, nil, nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("message changed in a round trip:\n%+v\n%+v", a, b)
		}
		for _, raw := range [][2]json.RawMessage{{m.Args, m2.Args}, {m.Data, m2.Data}} {
			var x, y any
			if (raw[0] == nil) != (raw[1] == nil) {
				t.Fatalf("raw field appeared or vanished: %q vs %q", raw[0], raw[1])
			}
			if raw[0] == nil {
				continue
			}
			// Numbers are compared as written: 1e700 is valid JSON that a
			// float64 cannot hold, and Decode passes it on untouched.
			if unmarshalNumbers(raw[0], &x) != nil || unmarshalNumbers(raw[1], &y) != nil || !reflect.DeepEqual(x, y) {
				t.Fatalf("raw field changed: %s vs %s", raw[0], raw[1])
			}
		}
	})
}

// unmarshalNumbers decodes b into v keeping every number as its text.
func unmarshalNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// Bounds of the fuzzed specs.
const (
	fzMinHz, fzMaxHz, fzDefHz = 100, 4000, 880
	fzMinMs, fzMaxMs, fzDefMs = 20, 3000, 200
	fzMaxURL, fzMaxTitle      = 200, 100
)

var fuzzSpecs = []protocol.CommandSpec{
	{Name: "beep", Args: []protocol.ArgSpec{
		{Name: "frequency_hz", Type: protocol.ArgInteger, Min: protocol.Float(fzMinHz), Max: protocol.Float(fzMaxHz), Default: fzDefHz},
		{Name: "duration_ms", Type: protocol.ArgInteger, Min: protocol.Float(fzMinMs), Max: protocol.Float(fzMaxMs), Default: fzDefMs},
	}},
	{Name: "open_url", Args: []protocol.ArgSpec{
		{Name: "url", Type: protocol.ArgURL, Required: true, Schemes: []string{"http", "https"}, MaxLen: fzMaxURL},
	}},
	{Name: "notify", Args: []protocol.ArgSpec{
		{Name: "title", Type: protocol.ArgString, Required: true, MaxLen: fzMaxTitle},
		{Name: "button", Type: protocol.ArgString, Enum: []string{"left", "right", "middle"}},
		{Name: "sticky", Type: protocol.ArgBoolean},
		{Name: "volume", Type: protocol.ArgNumber, Min: protocol.Float(0), Max: protocol.Float(1)},
	}},
}

// FuzzValidate checks that Validate never panics on fixed beep-like, URL and
// string specs, that every refusal is an invalid_args *Error, and that every
// success returns only values within the bounds.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `1`, `"x"`,
		`{"frequency_hz":880,"duration_ms":200}`,
		`{"frequency_hz":100,"duration_ms":3000}`,
		`{"frequency_hz":4000.0,"duration_ms":2e1}`,
		`{"frequency_hz":99,"duration_ms":3001}`,
		`{"frequency_hz":880.5}`,
		`{"frequency_hz":1e308}`,
		`{"frequency_hz":-0}`,
		`{"frequency_hz":"880"}`,
		`{"frequency_hz":null,"duration_ms":null}`,
		`{"volume":11}`,
		`{"url":"https://example.com/a?b=c#d"}`,
		`{"url":"HTTP://EXAMPLE.COM"}`,
		`{"url":"javascript:alert(1)"}`,
		`{"url":"file:///etc/passwd"}`,
		`{"url":"data:text/html,hi"}`,
		`{"url":"//example.com"}`,
		`{"url":"http://:80"}`,
		`{"url":"http://[::1]:80/"}`,
		`{"url":"http://a\u0000b"}`,
		`{"title":"héllo\n\tworld","button":"left","sticky":true,"volume":0.5}`,
		`{"title":"\u001b[2J","button":"up"}`,
		`{"title":"\u0085"}`,
		`{"title":"a","title":"b"}`,
		`{"url":"http://x"} trailing`,
	} {
		for i := range fuzzSpecs {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, args []byte) {
		spec := &fuzzSpecs[int(which)%len(fuzzSpecs)]
		got, err := spec.Validate(args)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeInvalidArgs {
				t.Fatalf("refusal %v (%T) is not an invalid_args *Error", err, err)
			}
			if got != nil {
				t.Fatal("values came with the error")
			}
			return
		}
		for name := range got {
			if !slices.ContainsFunc(spec.Args, func(a protocol.ArgSpec) bool { return a.Name == name }) {
				t.Fatalf("result has argument %q the spec lacks", name)
			}
		}
		for _, a := range spec.Args {
			v, ok := got[a.Name]
			if !ok {
				if a.Required || a.Default != nil {
					t.Fatalf("argument %q missing from %v", a.Name, got)
				}
				continue
			}
			checkValue(t, a, v)
		}
	})
}

// checkValue fails t unless v is a value a accepts.
func checkValue(t *testing.T, a protocol.ArgSpec, v any) {
	t.Helper()
	inRange := func(f float64) {
		if (a.Min != nil && f < *a.Min) || (a.Max != nil && f > *a.Max) {
			t.Fatalf("%s = %v is out of bounds", a.Name, f)
		}
	}
	switch a.Type {
	case protocol.ArgInteger:
		n, ok := v.(int64)
		if !ok {
			t.Fatalf("%s = %#v is not an int64", a.Name, v)
		}
		inRange(float64(n))
	case protocol.ArgNumber:
		f, ok := v.(float64)
		if !ok {
			t.Fatalf("%s = %#v is not a float64", a.Name, v)
		}
		inRange(f)
	case protocol.ArgBoolean:
		if _, ok := v.(bool); !ok {
			t.Fatalf("%s = %#v is not a bool", a.Name, v)
		}
	case protocol.ArgString, protocol.ArgURL:
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%s = %#v is not a string", a.Name, v)
		}
		if !utf8.ValidString(s) {
			t.Fatalf("%s = %q is not valid UTF-8", a.Name, s)
		}
		if a.MaxLen > 0 && utf8.RuneCountInString(s) > a.MaxLen {
			t.Fatalf("%s has %d runes, more than %d", a.Name, utf8.RuneCountInString(s), a.MaxLen)
		}
		if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
			t.Fatalf("%s = %q has control characters", a.Name, s)
		}
		if len(a.Enum) > 0 && !slices.Contains(a.Enum, s) {
			t.Fatalf("%s = %q is not in the enum", a.Name, s)
		}
		if a.Type == protocol.ArgURL {
			u, err := url.Parse(s)
			if err != nil || u.Hostname() == "" || !slices.Contains(a.Schemes, strings.ToLower(u.Scheme)) {
				t.Fatalf("%s = %q is not an absolute URL with an allowed scheme and a host", a.Name, s)
			}
		}
	default:
		t.Fatalf("spec type %q", a.Type)
	}
}

// FuzzDecodeHello checks that DecodeHello never panics, that every refusal is
// a bad_request *Error, and that an accepted hello holds only bounded display
// text in every field the relay keeps and forwards.
func FuzzDecodeHello(f *testing.F) {
	for _, s := range []string{
		`{"name":"pc","os":"linux","arch":"amd64","hostname":"pc","version":"1","commands":[{"name":"beep","title":"Beep","args":[{"name":"frequency_hz","type":"integer"}]}]}`,
		`{"name":"  ","os":""}`,
		`{"name":"pc\n","os":"linux"}`,
		`{"name":"a\u202eb","os":"linux"}`,
		`{"name":"pc","os":"linux","unavailable":{"beep":"ALSA\n\u2028\u0085 error"}}`,
		`{"name":"pc","os":"linux","commands":[{"name":"x","args":[{"name":"a","type":"string","enum":["\u2066"]}]}]}`,
		`{"name":"pc","os":"linux","commands":[{"name":""}]}`,
		`{"commands":null,"unavailable":null,"screen":{"width":1,"height":2}}`,
		`null`, ``, `[]`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := protocol.DecodeHello(data)
		if err != nil {
			if (err.Code != protocol.CodeBadRequest && (err.Code != protocol.CodeTooLarge || len(data) <= protocol.MaxHelloData)) || h != nil {
				t.Fatalf("refusal %v with hello %v, want bad_request (too_large past MaxHelloData) and nil", err, h)
			}
			if len(err.Message) > protocol.MaxMessageLen {
				t.Fatalf("refusal message of %d bytes", len(err.Message))
			}
			return
		}
		texts := map[string]int{h.Name: 4 * protocol.MaxDeviceNameRunes, h.OS: 4 * protocol.MaxOSRunes, h.Hostname: protocol.MaxHostnameLen,
			h.Arch: protocol.MaxShortTextLen, h.Version: protocol.MaxShortTextLen}
		if h.Name == "" || utf8.RuneCountInString(h.Name) > protocol.MaxDeviceNameRunes || utf8.RuneCountInString(h.OS) > protocol.MaxOSRunes {
			t.Fatalf("name %q or os %q out of bounds", h.Name, h.OS)
		}
		if len(h.Commands) > protocol.MaxHelloCommands || len(h.Unavailable) > protocol.MaxHelloCommands {
			t.Fatalf("%d commands, %d unavailable", len(h.Commands), len(h.Unavailable))
		}
		for _, c := range h.Commands {
			if c.Name == "" || len(c.Args) > protocol.MaxHelloArgs {
				t.Fatalf("command %+v", c)
			}
			texts[c.Name], texts[c.Title] = protocol.MaxNameLen, protocol.MaxShortTextLen
			for _, a := range c.Args {
				texts[a.Name] = protocol.MaxNameLen
			}
		}
		for cmd, why := range h.Unavailable {
			texts[cmd], texts[why] = protocol.MaxNameLen, protocol.MaxUnavailableLen
		}
		for s, max := range texts {
			if len(s) > max || !protocol.IsDisplayText(s) {
				t.Fatalf("accepted %q (%d bytes, bound %d)", s, len(s), max)
			}
		}
	})
}
