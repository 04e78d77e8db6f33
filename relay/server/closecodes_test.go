package server

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// TestCloseCodesOfTheReader checks the close frame the relay answers
// with when its reader ends: the peer's own code when the peer closed
// first, 1002 with the reason for a frame that breaks RFC 6455.
func TestCloseCodesOfTheReader(t *testing.T) {
	r := newRelay(t, nil)
	_, tok := r.register("box")
	sess := r.pair(r.code(tok), "")
	answer := func(c *wsPeer) *websocket.CloseError {
		t.Helper()
		c.conn.SetReadDeadline(time.Now().Add(hangGuard))
		for {
			if _, _, err := c.conn.ReadMessage(); err != nil {
				ce, ok := err.(*websocket.CloseError)
				if !ok {
					t.Fatalf("want a close frame, got %v", err)
				}
				return ce
			}
		}
	}

	c := r.client(sess)
	c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4321, "bye"), time.Now().Add(time.Second))
	if ce := answer(c); ce.Code != 4321 {
		t.Fatalf("the relay answered a close 4321 with %d %q", ce.Code, ce.Text)
	}

	c = r.client(sess)
	// A text frame with the mask bit clear: a server must refuse it.
	c.conn.NetConn().Write([]byte{0x81, 0x02, 'h', 'i'})
	if ce := answer(c); ce.Code != websocket.CloseProtocolError || ce.Text == "" {
		t.Fatalf("an unmasked frame got close %d %q, want 1002 with a reason", ce.Code, ce.Text)
	}
}

func TestClosePayloadCutsBetweenCharacters(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	p := closePayload(4000, long)
	if len(p) > 125 || !utf8.Valid(p[2:]) || binary.BigEndian.Uint16(p) != 4000 {
		t.Fatalf("close payload of %d bytes, reason valid UTF-8: %v", len(p), utf8.Valid(p[2:]))
	}
	if p := closePayload(websocket.CloseNoStatusReceived, "x"); len(p) != 0 {
		t.Fatalf("a close without status has a %d-byte payload", len(p))
	}
}
