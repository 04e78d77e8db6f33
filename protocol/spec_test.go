package protocol_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/tether-desktop/tether/protocol"
)

// testSpec has one argument of every type, with bounds.
var testSpec = protocol.CommandSpec{
	Name: "test",
	Args: []protocol.ArgSpec{
		{Name: "n", Type: protocol.ArgInteger, Min: protocol.Float(1), Max: protocol.Float(10), Default: 5},
		{Name: "neg", Type: protocol.ArgInteger, Min: protocol.Float(-3), Max: protocol.Float(-1)},
		{Name: "x", Type: protocol.ArgNumber, Min: protocol.Float(-1.5), Max: protocol.Float(2.5)},
		{Name: "free", Type: protocol.ArgNumber},
		{Name: "b", Type: protocol.ArgBoolean, Default: false},
		{Name: "s", Type: protocol.ArgString, MaxLen: 5},
		{Name: "raw", Type: protocol.ArgString, ControlChars: true},
		{Name: "e", Type: protocol.ArgString, Enum: []string{"left", "right", "middle"}},
		{Name: "u", Type: protocol.ArgURL, Schemes: []string{"http", "https"}, MaxLen: 60},
	},
}

// requiredSpec has a required argument and a default string.
var requiredSpec = protocol.CommandSpec{
	Name: "req",
	Args: []protocol.ArgSpec{
		{Name: "title", Type: protocol.ArgString, Required: true, MaxLen: 100},
		{Name: "format", Type: protocol.ArgString, Enum: []string{"png", "jpeg"}, Default: "png"},
	},
}

