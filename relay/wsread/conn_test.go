package wsread

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// record is a Handler that keeps what it was given.
type record struct {
	mu    sync.Mutex
	msgs  [][]byte
	bins  []bool
	pings [][]byte
	fail  func(msg []byte) error // Message's answer; nil: accept
	end   chan error
	conn  *Conn
	drain bool // End drains before it closes
}

func newRecord() *record { return &record{end: make(chan error, 2)} }

func (r *record) Message(data []byte, bin bool) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, data)
	r.bins = append(r.bins, bin)
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		return fail(data)
	}
	return nil
}

func (r *record) Ping(data []byte) {
	r.mu.Lock()
	r.pings = append(r.pings, data)
	r.mu.Unlock()
}

func (r *record) End(err error) {
	if r.drain {
		r.conn.Drain()
	}
	r.conn.Close()
	r.end <- err
}

func (r *record) messages() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.msgs...)
}

// ended waits (bounded) for End and returns its error.
func (r *record) ended(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.end:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("End was not called within 20 s")
		return nil
	}
}

// server upgrades every request with gorilla and hands the connection to
// Add with a handler from next.
type server struct {
	*httptest.Server
	conns chan *Conn
}

func newServer(t testing.TB, limit int64, idle time.Duration, next func() *record) *server {
	s := &server{conns: make(chan *Conn, 1024)}
	up := websocket.Upgrader{ReadBufferSize: 128, WriteBufferSize: 128}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		h := next()
		h.conn = New(ws.NetConn(), h, limit, idle)
		h.conn.Start()
		s.conns <- h.conn
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) dial(t testing.TB, bufSize int) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{ReadBufferSize: bufSize, WriteBufferSize: bufSize}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(s.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	<-s.conns
	return ws
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 20 s", what)
}

func TestMessagesArriveWholeAndInOrder(t *testing.T) {
	h := newRecord()
	s := newServer(t, 1<<20, time.Minute, func() *record { return h })
	// A 128-byte write buffer makes gorilla send long messages as many
	// fragments; sizes around the 4 KB read buffer and far past it.
	ws := s.dial(t, 128)
	var want [][]byte
	for i, n := range []int{0, 1, 125, 126, 4000, 4096, 4097, 65535, 65536, 300000, 1 << 20} {
		m := bytes.Repeat([]byte{byte('a' + i)}, n)
		typ := websocket.TextMessage
		if i%2 == 1 {
			typ = websocket.BinaryMessage
		}
		if err := ws.WriteMessage(typ, m); err != nil {
			t.Fatal(err)
		}
		want = append(want, m)
	}
	waitFor(t, "every message", func() bool { return len(h.messages()) == len(want) })
	for i, m := range h.messages() {
		if !bytes.Equal(m, want[i]) {
			t.Fatalf("message %d: %d bytes, want %d", i, len(m), len(want[i]))
		}
		if h.bins[i] != (i%2 == 1) {
			t.Fatalf("message %d: binary = %v", i, h.bins[i])
		}
	}
}

func TestManyMessagesInOneRead(t *testing.T) {
	h := newRecord()
	s := newServer(t, 1<<20, time.Minute, func() *record { return h })
	ws := s.dial(t, 1<<16)
	// Frames written in one go arrive in one read, some split across
	// the 4 KB buffer's end.
	var all bytes.Buffer
	for i := 0; i < 500; i++ {
		all.Write(clientFrame(true, opText, []byte(strings.Repeat("x", i%300))))
	}
	if _, err := ws.NetConn().Write(all.Bytes()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "500 messages", func() bool { return len(h.messages()) == 500 })
	for i, m := range h.messages() {
		if len(m) != i%300 {
			t.Fatalf("message %d has %d bytes, want %d", i, len(m), i%300)
		}
	}
}

