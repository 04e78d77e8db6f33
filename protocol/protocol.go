// Package protocol defines the messages that travel on Tether's two WebSockets
// (/ws/agent and /ws/client) and the rules for decoding them safely.
//
// It is shared by the relay and the agent and imports only the standard
// library. Every type here is a plain value: safe to copy, and safe to use from
// several goroutines as long as nobody mutates a shared value.
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Message types, the values of Message.Type.
const (
	TypeHello     = "hello"     // agent → relay, first frame: who the device is and what it allows
	TypeWelcome   = "welcome"   // relay → agent or client, first frame: the connection is accepted
	TypePresence  = "presence"  // relay → client: a paired device came, went or changed
	TypeTelemetry = "telemetry" // agent → relay → client: periodic samples
	TypeEvent     = "event"     // agent → relay → client: something happened (a click)
	TypeCommand   = "command"   // client → relay → agent: do something
	TypeResult    = "result"    // agent or relay → client: the one answer to a command
	TypeWatch     = "watch"     // relay → agent: how many clients watch this device
	TypeError     = "error"     // either way: a frame was refused
)

// Error codes carried in Error.Code, in HTTP error bodies and in results.
const (
	CodeBadRequest     = "bad_request"
	CodeUnauthorized   = "unauthorized"
	CodeForbidden      = "forbidden"
	CodeNotFound       = "not_found"
	CodeNotPaired      = "not_paired"
	CodeDeviceOffline  = "device_offline"
	CodeUnknownCommand = "unknown_command"
	CodeNotAllowed     = "not_allowed"
	CodeInvalidArgs    = "invalid_args"
	CodeRateLimited    = "rate_limited"
	CodeTimeout        = "timeout"
	CodePaused         = "paused"
	CodeUnavailable    = "unavailable"
	CodeTooLarge       = "too_large"
	CodeInternal       = "internal"
)

// Limits on frames and fields. A frame larger than its limit closes the
// socket with close code 1009 (message too big).
const (
	MaxClientFrame = 64 << 10 // bytes in one frame from a browser or script
	MaxAgentFrame  = 8 << 20  // bytes in one frame from an agent (room for a screenshot)
	MaxIDLen       = 128      // bytes in Message.ID
	MaxDeviceLen   = 64       // bytes in Message.Device
	MaxNameLen     = 64       // bytes in Message.Name
	MaxTSLen       = 40       // bytes in Message.TS (RFC 3339 with nanoseconds and an offset is 35)
	MaxCodeLen     = 64       // bytes in Error.Code
	MaxMessageLen  = 1024     // bytes in Error.Message
	MaxDepth       = 32       // nesting of JSON objects and arrays in one frame
)

// Message.Type needs no length limit of its own: Decode accepts only the
// known types, the longest of which has 11 bytes.

