package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/internal/sendfile"
	"github.com/tether-desktop/tether/protocol"
)

// fakeInbox plays an agent's side of transfers on a real agent socket: it
// grants window chunks, acknowledges every chunk after check, and answers
// file_end with the SHA-256 of what it received (file_cancel with
// cancelled). It records what it saw.
type fakeInbox struct {
	a      *wsPeer
	window int
	check  func(rid string, seq uint32) bool // before each ack (nil for none); false stops the agent

	mu       sync.Mutex
	begins   []protocol.Message
	cancels  []string
	received map[string]int // chunks by relay id
	done     chan struct{}
}

// agentWithFiles connects an agent that offers receive_files (files up to
// maxSize) and beep.
func (r *relay) agentWithFiles(token string, maxSize int64) *wsPeer {
	r.t.Helper()
	a, _, err := r.dial("/ws/agent", token, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	a.next(protocol.TypeWelcome)
	a.send(protocol.Message{Type: protocol.TypeHello, Data: protocol.MustData(protocol.Hello{
		Name: "box", OS: "linux", Commands: []protocol.CommandSpec{beepSpec, protocol.ReceiveFilesSpec(maxSize)},
	})})
	a.next(protocol.TypeWatch)
	return a
}

func serveInbox(t *testing.T, a *wsPeer, window int, check func(string, uint32) bool) *fakeInbox {
	f := &fakeInbox{a: a, window: window, check: check, received: map[string]int{}, done: make(chan struct{})}
	hashes := map[string]interface {
		io.Writer
		Sum([]byte) []byte
	}{}
	go func() {
		defer close(f.done)
		for {
			a.conn.SetReadDeadline(time.Now().Add(hangGuard))
			typ, b, err := a.conn.ReadMessage()
			if err != nil {
				return
			}
			if typ == websocket.BinaryMessage {
				ch, err := protocol.ParseChunk(b)
				if err != nil {
					t.Errorf("the relay sent a bad chunk: %v", err)
					return
				}
				hashes[ch.ID].Write(ch.Data)
				f.mu.Lock()
				f.received[ch.ID]++
				f.mu.Unlock()
				if f.check != nil && !f.check(ch.ID, ch.Seq) {
					return
				}
				a.send(protocol.Message{Type: protocol.TypeFileAck, ID: ch.ID, Data: protocol.MustData(protocol.FileAck{Next: ch.Seq + 1, Window: f.window})})
				continue
			}
			var m protocol.Message
			json.Unmarshal(b, &m)
			switch m.Type {
			case protocol.TypeFileBegin:
				f.mu.Lock()
				f.begins = append(f.begins, m)
				f.mu.Unlock()
				hashes[m.ID] = sha256.New()
				a.send(protocol.Message{Type: protocol.TypeFileAck, ID: m.ID, Data: protocol.MustData(protocol.FileAck{Next: 0, Window: f.window})})
			case protocol.TypeFileEnd:
				var e protocol.FileEnd
				json.Unmarshal(m.Data, &e)
				got := hex.EncodeToString(hashes[m.ID].Sum(nil))
				if got != e.SHA256 {
					a.send(protocol.Result(m.ID, "", nil, protocol.Errorf(protocol.CodeHashMismatch, "differs")))
					continue
				}
				a.send(protocol.Result(m.ID, "", protocol.MustData(protocol.FileResult{SavedAs: "x", SHA256: got}), nil))
			case protocol.TypeFileCancel:
				f.mu.Lock()
				f.cancels = append(f.cancels, m.ID)
				f.mu.Unlock()
				a.send(protocol.Result(m.ID, "", nil, protocol.Errorf(protocol.CodeCancelled, "cancelled")))
			}
		}
	}()
	return f
}

// zeros is an endless reader of zero bytes: a file of any size without
// the memory.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestTransferRelayHoldsAtMostAWindow streams a 256 MiB file to an agent
// that asks for a window larger than allowed and acknowledges slowly:
// the relay clamps the window, and at every chunk the agent receives the
// chunks the relay has taken from the sender but the agent has not
// acknowledged stay within MaxWindow, so the bytes the relay holds for
// the transfer stay under 1 MiB whatever the file's size.
func TestTransferRelayHoldsAtMostAWindow(t *testing.T) {
	r := newRelay(t, nil)
	dev, tok := r.register("box")
	a := r.agentWithFiles(tok, 1<<40)
	client := r.client(r.pair(r.code(tok), ""))
	client.next(protocol.TypePresence)
	var mu sync.Mutex
	maxHeld, maxQueued := 0, 0
	serveInbox(t, a, 100, func(string, uint32) bool {
		r.srv.hub.mu.Lock()
		for _, tr := range r.srv.hub.files {
			maxHeld = max(maxHeld, int(tr.next-tr.acked))
		}
		ag := r.srv.hub.agents[dev]
		r.srv.hub.mu.Unlock()
		ag.peer.mu.Lock()
		q := ag.peer.queued
		ag.peer.mu.Unlock()
		mu.Lock()
		maxQueued = max(maxQueued, q)
		mu.Unlock()
		time.Sleep(50 * time.Microsecond) // a desktop slower than the sender
		return true
	})
	const size = 256 << 20
	res, err := sendfile.Send(client.conn, "big", dev, "big.bin", zeros{}, size, sendfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == nil || !*res.OK {
		t.Fatalf("result %+v %v", res, res.Error)
	}
	held := maxHeld * (protocol.MaxChunk + 16)
	t.Logf("at most %d chunks (%d bytes) held for a %d MiB file; send queue peak %d bytes", maxHeld, held, size>>20, maxQueued)
	if maxHeld > protocol.MaxWindow || held > 1<<20 || maxQueued > 1<<20 {
		t.Fatalf("the relay held %d chunks (%d bytes, queue %d) of one transfer: over the window or 1 MiB", maxHeld, held, maxQueued)
	}
	if maxHeld < 2 {
		t.Fatalf("at most %d chunk in flight: the window is not used", maxHeld)
	}
	begins, chunks := r.metric(`tether_messages_relayed_total{type="file_begin"}`), r.metric(`tether_messages_relayed_total{type="file_chunk"}`)
	if begins != 1 || chunks != int(protocol.Chunks(size)) {
		t.Fatalf("relayed metrics: %d file_begin and %d file_chunk, want 1 and %d", begins, chunks, protocol.Chunks(size))
	}
}

// TestTransferWindowEnforced: chunks before the accept, beyond the window
// or out of order fail the transfer with bad_request, the agent is told
// to stop, and it never receives the offending chunk.
func TestTransferWindowEnforced(t *testing.T) {
	r := newRelay(t, nil)
	dev, tok := r.register("box")
	a := r.agentWithFiles(tok, 1<<30)
	client := r.client(r.pair(r.code(tok), ""))
	client.next(protocol.TypePresence)
	chunk := make([]byte, protocol.MaxChunk)
	sendChunk := func(id string, seq uint32) {
		client.conn.SetWriteDeadline(time.Now().Add(hangGuard))
		if err := client.conn.WriteMessage(websocket.BinaryMessage, protocol.AppendChunk(nil, id, seq, chunk)); err != nil {
			t.Fatal(err)
		}
	}
	begin := func(id string) string {
		client.send(protocol.Message{Type: protocol.TypeFileBegin, ID: id, Device: dev,
			Data: protocol.MustData(protocol.FileBegin{Name: "a.bin", Size: 10 * protocol.MaxChunk})})
		m := a.next(protocol.TypeFileBegin)
		var b protocol.FileBegin
		json.Unmarshal(m.Data, &b)
		if m.ID == id || b.Name != "a.bin" || b.Size != 10*protocol.MaxChunk {
			t.Fatalf("forwarded file_begin %+v %+v", m, b)
		}
		return m.ID
	}
	expectFailed := func(id, rid string) {
		t.Helper()
		res := client.next(protocol.TypeResult)
		if res.ID != id || res.Error == nil || res.Error.Code != protocol.CodeBadRequest {
			t.Fatalf("result %+v, want bad_request for %s", res, id)
		}
		if m := a.next(protocol.TypeFileCancel); m.ID != rid {
			t.Fatalf("cancel of %q, want %q", m.ID, rid)
		}
	}

	rid := begin("early")
	sendChunk("early", 0) // before the accept
	expectFailed("early", rid)

	rid = begin("beyond")
	a.send(protocol.Message{Type: protocol.TypeFileAck, ID: rid, Data: protocol.MustData(protocol.FileAck{Next: 0, Window: 2})})
	if ack := client.next(protocol.TypeFileAck); ack.ID != "beyond" || ack.Device != dev {
		t.Fatalf("ack %+v", ack)
	}
	sendChunk("beyond", 0)
	sendChunk("beyond", 1)
	sendChunk("beyond", 2) // the window is 2
	for seq := uint32(0); seq < 2; seq++ {
		a.conn.SetReadDeadline(time.Now().Add(hangGuard))
		typ, b, err := a.conn.ReadMessage()
		if err != nil || typ != websocket.BinaryMessage {
			t.Fatalf("agent read %v %v", typ, err)
		}
		if ch, _ := protocol.ParseChunk(b); ch.ID != rid || ch.Seq != seq {
			t.Fatalf("chunk %s/%d, want %s/%d", ch.ID, ch.Seq, rid, seq)
		}
	}
	expectFailed("beyond", rid) // and chunk 2 never reached the agent (next would have read it)

	rid = begin("order")
	a.send(protocol.Message{Type: protocol.TypeFileAck, ID: rid, Data: protocol.MustData(protocol.FileAck{Next: 0, Window: 8})})
	client.next(protocol.TypeFileAck)
	sendChunk("order", 1)
	expectFailed("order", rid)

	// Junk binary frames of no transfer are dropped; the socket lives.
	client.conn.WriteMessage(websocket.BinaryMessage, []byte("junk"))
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "alive", Device: dev, Name: "beep"})
	a.next(protocol.TypeCommand)
}

