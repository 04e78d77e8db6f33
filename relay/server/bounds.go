package server

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/tether-desktop/tether/protocol"
)

// Bounds on what the relay keeps or forwards from a peer. Frames are bounded
// as a whole (protocol.MaxAgentFrame), but the relay must not keep or label
// a string whose size is the peer's choice: these bound each one.
const (
	maxErrorCode    = 64   // bytes of error.code in a result the relay forwards
	maxErrorMessage = 1024 // bytes of error.message in a result the relay forwards
	maxTSLen        = 35   // bytes of ts: RFC 3339 with nanoseconds and an offset
)

// cut returns s shortened to at most n bytes without splitting a character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// boundError returns an agent's error with its code and message cut to
// the relay's bounds. The code, unknown or not, is kept (clients may know
// more codes than the relay); only its length is bounded.
func boundError(e *protocol.Error) *protocol.Error {
	if e == nil || (len(e.Code) <= maxErrorCode && len(e.Message) <= maxErrorMessage) {
		return e
	}
	return &protocol.Error{Code: cut(e.Code, maxErrorCode), Message: cut(e.Message, maxErrorMessage)}
}

// boundTS returns ts if it is short enough to be a timestamp, else now's.
func boundTS(ts, now string) string {
	if ts == "" || len(ts) > maxTSLen {
		return now
	}
	return ts
}

// decodeHello parses and bounds a hello's data: the relay keeps it for as
// long as the agent is connected. protocol.DecodeHello is the one check, the
// same that registration's name and OS go through.
func decodeHello(data json.RawMessage) (*protocol.Hello, *protocol.Error) {
	return protocol.DecodeHello(data)
}