// Message is one frame on either WebSocket. Fields that do not apply to a type
// are left empty and omitted on the wire.
type Message struct {
	Type   string          `json:"type"`
	ID     string          `json:"id,omitempty"`
	Device string          `json:"device,omitempty"`
	TS     string          `json:"ts,omitempty"`
	Name   string          `json:"name,omitempty"`
	Args   json.RawMessage `json:"args,omitempty"`
	OK     *bool           `json:"ok,omitempty"`
	Error  *Error          `json:"error,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// Error is the body of a refusal: a stable machine code and a human sentence.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error implements the error interface, so an *Error can travel as a Go error.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error with a formatted message, cut to MaxMessageLen
// bytes so that it always passes Decode.
func Errorf(code, format string, a ...any) *Error {
	return &Error{Code: code, Message: clip(fmt.Sprintf(format, a...), MaxMessageLen)}
}

// Hello is the Data of the agent's first frame.
type Hello struct {
	Name     string        `json:"name"`               // the device's display name
	OS       string        `json:"os"`                 // runtime.GOOS
	Arch     string        `json:"arch,omitempty"`     // runtime.GOARCH
	Hostname string        `json:"hostname,omitempty"` // the machine's host name
	Version  string        `json:"version,omitempty"`  // the agent's version
	Commands []CommandSpec `json:"commands"`           // the commands switched on, with their arguments
	Paused   bool          `json:"paused,omitempty"`   // the owner paused remote control
	// Unavailable names commands that are switched on but cannot run on this
	// desktop right now, with the reason (for example no sound device).
	Unavailable map[string]string `json:"unavailable,omitempty"`
	Screen      *Screen           `json:"screen,omitempty"`
}

// Capabilities returns the names of the commands in h, in order.
func (h *Hello) Capabilities() []string {
	names := make([]string, 0, len(h.Commands))
	for _, c := range h.Commands {
		names = append(names, c.Name)
	}
	return names
}

// Screen is the size of the desktop in pixels.
type Screen struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Welcome is the Data of the relay's first frame on either socket.
type Welcome struct {
	DeviceID   string `json:"device_id,omitempty"`   // on /ws/agent: who the relay thinks you are
	SessionID  string `json:"session_id,omitempty"`  // on /ws/client
	Heartbeat  int    `json:"heartbeat_s,omitempty"` // seconds between the relay's WebSocket pings
	MaxFrame   int    `json:"max_frame,omitempty"`   // largest frame the relay accepts from you
	ServerTime string `json:"server_time"`           // RFC 3339 with milliseconds
}

// Presence is the Data of a presence message: the state of one paired device.
type Presence struct {
	Online       bool          `json:"online"`
	Name         string        `json:"name"`
	OS           string        `json:"os"`
	LastSeen     string        `json:"last_seen,omitempty"`
	Capabilities []string      `json:"capabilities"`
	Commands     []CommandSpec `json:"commands,omitempty"`
	Paused       bool          `json:"paused,omitempty"`
	Screen       *Screen       `json:"screen,omitempty"`
	// Unavailable names the advertised commands that cannot run on the
	// device now, with the reason (from its hello; online devices only).
	Unavailable map[string]string `json:"unavailable,omitempty"`
	// Removed is true when the device is no longer paired with this session.
	Removed bool `json:"removed,omitempty"`
}

// Watch is the Data of a watch message.
type Watch struct {
	Watchers int `json:"watchers"`
}

// Telemetry is the Data of a telemetry message from the agent.
type Telemetry struct {
	CPUPercent float64   `json:"cpu_percent"`
	CPUPerCore []float64 `json:"cpu_per_core,omitempty"`
	MemPercent float64   `json:"mem_percent"`
	MemUsed    uint64    `json:"mem_used_bytes,omitempty"`
	MemTotal   uint64    `json:"mem_total_bytes,omitempty"`

	// The other sensors (telemetry.go), each absent when the computer
	// has none or it cannot be read.
	Disks         []DiskUsage   `json:"disks,omitempty"`
	DiskIO        *IORates      `json:"disk_io,omitempty"`
	Net           *NetRates     `json:"net,omitempty"`
	Battery       *Battery      `json:"battery,omitempty"`
	UptimeSeconds uint64        `json:"uptime_s,omitempty"`
	Load          *Load         `json:"load,omitempty"`
	Temperatures  []Temperature `json:"temperatures,omitempty"`
	// IdleSeconds is how long ago the last keyboard or pointer input was.
	IdleSeconds *float64 `json:"idle_s,omitempty"`
	// ActiveWindow is the focused window's title; sent only when the
	// owner switched it on (`tether allow window_title`), as it can be private.
	ActiveWindow string `json:"active_window,omitempty"`
}

// TimeFormat is the layout of every ts field: RFC 3339 in UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Timestamp formats t the way the ts field wants it.
func Timestamp(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Bool returns a pointer to b, for Message.OK.
func Bool(b bool) *bool { return &b }

// Result builds the result of command id on device: ok when err is nil, a
// failure carrying err otherwise. A copy of err is sent, its code and message
// cut to MaxCodeLen and MaxMessageLen bytes, so the result passes Decode.
func Result(id, device string, data json.RawMessage, err *Error) *Message {
	m := &Message{Type: TypeResult, ID: id, Device: device, TS: Timestamp(time.Now()), OK: Bool(err == nil)}
	if err == nil {
		m.Data = data
	} else {
		m.Error = &Error{Code: clip(err.Code, MaxCodeLen), Message: clip(err.Message, MaxMessageLen)}
	}
	return m
}

// Decoding errors. Each is also an *Error with code bad_request.
var (
	ErrEmpty       = &Error{Code: CodeBadRequest, Message: "empty frame"}
	ErrInvalidUTF8 = &Error{Code: CodeBadRequest, Message: "frame is not valid UTF-8"}
	ErrTooDeep     = &Error{Code: CodeBadRequest, Message: fmt.Sprintf("JSON nested deeper than %d levels", MaxDepth)}
	ErrNotObject   = &Error{Code: CodeBadRequest, Message: "frame is not a JSON object"}
)

var knownTypes = map[string]bool{
	TypeHello: true, TypeWelcome: true, TypePresence: true, TypeTelemetry: true, TypeEvent: true,
	TypeCommand: true, TypeResult: true, TypeWatch: true, TypeError: true,
	TypeFileBegin: true, TypeFileAck: true, TypeFileEnd: true, TypeFileCancel: true,
}

// Decode parses one frame into a Message and checks what every frame must
// satisfy: valid UTF-8, one JSON object no deeper than MaxDepth, a known type,
// and every string field the relay keeps or forwards bounded: id, device,
// name, ts and error.code by their Max…Len and free of control characters,
// error.message by MaxMessageLen. It never panics; every refusal is an *Error
// with code bad_request. Which types a peer may send is the caller's rule.
//
// It is longer than most functions on purpose: it is the decoding rules of
// PROTOCOL.md §4.1 in their order, one check after the other, and reads best
// as that one list.
func Decode(frame []byte) (*Message, error) {
	frame = bytes.Trim(frame, " \t\r\n") // JSON whitespace only
	if len(frame) == 0 {
		return nil, ErrEmpty
	}
	if !utf8.Valid(frame) {
		return nil, ErrInvalidUTF8
	}
	if frame[0] != '{' {
		return nil, ErrNotObject
	}
	if depth(frame) > MaxDepth {
		return nil, ErrTooDeep
	}
	var m Message
	dec := json.NewDecoder(bytes.NewReader(frame))
	if err := dec.Decode(&m); err != nil {
		return nil, Errorf(CodeBadRequest, "invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, Errorf(CodeBadRequest, "more than one JSON value in a frame")
	}
	if dec.InputOffset() != int64(len(frame)) { // also catches a stray "}" or "]" that More misses
		return nil, Errorf(CodeBadRequest, "trailing data after the JSON object")
	}
	switch {
	case m.Type == "":
		return nil, Errorf(CodeBadRequest, "missing field \"type\"")
	case !knownTypes[m.Type]:
		return nil, Errorf(CodeBadRequest, "unknown message type %q", truncate(m.Type, 32))
	case len(m.ID) > MaxIDLen:
		return nil, Errorf(CodeBadRequest, "id longer than %d bytes", MaxIDLen)
	case len(m.Device) > MaxDeviceLen:
		return nil, Errorf(CodeBadRequest, "device longer than %d bytes", MaxDeviceLen)
	case len(m.Name) > MaxNameLen:
		return nil, Errorf(CodeBadRequest, "name longer than %d bytes", MaxNameLen)
	case len(m.TS) > MaxTSLen:
		return nil, Errorf(CodeBadRequest, "ts longer than %d bytes", MaxTSLen)
	case m.Error != nil && len(m.Error.Code) > MaxCodeLen:
		return nil, Errorf(CodeBadRequest, "error.code longer than %d bytes", MaxCodeLen)
	case m.Error != nil && len(m.Error.Message) > MaxMessageLen:
		return nil, Errorf(CodeBadRequest, "error.message longer than %d bytes", MaxMessageLen)
	}
	for _, f := range [...]struct{ name, value string }{
		{"id", m.ID}, {"device", m.Device}, {"name", m.Name}, {"ts", m.TS}, {"error.code", errorCode(m.Error)},
	} {
		if strings.ContainsFunc(f.value, unicode.IsControl) {
			return nil, Errorf(CodeBadRequest, "%s has control characters", f.name)
		}
	}
	if isNull(m.Args) {
		m.Args = nil
	}
	if isNull(m.Data) {
		m.Data = nil
	}
	if m.Type == TypeCommand {
		switch {
		case m.ID == "":
			return nil, Errorf(CodeBadRequest, "command without an id")
		case m.Name == "":
			return nil, Errorf(CodeBadRequest, "command without a name")
		case m.Args != nil && m.Args[0] != '{':
			return nil, Errorf(CodeBadRequest, "command args must be a JSON object")
		}
	}
	return &m, nil
}

// Encode marshals m. It fails only for values JSON cannot represent.
func Encode(m *Message) ([]byte, error) { return json.Marshal(m) }

// MustData marshals v for a Data or Args field; v must be marshalable (the
// types in this package are), so a failure is a programming error and panics.
func MustData(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("protocol: marshal data: " + err.Error())
	}
	return b
}

// depth returns the deepest nesting of objects and arrays in a JSON text,
// ignoring brackets inside strings. It is a cheap pre-check so the decoder
// never recurses on hostile input.
func depth(b []byte) int {
	d, max := 0, 0
	inStr, esc := false, false
	for _, c := range b {
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
		case inStr:
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			d++
			if d > max {
				max = d
			}
		case c == '}' || c == ']':
			d--
		}
	}
	return max
}

// errorCode returns e's code, or "" for no error.
func errorCode(e *Error) string {
	if e == nil {
		return ""
	}
	return e.Code
}

func isNull(r json.RawMessage) bool {
	return len(r) == 0 || string(r) == "null"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// AsError returns err as an *Error, wrapping unknown errors as internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: clip(err.Error(), MaxMessageLen)}
}

// Kinds of mouse events, the values of MouseEvent.Kind.
const (
	MouseMove   = "mouse_move"   // the pointer moved (coalesced: at most 20 a second)
	MouseClick  = "mouse_click"  // a button was pressed
	MouseScroll = "mouse_scroll" // the wheel turned
)

// Mouse buttons, the values of MouseEvent.Button and of mouse_click's button.
const (
	ButtonLeft   = "left"
	ButtonRight  = "right"
	ButtonMiddle = "middle"
)

// MouseEvent is the Data of an event message about the pointer. X and Y are
// desktop pixels from the top left; Button is set on clicks; DX and DY (wheel
// steps, positive right and down) are sent on scrolls only, zeros included.
type MouseEvent struct {
	Kind   string `json:"kind"`
	X      int    `json:"x"`
	Y      int    `json:"y"`
	Button string `json:"button,omitempty"`
	DX     int    `json:"dx,omitempty"`
	DY     int    `json:"dy,omitempty"`
}

// MarshalJSON writes dx and dy on scrolls even when they are zero, and
// never on other kinds.
func (e MouseEvent) MarshalJSON() ([]byte, error) {
	type plain MouseEvent
	if e.Kind != MouseScroll {
		e.DX, e.DY = 0, 0
		return json.Marshal(plain(e))
	}
	return json.Marshal(struct {
		Kind   string `json:"kind"`
		X      int    `json:"x"`
		Y      int    `json:"y"`
		Button string `json:"button,omitempty"`
		DX     int    `json:"dx"`
		DY     int    `json:"dy"`
	}{e.Kind, e.X, e.Y, e.Button, e.DX, e.DY})
}

// Screenshot is the Data of a successful screenshot result: the image,
// encoded as Format and then as standard base64 with padding.
type Screenshot struct {
	Format string `json:"format"` // "png" or "jpeg": what Data holds, which may differ from the format asked for
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Data   string `json:"data"`
}
