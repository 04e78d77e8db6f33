package wsread

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// FuzzRead feeds arbitrary bytes to a connection's reader, as a client
// could send them: it must end exactly once, never panic, and deliver no
// message over the limit.
func FuzzRead(f *testing.F) {
	f.Add(clientFrame(true, opText, []byte(`{"type":"hello"}`)))
	f.Add(append(clientFrame(false, opBinary, []byte("ab")), clientFrame(true, opContinuation, []byte("cd"))...))
	f.Add(append(clientFrame(true, opPing, []byte("p")), clientFrame(true, opClose, []byte{0x03, 0xE8, 'o', 'k'})...))
	f.Add(clientFrame(true, opText, bytes.Repeat([]byte("z"), 70000)))
	f.Add([]byte{0x81, 0xFF, 0x7f, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1 << 16
		server, client := net.Pipe()
		h := newRecord()
		h.conn = New(server, h, limit, 5*time.Second)
		h.conn.Start()
		go func() {
			client.Write(data)
			client.Close()
		}()
		select {
		case <-h.end:
		case <-time.After(10 * time.Second):
			t.Fatal("reading did not end")
		}
		select {
		case err := <-h.end:
			t.Fatalf("End called twice, second with %v", err)
		default:
		}
		for _, m := range h.messages() {
			if len(m) > limit {
				t.Fatalf("a message of %d bytes passed a limit of %d", len(m), limit)
			}
		}
	})
}
