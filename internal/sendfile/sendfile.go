// Package sendfile sends a file to a desktop over a /ws/client socket the
// way the control page does (PROTOCOL.md, "Sending files"): file_begin,
// binary chunks within the window the agent grants, file_end with the
// SHA-256. The end-to-end tests and tether-bench use it as the browser.
package sendfile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
)

// Options change what Send does, for tests of the failure paths.
type Options struct {
	MIME string
	// BadHash sends a SHA-256 that is not the file's.
	BadHash bool
	// CancelAfter, when > 0, sends file_cancel once that many chunks were
	// acknowledged instead of finishing.
	CancelAfter uint32
	// OnAck is called with every ack's count of chunks written.
	OnAck func(next uint32)
	// Wait bounds the wait for each frame from the relay. Default 60 s.
	Wait time.Duration
}

// Send streams size bytes from r as file name to device over conn, under
// transfer id, and returns the transfer's result. It reads conn itself
// until the result, skipping frames of other kinds; nothing else may read
// or write conn meanwhile. It blocks.
func Send(conn *websocket.Conn, id, device, name string, r io.Reader, size int64, o Options) (*protocol.Message, error) {
	if o.Wait <= 0 {
		o.Wait = 60 * time.Second
	}
	begin := protocol.FileBegin{Name: name, Size: size, MIME: o.MIME}
	if err := writeJSON(conn, &protocol.Message{Type: protocol.TypeFileBegin, ID: id, Device: device, Data: protocol.MustData(begin)}); err != nil {
		return nil, err
	}
	chunks := protocol.Chunks(size)
	h := sha256.New()
	buf := make([]byte, protocol.MaxChunk)
	frame := make([]byte, 0, 6+len(id)+protocol.MaxChunk)
	var sent, acked, window uint32
	accepted, ended := false, false
	for {
		for accepted && !ended && sent < chunks && sent < acked+window {
			n := int(min(int64(protocol.MaxChunk), size-int64(sent)*protocol.MaxChunk))
			if _, err := io.ReadFull(r, buf[:n]); err != nil {
				return nil, fmt.Errorf("read the file: %w", err)
			}
			h.Write(buf[:n])
			frame = protocol.AppendChunk(frame[:0], id, sent, buf[:n])
			conn.SetWriteDeadline(time.Now().Add(o.Wait))
			if err := conn.WriteMessage(websocket.BinaryMessage, frame); err != nil {
				return nil, fmt.Errorf("send chunk %d: %w", sent, err)
			}
			sent++
		}
		if accepted && !ended && sent == chunks && o.CancelAfter == 0 {
			sum := hex.EncodeToString(h.Sum(nil))
			if o.BadHash {
				sum = hex.EncodeToString(make([]byte, 32))
			}
			if err := writeJSON(conn, &protocol.Message{Type: protocol.TypeFileEnd, ID: id, Device: device,
				Data: protocol.MustData(protocol.FileEnd{Chunks: chunks, SHA256: sum})}); err != nil {
				return nil, err
			}
			ended = true
		}
		m, err := next(conn, o.Wait)
		if err != nil {
			return nil, err
		}
		if m.ID != id {
			continue
		}
		switch m.Type {
		case protocol.TypeResult:
			return m, nil
		case protocol.TypeError:
			return nil, fmt.Errorf("the relay refused a frame: %v", m.Error)
		case protocol.TypeFileAck:
			var a protocol.FileAck
			if err := json.Unmarshal(m.Data, &a); err != nil {
				return nil, fmt.Errorf("file_ack: %w", err)
			}
			accepted, acked, window = true, a.Next, uint32(a.Window)
			if o.OnAck != nil {
				o.OnAck(a.Next)
			}
			if o.CancelAfter > 0 && a.Next >= o.CancelAfter && !ended {
				if err := writeJSON(conn, &protocol.Message{Type: protocol.TypeFileCancel, ID: id, Device: device}); err != nil {
					return nil, err
				}
				ended = true
			}
		}
	}
}

func writeJSON(conn *websocket.Conn, m *protocol.Message) error {
	b, err := protocol.Encode(m)
	if err != nil {
		return err
	}
	if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("send %s: %w", m.Type, err)
	}
	return nil
}

// next reads the next JSON frame.
func next(conn *websocket.Conn, wait time.Duration) (*protocol.Message, error) {
	for {
		conn.SetReadDeadline(time.Now().Add(wait))
		typ, b, err := conn.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		if typ != websocket.TextMessage {
			continue
		}
		m, err := protocol.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		return m, nil
	}
}