// TestTransferEndsWhenAPeerGoes: the agent going away answers the sender
// device_offline; the sender going away tells the agent to stop.
func TestTransferEndsWhenAPeerGoes(t *testing.T) {
	r := newRelay(t, nil)
	dev, tok := r.register("box")
	a := r.agentWithFiles(tok, 1<<30)
	sess := r.pair(r.code(tok), "")
	client := r.client(sess)
	client.next(protocol.TypePresence)

	client.send(protocol.Message{Type: protocol.TypeFileBegin, ID: "f1", Device: dev, Data: protocol.MustData(protocol.FileBegin{Name: "a", Size: 5})})
	rid := a.next(protocol.TypeFileBegin).ID
	client.conn.Close()
	if m := a.next(protocol.TypeFileCancel); m.ID != rid {
		t.Fatalf("cancel %+v, want %s", m, rid)
	}

	client = r.client(sess)
	client.next(protocol.TypePresence)
	client.send(protocol.Message{Type: protocol.TypeFileBegin, ID: "f2", Device: dev, Data: protocol.MustData(protocol.FileBegin{Name: "a", Size: 5})})
	a.next(protocol.TypeFileBegin)
	a.conn.Close()
	res := client.next(protocol.TypeResult)
	if res.ID != "f2" || res.Error == nil || res.Error.Code != protocol.CodeDeviceOffline {
		t.Fatalf("result %+v, want device_offline", res)
	}
}

