package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tether-desktop/tether/protocol"
)

// nested returns a frame whose deepest nesting is exactly depth levels: the
// top-level object plus depth-1 levels inside data, alternating objects and
// arrays.
func nested(depth int) string {
	var open, close strings.Builder
	for i := 1; i < depth; i++ {
		if i%2 == 0 {
			open.WriteString("[")
			close.WriteString("]")
		} else {
			open.WriteString(`{"a":`)
			close.WriteString("}")
		}
	}
	c := []byte(close.String())
	for i, j := 0, len(c)-1; i < j; i, j = i+1, j-1 {
		c[i], c[j] = c[j], c[i]
	}
	return `{"type":"event","data":` + open.String() + "1" + string(c) + "}"
}

// wantError checks that err is an *protocol.Error with code.
func wantError(t *testing.T, err error, code string) *protocol.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *protocol.Error", err, err)
	}
	if pe.Code != code {
		t.Fatalf("error code %q (%v), want %q", pe.Code, pe, code)
	}
	if pe.Message == "" {
		t.Fatalf("error %q has no message", pe.Code)
	}
	return pe
}

func TestNestedHelper(t *testing.T) {
	for _, d := range []int{1, 2, 3, protocol.MaxDepth} {
		f := nested(d)
		if !json.Valid([]byte(f)) {
			t.Fatalf("nested(%d) = %s is not valid JSON", d, f)
		}
		if got := strings.Count(f, "{") + strings.Count(f, "["); got != d {
			t.Fatalf("nested(%d) has %d openings", d, got)
		}
	}
}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		check func(t *testing.T, m *protocol.Message)
	}{
		{name: "minimal", frame: `{"type":"hello"}`, check: func(t *testing.T, m *protocol.Message) {
			if m.Type != protocol.TypeHello || m.ID != "" || m.Data != nil || m.Args != nil || m.OK != nil || m.Error != nil {
				t.Fatalf("got %+v", m)
			}
		}},
		{name: "json whitespace around", frame: " \t\r\n{\"type\":\"watch\",\"data\":{\"watchers\":2}}\n\r\t ", check: func(t *testing.T, m *protocol.Message) {
			var w protocol.Watch
			if err := json.Unmarshal(m.Data, &w); err != nil || w.Watchers != 2 {
				t.Fatalf("watch data %s: %v", m.Data, err)
			}
		}},
		{name: "every type", frame: `{"type":"welcome"}`},
		{name: "presence", frame: `{"type":"presence","device":"d_1","data":{"online":true}}`},
		{name: "telemetry", frame: `{"type":"telemetry","device":"d_1","ts":"2026-11-22T10:00:00.120Z","data":{"cpu_percent":12.5,"mem_percent":41}}`},
		{name: "event", frame: `{"type":"event","data":{"kind":"mouse_click","x":200,"y":300}}`},
		{name: "watch", frame: `{"type":"watch","data":{"watchers":0}}`},
		{name: "error", frame: `{"type":"error","error":{"code":"bad_request","message":"no"}}`, check: func(t *testing.T, m *protocol.Message) {
			if m.Error == nil || m.Error.Code != protocol.CodeBadRequest || m.Error.Message != "no" {
				t.Fatalf("error field %+v", m.Error)
			}
		}},
		{name: "result ok false", frame: `{"type":"result","id":"c2","ok":false,"error":{"code":"timeout","message":"slow"}}`, check: func(t *testing.T, m *protocol.Message) {
			if m.OK == nil || *m.OK || m.Error == nil || m.Error.Code != protocol.CodeTimeout {
				t.Fatalf("got ok=%v error=%+v", m.OK, m.Error)
			}
		}},
		{name: "command with args", frame: `{"type":"command","id":"c1","device":"d_x","name":"beep","args":{"frequency_hz":880,"duration_ms":200}}`, check: func(t *testing.T, m *protocol.Message) {
			if m.ID != "c1" || m.Device != "d_x" || m.Name != "beep" || string(m.Args) != `{"frequency_hz":880,"duration_ms":200}` {
				t.Fatalf("got %+v args %s", m, m.Args)
			}
		}},
		{name: "command without args", frame: `{"type":"command","id":"c1","device":"d_x","name":"beep"}`, check: func(t *testing.T, m *protocol.Message) {
			if m.Args != nil {
				t.Fatalf("args %q, want nil", m.Args)
			}
		}},
		{name: "null args normalised", frame: `{"type":"command","id":"c1","name":"beep","args":null}`, check: func(t *testing.T, m *protocol.Message) {
			if m.Args != nil {
				t.Fatalf("args %q, want nil", m.Args)
			}
		}},
		{name: "null data normalised", frame: `{"type":"telemetry","data":null}`, check: func(t *testing.T, m *protocol.Message) {
			if m.Data != nil {
				t.Fatalf("data %q, want nil", m.Data)
			}
		}},
		{name: "null ok and error", frame: `{"type":"result","id":"c1","ok":null,"error":null}`, check: func(t *testing.T, m *protocol.Message) {
			if m.OK != nil || m.Error != nil {
				t.Fatalf("ok %v error %v, want nil", m.OK, m.Error)
			}
		}},
		{name: "unknown fields ignored", frame: `{"type":"hello","extra":[1,2,{"x":null}],"data":{"name":"pc"}}`},
		{name: "non-object args on other types", frame: `{"type":"event","args":[1]}`},
		{name: "exactly MaxDepth", frame: nested(protocol.MaxDepth)},
		{name: "exactly MaxDepth after escaped backslash", frame: `{"type":"event","s":"\\","data":` + nested(protocol.MaxDepth)[len(`{"type":"event","data":`):]},
		{name: "brackets inside strings not counted", frame: `{"type":"event","data":{"s":"` + strings.Repeat("[{", 3*protocol.MaxDepth) + `"}}`},
		{name: "escaped quote inside string", frame: `{"type":"event","data":{"s":"\"` + strings.Repeat("[", 3*protocol.MaxDepth) + `\""}}`},
		{name: "id at bound", frame: `{"type":"result","id":"` + strings.Repeat("i", protocol.MaxIDLen) + `"}`},
		{name: "device at bound", frame: `{"type":"presence","device":"` + strings.Repeat("d", protocol.MaxDeviceLen) + `"}`},
		{name: "name at bound", frame: `{"type":"command","id":"c","name":"` + strings.Repeat("n", protocol.MaxNameLen) + `"}`},
		{name: "multi-byte id at byte bound", frame: `{"type":"result","id":"` + strings.Repeat("é", protocol.MaxIDLen/2) + `"}`},
		{name: "ts at bound", frame: `{"type":"telemetry","ts":"` + strings.Repeat("1", protocol.MaxTSLen) + `"}`},
		{name: "error code at bound", frame: `{"type":"error","error":{"code":"` + strings.Repeat("c", protocol.MaxCodeLen) + `","message":"m"}}`},
		{name: "error message at bound, lines kept", frame: `{"type":"result","id":"c","ok":false,"error":{"code":"internal","message":"a\nb` + strings.Repeat("m", protocol.MaxMessageLen-3) + `"}}`},
		{name: "largest client frame", frame: `{"type":"event","data":"` + strings.Repeat("x", protocol.MaxClientFrame-40) + `"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := protocol.Decode([]byte(tc.frame))
			if err != nil {
				t.Fatalf("Decode(%.80s…): %v", tc.frame, err)
			}
			if m == nil {
				t.Fatal("Decode returned nil message and nil error")
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name     string
		frame    string
		sentinel error  // when set, errors.Is must hold
		contains string // a piece of the message, when set
	}{
		{name: "empty", frame: "", sentinel: protocol.ErrEmpty},
		{name: "only whitespace", frame: " \r\n\t ", sentinel: protocol.ErrEmpty},
		{name: "invalid UTF-8", frame: "{\"type\":\"hello\",\"data\":\"\xff\xfe\"}", sentinel: protocol.ErrInvalidUTF8},
		{name: "truncated UTF-8", frame: "{\"type\":\"hello\",\"data\":\"\xe6\x97\"}", sentinel: protocol.ErrInvalidUTF8},
		{name: "array", frame: `[{"type":"hello"}]`, sentinel: protocol.ErrNotObject},
		{name: "string", frame: `"hello"`, sentinel: protocol.ErrNotObject},
		{name: "number", frame: `42`, sentinel: protocol.ErrNotObject},
		{name: "null", frame: `null`, sentinel: protocol.ErrNotObject},
		{name: "not JSON", frame: `type=hello`, sentinel: protocol.ErrNotObject},
		{name: "too deep", frame: nested(protocol.MaxDepth + 1), sentinel: protocol.ErrTooDeep},
		{name: "very deep", frame: `{"type":"event","data":` + strings.Repeat("[", 100000), sentinel: protocol.ErrTooDeep},
		// The string ends with an escaped backslash, so the quote after it
		// closes the string and the brackets that follow count.
		{name: "too deep after escaped backslash", frame: `{"type":"event","s":"\\","data":` + nested(protocol.MaxDepth + 1)[len(`{"type":"event","data":`):], sentinel: protocol.ErrTooDeep},
		{name: "truncated", frame: `{"type":"hello"`, contains: "invalid JSON"},
		{name: "syntax error", frame: `{"type":"hello",}`, contains: "invalid JSON"},
		{name: "wrong field type", frame: `{"type":"result","id":7}`, contains: "invalid JSON"},
		{name: "ok not a bool", frame: `{"type":"result","id":"c","ok":"yes"}`, contains: "invalid JSON"},
		{name: "trailing garbage", frame: `{"type":"hello"} x`},
		{name: "trailing comma", frame: `{"type":"hello"},`},
		{name: "trailing closing brace", frame: `{"type":"hello"}}`},
		{name: "trailing closing bracket", frame: `{"type":"hello"}]`},
		{name: "two objects", frame: `{"type":"hello"}{"type":"hello"}`, contains: "more than one"},
		{name: "two objects on two lines", frame: "{\"type\":\"hello\"}\n{\"type\":\"hello\"}", contains: "more than one"},
		{name: "no-break space around", frame: "\u00a0{\"type\":\"hello\"}"},
		{name: "unknown type", frame: `{"type":"subscribe"}`, contains: "unknown message type"},
		{name: "type in wrong case", frame: `{"type":"Hello"}`, contains: "unknown message type"},
		{name: "long unknown type truncated", frame: `{"type":"` + long(1000) + `"}`, contains: "unknown message type"},
		{name: "missing type", frame: `{"id":"c1"}`, contains: `missing field "type"`},
		{name: "empty type", frame: `{"type":""}`, contains: `missing field "type"`},
		{name: "empty object", frame: `{}`, contains: `missing field "type"`},
		{name: "id past bound", frame: `{"type":"result","id":"` + long(protocol.MaxIDLen+1) + `"}`, contains: "id longer"},
		{name: "multi-byte id past byte bound", frame: `{"type":"result","id":"` + strings.Repeat("é", protocol.MaxIDLen/2) + `x"}`, contains: "id longer"},
		{name: "device past bound", frame: `{"type":"presence","device":"` + long(protocol.MaxDeviceLen+1) + `"}`, contains: "device longer"},
		{name: "name past bound", frame: `{"type":"command","id":"c","name":"` + long(protocol.MaxNameLen+1) + `"}`, contains: "name longer"},
		{name: "ts past bound", frame: `{"type":"telemetry","ts":"` + long(protocol.MaxTSLen+1) + `"}`, contains: "ts longer"},
		{name: "error code past bound", frame: `{"type":"error","error":{"code":"` + long(protocol.MaxCodeLen+1) + `","message":"m"}}`, contains: "error.code longer"},
		{name: "error message past bound", frame: `{"type":"result","id":"c","ok":false,"error":{"code":"internal","message":"` + long(protocol.MaxMessageLen+1) + `"}}`, contains: "error.message longer"},
		{name: "huge error message", frame: `{"type":"error","error":{"code":"x","message":"` + long(protocol.MaxClientFrame-60) + `"}}`, contains: "error.message longer"},
		{name: "newline in id", frame: `{"type":"result","id":"c\n1"}`, contains: "id has control"},
		{name: "escape in device", frame: `{"type":"presence","device":"d\u001b[2J"}`, contains: "device has control"},
		{name: "C1 control in name", frame: `{"type":"command","id":"c","name":"beep\u0085"}`, contains: "name has control"},
		{name: "NUL in ts", frame: `{"type":"telemetry","ts":"2026\u0000"}`, contains: "ts has control"},
		{name: "newline in error code", frame: `{"type":"error","error":{"code":"a\nb","message":"m"}}`, contains: "error.code has control"},
		{name: "command without id", frame: `{"type":"command","device":"d","name":"beep"}`, contains: "without an id"},
		{name: "command with empty id", frame: `{"type":"command","id":"","name":"beep"}`, contains: "without an id"},
		{name: "command without name", frame: `{"type":"command","id":"c1","device":"d"}`, contains: "without a name"},
		{name: "command args array", frame: `{"type":"command","id":"c1","name":"beep","args":[880,200]}`, contains: "must be a JSON object"},
		{name: "command args string", frame: `{"type":"command","id":"c1","name":"beep","args":"{}"}`, contains: "must be a JSON object"},
		{name: "command args number", frame: `{"type":"command","id":"c1","name":"beep","args":1}`, contains: "must be a JSON object"},
		{name: "command args true", frame: `{"type":"command","id":"c1","name":"beep","args":true}`, contains: "must be a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := protocol.Decode([]byte(tc.frame))
			if m != nil {
				t.Errorf("Decode returned a message %+v with the error", m)
			}
			pe := wantError(t, err, protocol.CodeBadRequest)
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error %v, want %v", err, tc.sentinel)
			}
			if tc.contains != "" && !strings.Contains(pe.Message, tc.contains) {
				t.Errorf("message %q does not contain %q", pe.Message, tc.contains)
			}
			if len(pe.Message) > 200 {
				t.Errorf("message of %d bytes echoes too much of the frame", len(pe.Message))
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	msgs := []*protocol.Message{
		{Type: protocol.TypeCommand, ID: "c1", Device: "d_abc", Name: "beep", Args: json.RawMessage(`{"frequency_hz":880}`)},
		protocol.Result("c2", "d_abc", nil, protocol.Errorf(protocol.CodeNotAllowed, "command %q is switched off", "screenshot")),
		protocol.Result("c3", "d_abc", json.RawMessage(`{"width":10}`), nil),
		{Type: protocol.TypeHello, Data: protocol.MustData(protocol.Hello{Name: "pc <1>", OS: "linux", Commands: []protocol.CommandSpec{{Name: "beep"}}})},
	}
	for _, m := range msgs {
		t.Run(m.Type+"/"+m.ID, func(t *testing.T) {
			b, err := protocol.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := protocol.Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			b2, err := protocol.Encode(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, b2) {
				t.Fatalf("round trip changed the frame:\n%s\n%s", b, b2)
			}
		})
	}
}

func TestResult(t *testing.T) {
	ok := protocol.Result("c1", "d_1", json.RawMessage(`{"x":1}`), nil)
	if ok.Type != protocol.TypeResult || ok.ID != "c1" || ok.Device != "d_1" || ok.OK == nil || !*ok.OK || ok.Error != nil || string(ok.Data) != `{"x":1}` {
		t.Fatalf("ok result %+v", ok)
	}
	if _, err := time.Parse(time.RFC3339, ok.TS); err != nil {
		t.Fatalf("ts %q: %v", ok.TS, err)
	}
	fail := protocol.Result("c1", "d_1", json.RawMessage(`{"x":1}`), protocol.Errorf(protocol.CodeTimeout, "after %d s", 20))
	if fail.OK == nil || *fail.OK || fail.Error == nil || fail.Error.Message != "after 20 s" || fail.Data != nil {
		t.Fatalf("failed result %+v", fail)
	}
	b, err := protocol.Encode(fail)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"ok":false`)) {
		t.Fatalf("ok:false must be on the wire: %s", b)
	}
}

func TestTimestamp(t *testing.T) {
	loc := time.FixedZone("X", 2*3600)
	got := protocol.Timestamp(time.Date(2026, 11, 22, 12, 0, 0, 120_000_000, loc))
	if want := "2026-11-22T10:00:00.120Z"; got != want {
		t.Fatalf("Timestamp = %q, want %q", got, want)
	}
	if got := protocol.Timestamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); got != "2026-01-02T03:04:05.000Z" {
		t.Fatalf("Timestamp keeps zero milliseconds: %q", got)
	}
}

