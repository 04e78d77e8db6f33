// Package wsread reads the frames that clients send on the relay's
// WebSockets, many connections at a time, without a goroutine parked per
// idle connection.
//
// A relay holds tens of thousands of sockets that are silent nearly all
// the time (agents between heartbeats). A reader goroutine parked in a
// WebSocket library's ReadMessage keeps an 8 KB stack for each; here a
// connection waits in the kernel instead (epoll on Linux, see Poller), and
// a goroutine with a pooled buffer runs only while frames are arriving. On
// other systems a goroutine per connection waits in Read, with the same
// frame handling.
//
// The handshake is gorilla/websocket's and the writes are the relay's;
// this package only reads, as RFC 6455 says a server must: client frames masked, no
// reserved bits (no extension is negotiated), control frames whole and at
// most 125 bytes, fragments in order, messages bounded by a read limit.
package wsread

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Opcodes of RFC 6455 §5.2.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// maxControlPayload is the largest payload a control frame may carry.
const maxControlPayload = 125

// maxHeader is the largest header a client frame can have: 2 bytes, an
// 8-byte length and a 4-byte mask key.
const maxHeader = 14

// header is the header of one frame from a client.
type header struct {
	fin    bool
	op     byte
	length int64   // payload bytes
	mask   [4]byte // the client's masking key
}

// ProtocolError is a frame that breaks RFC 6455; the connection must be
// closed with 1002 (protocol error).
type ProtocolError struct{ Reason string }

func (e *ProtocolError) Error() string { return "websocket protocol error: " + e.Reason }

// ErrTooBig ends a connection whose message is larger than its read
// limit; it must be closed with 1009 (message too big).
var ErrTooBig = errors.New("websocket message larger than the read limit")

// CloseError is the close frame the client sent: its status code (1005
// when it sent none) and reason.
type CloseError struct {
	Code int
	Text string
}

func (e *CloseError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("websocket closed by the client: %d", e.Code)
	}
	return fmt.Sprintf("websocket closed by the client: %d %s", e.Code, e.Text)
}

// parseHeader reads the header at the start of b. It returns the header and
// its size in bytes, or size 0 when b holds only the start of one. A header
// a server must refuse is an error (*ProtocolError).
func parseHeader(b []byte) (header, int, error) {
	if len(b) < 2 {
		return header{}, 0, nil
	}
	h := header{fin: b[0]&0x80 != 0, op: b[0] & 0x0F}
	if b[0]&0x70 != 0 {
		return h, 0, &ProtocolError{"reserved bits set (no extension was negotiated)"}
	}
	switch h.op {
	case opContinuation, opText, opBinary:
	case opClose, opPing, opPong:
		if !h.fin {
			return h, 0, &ProtocolError{"fragmented control frame"}
		}
	default:
		return h, 0, &ProtocolError{fmt.Sprintf("unknown opcode %d", h.op)}
	}
	if b[1]&0x80 == 0 {
		return h, 0, &ProtocolError{"unmasked frame from a client"}
	}
	n := 2
	switch l := b[1] & 0x7F; l {
	case 126:
		if len(b) < n+2 {
			return h, 0, nil
		}
		h.length = int64(binary.BigEndian.Uint16(b[n:]))
		n += 2
	case 127:
		if len(b) < n+8 {
			return h, 0, nil
		}
		l := binary.BigEndian.Uint64(b[n:])
		if l>>63 != 0 {
			return h, 0, &ProtocolError{"payload length with its top bit set"}
		}
		h.length = int64(l)
		n += 8
	default:
		h.length = int64(l)
	}
	if h.op >= opClose && h.length > maxControlPayload {
		return h, 0, &ProtocolError{"control frame over 125 bytes"}
	}
	if len(b) < n+4 {
		return h, 0, nil
	}
	copy(h.mask[:], b[n:n+4])
	return h, n + 4, nil
}

// unmask XORs b with the mask key, as if b started at offset pos of the
// payload, and returns the offset after it.
func unmask(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return pos + len(b)
}

// parseClose reads a close frame's payload (already unmasked) as RFC 6455
// §5.5.1 and §7.4 allow a client to send it.
func parseClose(payload []byte) error {
	switch {
	case len(payload) == 0:
		return &CloseError{Code: 1005}
	case len(payload) == 1:
		return &ProtocolError{"close frame with a 1-byte payload"}
	}
	code := int(binary.BigEndian.Uint16(payload))
	if !validCloseCode(code) {
		return &ProtocolError{fmt.Sprintf("close code %d may not be sent", code)}
	}
	text := payload[2:]
	if !utf8.Valid(text) {
		return &ProtocolError{"close reason not UTF-8"}
	}
	return &CloseError{Code: code, Text: string(text)}
}

// validCloseCode reports whether a client may send code in a close frame
// (RFC 6455 §7.4.1 and the IANA registry).
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