func TestValidateAccepts(t *testing.T) {
	defaults := map[string]any{"n": int64(5), "b": false}
	with := func(k string, v any) map[string]any {
		m := map[string]any{"n": int64(5), "b": false}
		m[k] = v
		return m
	}
	tests := []struct {
		name string
		spec *protocol.CommandSpec
		args string
		want map[string]any
	}{
		{name: "no args", args: "", want: defaults},
		{name: "null args", args: "null", want: defaults},
		{name: "empty object", args: "{}", want: defaults},
		{name: "explicit null takes the default", args: `{"n":null,"b":null}`, want: defaults},
		{name: "integer", args: `{"n":7}`, want: with("n", int64(7))},
		{name: "integer at min", args: `{"n":1}`, want: with("n", int64(1))},
		{name: "integer at max", args: `{"n":10}`, want: with("n", int64(10))},
		{name: "integer written as 7.0", args: `{"n":7.0}`, want: with("n", int64(7))},
		{name: "integer written as 1e1", args: `{"n":1e1}`, want: with("n", int64(10))},
		{name: "negative integer range", args: `{"neg":-3}`, want: with("neg", int64(-3))},
		{name: "number", args: `{"x":0.25}`, want: with("x", 0.25)},
		{name: "number at min", args: `{"x":-1.5}`, want: with("x", -1.5)},
		{name: "number at max", args: `{"x":2.5}`, want: with("x", 2.5)},
		{name: "number without bounds", args: `{"free":-1e300}`, want: with("free", -1e300)},
		{name: "boolean", args: `{"b":true}`, want: with("b", true)},
		{name: "string", args: `{"s":"hi"}`, want: with("s", "hi")},
		{name: "empty string", args: `{"s":""}`, want: with("s", "")},
		{name: "max_len counts runes: 5 runes, 6 bytes", args: `{"s":"héllo"}`, want: with("s", "héllo")},
		{name: "max_len counts runes: 5 runes, 15 bytes", args: `{"s":"日本語日本"}`, want: with("s", "日本語日本")},
		{name: "max_len with escapes", args: `{"s":"\u00e9\u00e9\u00e9\u00e9\u00e9"}`, want: with("s", "ééééé")},
		{name: "newline and tab allowed", args: `{"s":"a\nb\tc"}`, want: with("s", "a\nb\tc")},
		{name: "control chars when allowed", args: `{"raw":"a\r\u0000\u001b"}`, want: with("raw", "a\r\x00\x1b")},
		{name: "enum", args: `{"e":"right"}`, want: with("e", "right")},
		{name: "http URL", args: `{"u":"http://example.com"}`, want: with("u", "http://example.com")},
		{name: "https URL with path and query", args: `{"u":"https://example.com:8443/a/b?q=1#f"}`, want: with("u", "https://example.com:8443/a/b?q=1#f")},
		{name: "URL scheme in capitals", args: `{"u":"HTTPS://EXAMPLE.COM/"}`, want: with("u", "HTTPS://EXAMPLE.COM/")},
		{name: "URL with IP host", args: `{"u":"http://127.0.0.1/"}`, want: with("u", "http://127.0.0.1/")},
		{name: "required given", spec: &requiredSpec, args: `{"title":"Hi"}`, want: map[string]any{"title": "Hi", "format": "png"}},
		{name: "string default overridden", spec: &requiredSpec, args: `{"title":"Hi","format":"jpeg"}`, want: map[string]any{"title": "Hi", "format": "jpeg"}},
		{name: "spec without args", spec: &protocol.CommandSpec{Name: "none"}, args: `{}`, want: map[string]any{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if spec == nil {
				spec = &testSpec
			}
			got, err := spec.Validate(json.RawMessage(tc.args))
			if err != nil {
				t.Fatalf("Validate(%s): %v", tc.args, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Validate(%s) = %#v, want %#v", tc.args, got, tc.want)
			}
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	tests := []struct {
		name     string
		spec     *protocol.CommandSpec
		args     string
		code     string // invalid_args unless set
		contains string
	}{
		{name: "args array", args: `[]`, contains: "must be a JSON object"},
		{name: "args string", args: `"n"`, contains: "must be a JSON object"},
		{name: "args number", args: `5`, contains: "must be a JSON object"},
		{name: "args broken", args: `{"n":`, contains: "must be a JSON object"},
		{name: "unknown argument", args: `{"n":1,"volume":11}`, contains: `unknown argument "volume"`},
		{name: "unknown argument name truncated", args: `{"` + strings.Repeat("v", 500) + `":1}`, contains: "unknown argument"},
		{name: "integer as string", args: `{"n":"5"}`, contains: "must be a number"},
		{name: "integer as bool", args: `{"n":true}`, contains: "must be a number"},
		{name: "integer as object", args: `{"n":{}}`, contains: "must be a number"},
		{name: "integer overflowing float64", args: `{"n":1e400}`, contains: "must be a number"},
		{name: "integer not whole", args: `{"n":5.5}`, contains: "whole number"},
		{name: "integer barely not whole", args: `{"n":1.000001}`, contains: "whole number"},
		{name: "integer below min", args: `{"n":0}`, contains: "at least 1"},
		{name: "integer above max", args: `{"n":11}`, contains: "at most 10"},
		{name: "integer far below min", args: `{"n":-1e18}`, contains: "at least 1"},
		{name: "negative range above max", args: `{"neg":0}`, contains: "at most -1"},
		{name: "number below min", args: `{"x":-1.5000001}`, contains: "at least -1.5"},
		{name: "number above max", args: `{"x":2.5000001}`, contains: "at most 2.5"},
		{name: "number as string", args: `{"x":"1"}`, contains: "must be a number"},
		{name: "boolean as number", args: `{"b":1}`, contains: "true or false"},
		{name: "boolean as string", args: `{"b":"true"}`, contains: "true or false"},
		{name: "string as number", args: `{"s":5}`, contains: "must be a string"},
		{name: "string as array", args: `{"s":["a"]}`, contains: "must be a string"},
		{name: "string one rune too long", args: `{"s":"héllos"}`, contains: "longer than 5"},
		{name: "string of 6 wide runes", args: `{"s":"日本語日本語"}`, contains: "longer than 5"},
		{name: "NUL refused", args: `{"s":"a\u0000"}`, contains: "control characters"},
		{name: "carriage return refused", args: `{"s":"a\rb"}`, contains: "control characters"},
		{name: "escape refused", args: `{"s":"\u001b[2J"}`, contains: "control characters"},
		{name: "DEL refused", args: `{"s":"\u007f"}`, contains: "control characters"},
		{name: "C1 control refused", args: `{"s":"\u0085"}`, contains: "control characters"},
		{name: "enum miss", args: `{"e":"up"}`, contains: "one of left, right, middle"},
		{name: "enum is case-sensitive", args: `{"e":"Left"}`, contains: "one of"},
		{name: "javascript URL", args: `{"u":"javascript:alert(1)"}`, contains: "absolute http or https URL"},
		{name: "javascript URL with slashes", args: `{"u":"javascript://example.com/%0aalert(1)"}`, contains: "absolute http or https URL"},
		{name: "file URL", args: `{"u":"file:///etc/passwd"}`, contains: "absolute http or https URL"},
		{name: "file URL with host", args: `{"u":"file://server/share"}`, contains: "absolute http or https URL"},
		{name: "data URL", args: `{"u":"data:text/html,<script>alert(1)</script>"}`, contains: "absolute http or https URL"},
		{name: "ftp URL", args: `{"u":"ftp://example.com/"}`, contains: "absolute http or https URL"},
		{name: "relative path", args: `{"u":"/etc/passwd"}`, contains: "absolute"},
		{name: "relative name", args: `{"u":"example.com"}`, contains: "absolute"},
		{name: "scheme-relative", args: `{"u":"//example.com/"}`, contains: "absolute"},
		{name: "missing host", args: `{"u":"http://"}`, contains: "absolute"},
		{name: "missing host with path", args: `{"u":"http:///etc/passwd"}`, contains: "absolute"},
		{name: "missing host with port", args: `{"u":"http://:80/"}`, contains: "absolute"},
		{name: "opaque http", args: `{"u":"http:example.com"}`, contains: "absolute"},
		{name: "unparsable URL", args: `{"u":"http://exa mple.com/"}`, contains: "absolute"},
		{name: "URL with control character", args: `{"u":"http://example.com/\u0000"}`, contains: "control characters"},
		{name: "URL too long", args: `{"u":"https://example.com/` + strings.Repeat("a", 60) + `"}`, contains: "longer than 60"},
		{name: "URL not a string", args: `{"u":1}`, contains: "must be a string"},
		{name: "required missing", spec: &requiredSpec, args: `{}`, contains: `"title" is required`},
		{name: "required null", spec: &requiredSpec, args: `{"title":null}`, contains: `"title" is required`},
		{name: "required with no args", spec: &requiredSpec, args: ``, contains: `"title" is required`},
		{name: "unsupported type in spec", spec: &protocol.CommandSpec{Name: "odd", Args: []protocol.ArgSpec{{Name: "a", Type: "date"}}},
			args: `{"a":"2026-01-01"}`, contains: "unsupported type"},
		{name: "default out of bounds is internal", code: protocol.CodeInternal,
			spec: &protocol.CommandSpec{Name: "bad", Args: []protocol.ArgSpec{{Name: "a", Type: protocol.ArgInteger, Max: protocol.Float(1), Default: 5}}},
			args: `{}`, contains: "default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if spec == nil {
				spec = &testSpec
			}
			code := tc.code
			if code == "" {
				code = protocol.CodeInvalidArgs
			}
			got, err := spec.Validate(json.RawMessage(tc.args))
			if got != nil {
				t.Errorf("Validate returned values %v with the error", got)
			}
			pe := wantError(t, err, code)
			if !strings.Contains(pe.Message, tc.contains) {
				t.Errorf("message %q does not contain %q", pe.Message, tc.contains)
			}
			if !strings.Contains(pe.Message, spec.Name) {
				t.Errorf("message %q does not name the command %q", pe.Message, spec.Name)
			}
			if len(pe.Message) > 300 {
				t.Errorf("message of %d bytes echoes too much", len(pe.Message))
			}
		})
	}
}

// TestValidateDoesNotShareState checks that a spec can be used again after a
// refusal and that the result map is fresh each time.
func TestValidateDoesNotShareState(t *testing.T) {
	a, err := testSpec.Validate(json.RawMessage(`{"n":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testSpec.Validate(json.RawMessage(`{"n":99}`)); err == nil {
		t.Fatal("n=99 accepted")
	}
	b, err := testSpec.Validate(nil)
	if err != nil {
		t.Fatal(err)
	}
	a["n"] = int64(9)
	if b["n"] != int64(5) {
		t.Fatalf("second result changed with the first: %v", b)
	}
}

func TestFindCommand(t *testing.T) {
	specs := []protocol.CommandSpec{{Name: "beep"}, {Name: "notify"}}
	if got := protocol.FindCommand(specs, "notify"); got == nil || got != &specs[1] {
		t.Fatalf("FindCommand(notify) = %v", got)
	}
	for _, name := range []string{"", "Beep", "screenshot"} {
		if got := protocol.FindCommand(specs, name); got != nil {
			t.Fatalf("FindCommand(%q) = %v, want nil", name, got)
		}
	}
	if protocol.FindCommand(nil, "beep") != nil {
		t.Fatal("FindCommand(nil) found something")
	}
}

func TestIsKnownCommand(t *testing.T) {
	for _, name := range []string{"beep", "notify", "screenshot", "mouse_move", "mouse_click", "type_text", "open_url"} {
		if !protocol.IsKnownCommand(name) {
			t.Errorf("IsKnownCommand(%q) = false", name)
		}
	}
	for _, name := range []string{"", "BEEP", "rm", "shell"} {
		if protocol.IsKnownCommand(name) {
			t.Errorf("IsKnownCommand(%q) = true", name)
		}
	}
}

// TestArgSpecJSON checks the wire form of a spec, as it travels in hello.
func TestArgSpecJSON(t *testing.T) {
	spec := protocol.CommandSpec{Name: "beep", Title: "Beep", Args: []protocol.ArgSpec{
		{Name: "frequency_hz", Type: protocol.ArgInteger, Min: protocol.Float(100), Max: protocol.Float(4000), Default: 880},
	}}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"beep","title":"Beep","args":[{"name":"frequency_hz","type":"integer","min":100,"max":4000,"default":880}]}`
	if string(b) != want {
		t.Fatalf("spec JSON\n got %s\nwant %s", b, want)
	}
	// A spec that came over the wire (Default as float64) validates the same.
	var back protocol.CommandSpec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := back.Validate(nil)
	if err != nil || got["frequency_hz"] != int64(880) {
		t.Fatalf("decoded spec: %v %v", got, err)
	}
	// The description travels when set and is left out when not.
	described := protocol.CommandSpec{Name: "beep", Title: "Beep", Description: "Plays a short tone.", Args: []protocol.ArgSpec{}}
	b, _ = json.Marshal(described)
	if want := `{"name":"beep","title":"Beep","description":"Plays a short tone.","args":[]}`; string(b) != want {
		t.Fatalf("described spec JSON\n got %s\nwant %s", b, want)
	}
	if err := json.Unmarshal(b, &back); err != nil || back.Description != "Plays a short tone." {
		t.Fatalf("description after the trip: %q (%v)", back.Description, err)
	}
	// min: 0 must survive the trip (a pointer, not omitted as zero).
	zero := protocol.CommandSpec{Name: "z", Args: []protocol.ArgSpec{{Name: "a", Type: protocol.ArgInteger, Min: protocol.Float(0)}}}
	b, _ = json.Marshal(zero)
	if !strings.Contains(string(b), `"min":0`) {
		t.Fatalf("min 0 lost: %s", b)
	}
}