func TestPingsReachTheHandlerBetweenFragments(t *testing.T) {
	h := newRecord()
	s := newServer(t, 1<<20, time.Minute, func() *record { return h })
	ws := s.dial(t, 1024)
	raw := ws.NetConn()
	write := func(b []byte) {
		if _, err := raw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	write(clientFrame(false, opText, []byte("hel")))
	write(clientFrame(true, opPing, []byte("are you there")))
	write(clientFrame(false, opContinuation, []byte("lo, ")))
	write(clientFrame(true, opPong, nil))
	write(clientFrame(true, opContinuation, []byte("world")))
	waitFor(t, "the message", func() bool { return len(h.messages()) == 1 })
	if got := string(h.messages()[0]); got != "hello, world" {
		t.Fatalf("message %q", got)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.pings) != 1 || string(h.pings[0]) != "are you there" {
		t.Fatalf("pings %q", h.pings)
	}
}

func TestCloseFrameEndsWithItsCode(t *testing.T) {
	h := newRecord()
	s := newServer(t, 1<<20, time.Minute, func() *record { return h })
	ws := s.dial(t, 1024)
	ws.WriteMessage(websocket.TextMessage, []byte("last"))
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second))
	var ce *CloseError
	if err := h.ended(t); !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "bye" {
		t.Fatalf("End(%v), want close 4001 bye", err)
	}
	if len(h.messages()) != 1 {
		t.Fatalf("the message before the close was lost")
	}
}

func TestTooBigEndsBeforeThePayload(t *testing.T) {
	h := newRecord()
	s := newServer(t, 1000, time.Minute, func() *record { return h })
	ws := s.dial(t, 1024)
	ws.WriteMessage(websocket.TextMessage, make([]byte, 1000))
	ws.WriteMessage(websocket.TextMessage, make([]byte, 1001))
	if err := h.ended(t); err != ErrTooBig {
		t.Fatalf("End(%v), want ErrTooBig", err)
	}
	// Fragments count together.
	h2 := newRecord()
	s2 := newServer(t, 1000, time.Minute, func() *record { return h2 })
	raw := s2.dial(t, 1024).NetConn()
	raw.Write(clientFrame(false, opBinary, make([]byte, 600)))
	raw.Write(clientFrame(true, opContinuation, make([]byte, 600)))
	if err := h2.ended(t); err != ErrTooBig {
		t.Fatalf("End(%v), want ErrTooBig for 1200 bytes in two fragments", err)
	}
}

func TestBadFramesAreProtocolErrors(t *testing.T) {
	unmasked := clientFrame(true, opText, []byte("hi"))
	unmasked[1] &^= 0x80
	cases := map[string][]byte{
		"unmasked":             unmasked[:4],
		"reserved bit":         append([]byte{0xC1}, clientFrame(true, opText, nil)[1:]...),
		"opcode 3":             clientFrame(true, 3, nil),
		"fragmented ping":      clientFrame(false, opPing, nil),
		"long ping":            clientFrame(true, opPing, make([]byte, 126)),
		"lone continuation":    clientFrame(true, opContinuation, []byte("x")),
		"text inside a text":   append(clientFrame(false, opText, []byte("a")), clientFrame(true, opText, []byte("b"))...),
		"close code 1005":      clientFrame(true, opClose, []byte{0x03, 0xED}),
		"close with one byte":  clientFrame(true, opClose, []byte{0x03}),
		"close reason not utf": clientFrame(true, opClose, []byte{0x03, 0xE8, 0xff}),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			h := newRecord()
			s := newServer(t, 1<<20, time.Minute, func() *record { return h })
			raw := s.dial(t, 1024).NetConn()
			raw.Write(b)
			var pe *ProtocolError
			if err := h.ended(t); !errors.As(err, &pe) {
				t.Fatalf("End(%v), want a protocol error", err)
			}
		})
	}
}

func TestSilentClientTimesOut(t *testing.T) {
	h := newRecord()
	s := newServer(t, 1<<20, 200*time.Millisecond, func() *record { return h })
	s.dial(t, 1024)
	if err := h.ended(t); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("End(%v), want a timeout", err)
	}
}

func TestFramesKeepAClientAlive(t *testing.T) {
	h := newRecord()
	s := newServer(t, 1<<20, time.Hour, func() *record { return h })
	ws := s.dial(t, 1024)
	// Every whole frame, a pong too, moves the deadline an idle time
	// from its arrival: watched as the deadline itself moving on, not by
	// timing the client against it.
	for i, send := range []func() error{
		func() error { return ws.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second)) },
		func() error { return ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)) },
		func() error { return ws.WriteMessage(websocket.TextMessage, []byte("x")) },
	} {
		before := h.conn.deadline.Load()
		for now() <= before-int64(time.Hour)+int64(time.Millisecond) {
			time.Sleep(time.Millisecond) // the next extension must land later than the last
		}
		if err := send(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("frame %d to extend the deadline", i), func() bool { return h.conn.deadline.Load() > before })
	}
	select {
	case err := <-h.end:
		t.Fatalf("ended: %v", err)
	default:
	}
}

