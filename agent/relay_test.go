package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tether-desktop/tether/internal/wait"
	"github.com/tether-desktop/tether/protocol"
)

// fakeRelay plays the relay's side of the agent protocol on a real
// 127.0.0.1 listener: registration, pairing codes, and /ws/agent.
type fakeRelay struct {
	t      *testing.T
	srv    *httptest.Server
	enroll string // required enroll token, if set

	mu            sync.Mutex
	tokens        map[string]string // device token → device id
	registrations int
	failDials     int  // answer this many dials with 503
	noRead        bool // never read from agent sockets (no pongs either)
	maxFrame      int  // the largest agent frame the welcome allows (0: protocol.MaxAgentFrame)
	unpaired      int
	all           []*fakeConn

	conns chan *fakeConn
}

// fakeConn is one agent connection as the fake relay sees it.
type fakeConn struct {
	ws     *websocket.Conn
	device string
	msgs   chan *protocol.Message
	wmu    sync.Mutex
	pings  atomic.Int64 // pings the agent sent
}

func newFakeRelay(t *testing.T) *fakeRelay {
	r := &fakeRelay{t: t, tokens: map[string]string{}, conns: make(chan *fakeConn, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/devices", r.register)
	mux.HandleFunc("POST /api/v1/pairing-codes", r.pairingCode)
	mux.HandleFunc("DELETE /api/v1/device/pairings", r.unpairAll)
	mux.HandleFunc("GET /ws/agent", r.agentSocket)
	r.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		r.mu.Lock()
		for _, c := range r.all {
			c.ws.Close()
		}
		r.mu.Unlock()
		r.srv.Close()
	})
	return r
}

func (r *fakeRelay) URL() string { return r.srv.URL }

func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (r *fakeRelay) device(req *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.tokens[tok]
	return id, ok
}

func (r *fakeRelay) register(w http.ResponseWriter, req *http.Request) {
	if r.enroll != "" && req.Header.Get("Authorization") != "Bearer "+r.enroll {
		httpError(w, 401, "unauthorized", "enroll token required")
		return
	}
	var d Device
	if err := json.NewDecoder(req.Body).Decode(&d); err != nil || d.Name == "" || d.OS == "" {
		httpError(w, 400, "bad_request", "name and os required")
		return
	}
	r.mu.Lock()
	r.registrations++
	id, tok := fmt.Sprintf("d_%d", r.registrations), fmt.Sprintf("tok-%d", r.registrations)
	r.tokens[tok] = id
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	json.NewEncoder(w).Encode(map[string]string{"device_id": id, "device_token": tok})
}

func (r *fakeRelay) pairingCode(w http.ResponseWriter, req *http.Request) {
	if _, ok := r.device(req); !ok {
		httpError(w, 401, "unauthorized", "unknown device token")
		return
	}
	w.WriteHeader(201)
	json.NewEncoder(w).Encode(map[string]string{
		"code": "ABCD-2345", "expires_at": "2030-01-02T03:04:05Z", "url": r.srv.URL + "/pair?code=ABCD-2345",
	})
}

func (r *fakeRelay) unpairAll(w http.ResponseWriter, req *http.Request) {
	if _, ok := r.device(req); !ok {
		httpError(w, 401, "unauthorized", "unknown device token")
		return
	}
	r.mu.Lock()
	r.unpaired++
	r.mu.Unlock()
	w.WriteHeader(204)
}

func (r *fakeRelay) agentSocket(w http.ResponseWriter, req *http.Request) {
	id, ok := r.device(req)
	if !ok {
		httpError(w, 401, "unauthorized", "unknown device token")
		return
	}
	r.mu.Lock()
	fail := r.failDials > 0
	if fail {
		r.failDials--
	}
	noRead := r.noRead
	maxFrame := cmp.Or(r.maxFrame, protocol.MaxAgentFrame)
	r.mu.Unlock()
	if fail {
		w.Header().Set("Retry-After", "1")
		httpError(w, 503, "unavailable", "try later")
		return
	}
	ws, err := (&websocket.Upgrader{}).Upgrade(w, req, nil)
	if err != nil {
		return
	}
	c := &fakeConn{ws: ws, device: id, msgs: make(chan *protocol.Message, 1024)}
	r.mu.Lock()
	r.all = append(r.all, c)
	r.mu.Unlock()
	c.send(&protocol.Message{Type: protocol.TypeWelcome, Data: protocol.MustData(protocol.Welcome{
		DeviceID: id, Heartbeat: 25, MaxFrame: maxFrame, ServerTime: protocol.Timestamp(time.Now()),
	})})
	ws.SetPingHandler(func(data string) error {
		c.pings.Add(1)
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	if !noRead {
		go func() {
			defer close(c.msgs)
			for {
				_, b, err := ws.ReadMessage()
				if err != nil {
					return
				}
				m, err := protocol.Decode(b)
				if err != nil {
					r.t.Errorf("agent sent a bad frame %q: %v", b, err)
					return
				}
				c.msgs <- m
			}
		}()
	}
	r.conns <- c
}

func (c *fakeConn) send(m *protocol.Message) {
	b, _ := protocol.Encode(m)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *fakeConn) watch(n int) {
	c.send(&protocol.Message{Type: protocol.TypeWatch, Data: protocol.MustData(protocol.Watch{Watchers: n})})
}

func (c *fakeConn) command(id, name, args string) {
	m := &protocol.Message{Type: protocol.TypeCommand, ID: id, Device: c.device, Name: name}
	if args != "" {
		m.Args = json.RawMessage(args)
	}
	c.send(m)
}

func (c *fakeConn) closeWith(code int) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
	c.ws.Close()
}

// hangGuard bounds every wait in these tests; it is not a timing assertion.
const hangGuard = 15 * time.Second

// next returns the next message of type typ from the agent, skipping others.
func (c *fakeConn) next(t *testing.T, typ string) *protocol.Message {
	t.Helper()
	timeout := time.After(hangGuard)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				t.Fatalf("connection closed while waiting for %s", typ)
			}
			if m.Type == typ {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s message from the agent", typ)
		}
	}
}

func (r *fakeRelay) nextConn(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case c := <-r.conns:
		return c
	case <-time.After(hangGuard):
		t.Fatal("the agent did not connect")
		return nil
	}
}

func (r *fakeRelay) registered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.registrations
}

// waitFor polls cond until it holds (hang guard only).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	wait.Until(t, what, hangGuard, cond)
}

// fakeDesktop records what the commands asked of it.
type fakeDesktop struct {
	mu          sync.Mutex
	beeps       []int
	notes       []string
	unavailable map[string]string
}

func (d *fakeDesktop) Beep(ctx context.Context, hz int, dur time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.beeps = append(d.beeps, hz)
	return nil
}

func (d *fakeDesktop) Notify(ctx context.Context, title, body string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notes = append(d.notes, title)
	return nil
}

func (d *fakeDesktop) Unavailable() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.unavailable
}

// fakeSampler counts samples and returns a fixed value.
type fakeSampler struct{ n atomic.Int64 }

func (s *fakeSampler) Sample(context.Context) (protocol.Telemetry, error) {
	s.n.Add(1)
	return protocol.Telemetry{CPUPercent: 12.5, MemPercent: 40}, nil
}
