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
	maxHelloData    = 64 << 10
	maxHelloName    = 256
	maxHelloOS      = 64
	maxHelloShort   = 64  // arch, version
	maxHelloHost    = 255 // hostname
	maxHelloReason  = 256 // each reason in unavailable
	maxHelloList    = 64  // commands, unavailable entries, enum values
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
// long as the agent is connected and repeats it in every presence frame.
func decodeHello(data json.RawMessage) (*protocol.Hello, *protocol.Error) {
	if len(data) > maxHelloData {
		return nil, protocol.Errorf(protocol.CodeTooLarge, "hello data over %d bytes", maxHelloData)
	}
	var h protocol.Hello
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "hello data is not valid: %v", err)
	}
	if len(h.Commands) > maxHelloList {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "hello lists more than %d commands", maxHelloList)
	}
	for _, c := range h.Commands {
		if c.Name == "" || len(c.Name) > protocol.MaxNameLen || len(c.Args) > 32 {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "hello has a command with a bad name or too many args")
		}
	}
	if len(h.Name) > maxHelloName || len(h.OS) > maxHelloOS || len(h.Arch) > maxHelloShort ||
		len(h.Version) > maxHelloShort || len(h.Hostname) > maxHelloHost {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "hello name, os, arch, version or hostname too long")
	}
	if len(h.Unavailable) > maxHelloList {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "hello lists more than %d unavailable commands", maxHelloList)
	}
	for name, reason := range h.Unavailable {
		if len(name) > protocol.MaxNameLen || len(reason) > maxHelloReason {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "hello has an unavailable command with a name or reason too long")
		}
	}
	if h.Name == "" {
		h.Name = "desktop"
	}
	return &h, nil
}