// TestTransferRefusals: what the relay answers without the agent.
func TestTransferRefusals(t *testing.T) {
	r := newRelay(t, nil)
	dev, tok := r.register("box")
	a := r.agent(tok) // beep only: receive_files is off
	client := r.client(r.pair(r.code(tok), ""))
	client.next(protocol.TypePresence)
	try := func(id string, b protocol.FileBegin, want string) {
		t.Helper()
		client.send(protocol.Message{Type: protocol.TypeFileBegin, ID: id, Device: dev, Data: protocol.MustData(b)})
		res := client.next(protocol.TypeResult)
		if res.ID != id || res.Error == nil || res.Error.Code != want {
			t.Fatalf("%s: %+v, want %s", id, res, want)
		}
	}
	try("off", protocol.FileBegin{Name: "a", Size: 1}, protocol.CodeNotAllowed)
	a.conn.Close()
	dev, tok = r.register("box2")
	r.agentWithFiles(tok, 1000)
	client = r.client(r.pair(r.code(tok), ""))
	client.next(protocol.TypePresence)
	try("big", protocol.FileBegin{Name: "a", Size: 1001}, protocol.CodeTooLarge)
	try("neg", protocol.FileBegin{Name: "a", Size: -1}, protocol.CodeInvalidArgs)
	try("noname", protocol.FileBegin{Name: "", Size: 1}, protocol.CodeInvalidArgs)
	try("bidi", protocol.FileBegin{Name: "a\u202eb", Size: 1}, protocol.CodeInvalidArgs)
	try("long", protocol.FileBegin{Name: string(make([]byte, 300)), Size: 1}, protocol.CodeInvalidArgs)
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "cmd", Device: dev, Name: protocol.CommandReceiveFiles, Args: protocol.FileBegin{Name: "a", Size: 1}.Args()})
	if res := client.next(protocol.TypeResult); res.Error == nil || res.Error.Code != protocol.CodeBadRequest {
		t.Fatalf("receive_files as a command: %+v", res)
	}
	for i := range protocol.MaxTransfers {
		client.send(protocol.Message{Type: protocol.TypeFileBegin, ID: string(rune('a' + i)), Device: dev, Data: protocol.MustData(protocol.FileBegin{Name: "a", Size: 1})})
	}
	try("fifth", protocol.FileBegin{Name: "a", Size: 1}, protocol.CodeRateLimited)
	// A command may not take the id of an open transfer, nor a transfer that of another.
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "a", Device: dev, Name: "beep"})
	if m := client.next(protocol.TypeError, protocol.TypeResult); m.Type != protocol.TypeError || m.ID != "a" {
		t.Fatalf("a command with a transfer's id: %+v", m)
	}
	client.send(protocol.Message{Type: protocol.TypeFileBegin, ID: "b", Device: dev, Data: protocol.MustData(protocol.FileBegin{Name: "a", Size: 1})})
	if m := client.next(protocol.TypeError, protocol.TypeResult); m.Type != protocol.TypeError || m.ID != "b" {
		t.Fatalf("a transfer with a transfer's id: %+v", m)
	}
}