func TestAsError(t *testing.T) {
	e := protocol.Errorf(protocol.CodePaused, "paused")
	if got := protocol.AsError(e); got != e {
		t.Fatalf("AsError(*Error) = %v, want the same value", got)
	}
	wrapped := errors.Join(errors.New("context"), e)
	if got := protocol.AsError(wrapped); got != e {
		t.Fatalf("AsError(wrapped) = %v", got)
	}
	if got := protocol.AsError(errors.New("boom")); got.Code != protocol.CodeInternal || got.Message != "boom" {
		t.Fatalf("AsError(plain) = %+v", got)
	}
	if e.Error() != "paused: paused" {
		t.Fatalf("Error() = %q", e.Error())
	}
}

func TestHelloCapabilities(t *testing.T) {
	h := protocol.Hello{Commands: []protocol.CommandSpec{{Name: "notify"}, {Name: "beep"}}}
	if got := h.Capabilities(); len(got) != 2 || got[0] != "notify" || got[1] != "beep" {
		t.Fatalf("Capabilities = %v", got)
	}
	empty := protocol.Hello{}
	if got := empty.Capabilities(); got == nil || len(got) != 0 {
		t.Fatalf("Capabilities of no commands = %#v, want an empty non-nil slice", got)
	}
}

// BenchmarkDecode decodes a typical telemetry frame of 200 bytes.
func BenchmarkDecode(b *testing.B) {
	frame := []byte(`{"type":"telemetry","device":"d_mfrggzdfmztwq2lk","ts":"2026-11-22T10:00:00.120Z","data":{"cpu_percent":12.55,"cpu_per_core":[10.12,14.91,9.83,15.24],"mem_percent":41.25,"mem_used_bytes":34567890123}}`)
	if len(frame) != 200 {
		b.Fatalf("frame is %d bytes, want 200", len(frame))
	}
	if _, err := protocol.Decode(frame); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMouseEventJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   protocol.MouseEvent
		want string
	}{
		{"move", protocol.MouseEvent{Kind: protocol.MouseMove, X: 200, Y: 300}, `{"kind":"mouse_move","x":200,"y":300}`},
		{"move drops scroll fields", protocol.MouseEvent{Kind: protocol.MouseMove, X: 1, Y: 2, DY: 5}, `{"kind":"mouse_move","x":1,"y":2}`},
		{"click", protocol.MouseEvent{Kind: protocol.MouseClick, X: 200, Y: 300, Button: protocol.ButtonLeft}, `{"kind":"mouse_click","x":200,"y":300,"button":"left"}`},
		{"scroll keeps zeros", protocol.MouseEvent{Kind: protocol.MouseScroll, X: 5, Y: 6, DY: -1}, `{"kind":"mouse_scroll","x":5,"y":6,"dx":0,"dy":-1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(protocol.MustData(tc.ev)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			var back protocol.MouseEvent
			if err := json.Unmarshal(protocol.MustData(tc.ev), &back); err != nil {
				t.Fatal(err)
			}
			if back.Kind != tc.ev.Kind || back.X != tc.ev.X || back.Y != tc.ev.Y || back.Button != tc.ev.Button {
				t.Errorf("round trip %+v, want %+v", back, tc.ev)
			}
		})
	}
}

// TestOwnErrorsPassDecode checks that the errors this package builds (Errorf,
// AsError, Result) never exceed the caps Decode enforces, so an agent whose
// command failed with a long OS error still gets its result through.
func TestOwnErrorsPassDecode(t *testing.T) {
	huge := strings.Repeat("é", protocol.MaxMessageLen) // 2 bytes a rune: twice the cap
	for name, e := range map[string]*protocol.Error{
		"Errorf":  protocol.Errorf(protocol.CodeInternal, "%s", huge),
		"AsError": protocol.AsError(errors.New(huge)),
	} {
		if len(e.Message) > protocol.MaxMessageLen || !utf8.ValidString(e.Message) || !strings.HasSuffix(e.Message, "…") {
			t.Errorf("%s: message of %d bytes (valid UTF-8 %v), want ≤ %d ending in …", name, len(e.Message), utf8.ValidString(e.Message), protocol.MaxMessageLen)
		}
	}
	orig := &protocol.Error{Code: strings.Repeat("c", protocol.MaxCodeLen+10), Message: huge}
	r := protocol.Result("c1", "d_1", nil, orig)
	b, err := protocol.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protocol.Decode(b); err != nil {
		t.Fatalf("Decode of a Result with a long error: %v", err)
	}
	if len(orig.Message) != len(huge) {
		t.Fatal("Result changed the caller's *Error")
	}
}
