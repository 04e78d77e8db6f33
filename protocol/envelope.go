package protocol

import (
	"bytes"
	"strconv"
)

// Envelope is the routing part of a frame that a relay forwards as it came:
// its type, the device it speaks for and its timestamp. ReadEnvelope fills
// it without decoding the frame's data.
type Envelope struct {
	Type   string
	Device string
	TS     string
}

// ReadEnvelope reads the envelope of a frame of the plain shape the agent
// sends telemetry and events in: one JSON object, with no whitespace around
// it, whose keys are "type", "data" and optionally "device" and "ts", each
// at most once (in any order), type, device and ts being non-empty strings
// of printable ASCII without escapes, data being present and not null. An
// absent device or ts is "" in the Envelope. It reports false for every
// other frame, valid or not: the caller then decodes the frame with Decode,
// which gives the refusal or the full message.
//
// A frame it accepts is one Decode accepts too, with the same Type, Device
// and TS, and a Data that is not nil: so it can be forwarded byte for byte
// instead of decoded and encoded again (see Forward; FuzzReadEnvelope checks
// this). It allocates nothing but the device and ts strings and reads the
// frame twice (JSON syntax, UTF-8 and nesting depth in one pass, then the
// keys) without building any value.
func ReadEnvelope(frame []byte) (Envelope, bool) {
	var env Envelope
	if len(frame) < 2 || frame[0] != '{' || frame[len(frame)-1] != '}' {
		return env, false
	}
	if !validFrame(frame) {
		return env, false
	}
	// The frame is one valid JSON object: walk its top-level keys.
	var seenType, seenDevice, seenTS, seenData bool
	i := 1
	for {
		if i >= len(frame) || frame[i] != '"' {
			return env, false // whitespace or an empty object
		}
		key, next, ok := plainString(frame, i)
		if !ok || next >= len(frame) || frame[next] != ':' {
			return env, false
		}
		i = next + 1
		switch string(key) { // no copy: the compiler compares the bytes
		case "type", "device", "ts":
			if i >= len(frame) || frame[i] != '"' {
				return env, false
			}
			v, end, ok := plainString(frame, i)
			if !ok || len(v) == 0 {
				return env, false // "" would be read as absent
			}
			switch string(key) {
			case "type":
				if seenType || !knownTypes[string(v)] {
					return env, false
				}
				seenType, env.Type = true, typeName(v)
			case "device":
				if seenDevice || len(v) > MaxDeviceLen {
					return env, false
				}
				seenDevice, env.Device = true, string(v)
			default:
				if seenTS || len(v) > MaxTSLen {
					return env, false
				}
				seenTS, env.TS = true, string(v)
			}
			i = end
		case "data":
			end, ok := skipValue(frame, i)
			if !ok || seenData || bytes.Equal(bytes.Trim(frame[i:end], " \t\r\n"), []byte("null")) {
				return env, false
			}
			seenData = true
			i = end
		default:
			return env, false
		}
		if i >= len(frame) {
			return env, false
		}
		switch frame[i] {
		case ',':
			i++
		case '}':
			if i != len(frame)-1 || !seenType || !seenData {
				return env, false
			}
			return env, true
		default:
			return env, false // whitespace between tokens
		}
	}
}

// Forward returns the bytes to forward for frame, whose envelope ReadEnvelope
// read as env, from an agent of device: frame itself when it names device
// and has a ts, or a copy with the missing device (and ts, as now) added in
// front. It reports false when the frame names another device: an agent
// speaks for its own device only, and such a frame must be decoded and
// rewritten. The result means the same JSON as the frame decoded, given
// device and ts (now when it had none), and encoded again. now is read only
// when the frame has no ts.
func Forward(frame []byte, env Envelope, device, now string) ([]byte, bool) {
	switch {
	case env.Device != "" && env.Device != device, !plain(device), env.TS == "" && !plain(now):
		return nil, false
	case env.Device != "" && env.TS != "":
		return frame, true
	}
	out := make([]byte, 0, len(frame)+len(device)+len(now)+20)
	out = append(out, '{')
	if env.Device == "" {
		out = append(out, `"device":`...)
		out = strconv.AppendQuote(out, device)
		out = append(out, ',')
	}
	if env.TS == "" {
		out = append(out, `"ts":`...)
		out = strconv.AppendQuote(out, now)
		out = append(out, ',')
	}
	return append(out, frame[1:]...), true
}

// plain reports whether s is non-empty printable ASCII with no quote or
// backslash: a JSON string as it is quoted.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return s != ""
}

// typeName returns a known type v as a string: for the types agents send
// all the time, the package's own constant, so that reading them allocates
// nothing.
func typeName(v []byte) string {
	switch string(v) {
	case TypeTelemetry:
		return TypeTelemetry
	case TypeEvent:
		return TypeEvent
	}
	return string(v)
}

// plainString reads the JSON string starting at b[i] (a '"') and returns
// its bytes and the index after its closing quote. It reports false for a
// string with an escape or a byte outside printable ASCII.
func plainString(b []byte, i int) ([]byte, int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// skipValue returns the index after the JSON value starting at b[i], in a
// frame already known to be valid JSON: it counts brackets outside strings
// and stops at the ',' or '}' that ends the value at this level.
func skipValue(b []byte, i int) (int, bool) {
	var s strScan
	d := 0
	for j := i; j < len(b); j++ {
		if s.inside(b[j]) {
			continue
		}
		switch b[j] {
		case '{', '[':
			d++
		case ']':
			d--
		case '}':
			if d == 0 {
				return j, j > i
			}
			d--
		case ',':
			if d == 0 {
				return j, j > i
			}
		}
	}
	return 0, false
}

// strScan follows JSON strings through a byte stream.
type strScan struct{ in, esc bool }

// inside takes the next byte c and reports whether it belongs to a string
// (its quotes included).
func (s *strScan) inside(c byte) bool {
	switch {
	case s.esc:
		s.esc = false
	case s.in && c == '\\':
		s.esc = true
	case s.in && c == '"':
		s.in = false
	case !s.in && c == '"':
		s.in = true
	default:
		return s.in
	}
	return true
}