func TestAFrameSentAByteAtATimeTimesOut(t *testing.T) {
	h := newRecord()
	s := newServer(t, 1<<20, 300*time.Millisecond, func() *record { return h })
	raw := s.dial(t, 1024).NetConn()
	frame := clientFrame(true, opText, bytes.Repeat([]byte("x"), 100))
	go func() {
		for _, b := range frame {
			if _, err := raw.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // 10 s for the frame, 3 bytes per idle time
		}
	}()
	if err := h.ended(t); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("End(%v), want a timeout", err)
	}
	if n := len(h.messages()); n != 0 {
		t.Fatalf("%d messages", n)
	}
}

func TestExpireFixesTheDeadline(t *testing.T) {
	h := newRecord()
	s := newServer(t, 1<<20, time.Minute, func() *record { return h })
	ws := s.dial(t, 1024)
	h.conn.Expire(time.Now().Add(300 * time.Millisecond))
	ws.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second)) // does not extend it
	if err := h.ended(t); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("End(%v), want a timeout", err)
	}
}

func TestCloseEndsAWaitingConn(t *testing.T) {
	h := newRecord()
	s := newServer(t, 1<<20, time.Minute, func() *record { return h })
	ws := s.dial(t, 1024)
	h.conn.Close()
	if err := h.ended(t); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("End(%v), want net.ErrClosed", err)
	}
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("the client's socket is still open")
	}
}

func TestClientGoneEnds(t *testing.T) {
	h := newRecord()
	s := newServer(t, 1<<20, time.Minute, func() *record { return h })
	ws := s.dial(t, 1024)
	ws.NetConn().Close()
	if err := h.ended(t); !errors.Is(err, io.EOF) {
		t.Fatalf("End(%v), want EOF", err)
	}
}

func TestDrainReadsToTheClientsClose(t *testing.T) {
	stop := errors.New("stop")
	h := newRecord()
	h.drain = true
	h.fail = func(m []byte) error {
		if string(m) == "stop" {
			return stop
		}
		return nil
	}
	s := newServer(t, 1<<20, time.Minute, func() *record { return h })
	ws := s.dial(t, 1024)
	ws.WriteMessage(websocket.TextMessage, []byte("stop"))
	ws.WriteMessage(websocket.TextMessage, []byte("ignored"))
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-h.end:
		t.Fatalf("End returned before the client closed: %v", err)
	default:
	}
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
	if err := h.ended(t); err != stop {
		t.Fatalf("End(%v), want the handler's error", err)
	}
}

// TestIdleConnsHoldNoGoroutine is the point of the package: on Linux a
// thousand silent connections park no goroutine each.
func TestIdleConnsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux has the poller")
	}
	const n = 1000
	s := newServer(t, 1<<20, time.Minute, newRecord)
	var clients []net.Conn
	before := runtime.NumGoroutine()
	for i := 0; i < n; i++ {
		ws := s.dial(t, 256)
		ws.WriteMessage(websocket.TextMessage, []byte("hello"))
		clients = append(clients, ws.NetConn())
	}
	waitFor(t, "readers gone", func() bool {
		// httptest's per-connection goroutines end with the hijack; what
		// is left is the sweeper and the poller, started once.
		return runtime.NumGoroutine()-before < 20
	})
	for _, c := range clients {
		c.Close()
	}
}

// clientFrame encodes one masked frame as a client sends it.
func clientFrame(fin bool, op byte, payload []byte) []byte {
	b := []byte{op, 0x80}
	if fin {
		b[0] |= 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b[1] |= byte(n)
	case n <= 0xFFFF:
		b[1] |= 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] |= 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, payload...)
	unmask(key, 0, b[start:])
	return b
}

// TestClosedBeforeStartStillEnds covers a socket whose writer failed (and
// closed it) between New and Start: Start must still end it, so that the
// handler's teardown runs (a relay once kept counting such a browser as a
// watcher).
func TestClosedBeforeStartStillEnds(t *testing.T) {
	h := newRecord()
	up := websocket.Upgrader{ReadBufferSize: 128, WriteBufferSize: 128}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		h.conn = New(ws.NetConn(), h, 1<<20, time.Minute)
		h.conn.Close()
		h.conn.Start()
	}))
	t.Cleanup(srv.Close)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := h.ended(t); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("End(%v), want net.ErrClosed", err)
	}
}
