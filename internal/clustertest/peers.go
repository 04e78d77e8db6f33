package clustertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
)

// hangGuard bounds every single wait on a socket or a request. It is
// longer than the relay's command timeout (20 s), so that a command the
// relay gives up on is seen with the relay's own answer (timeout), not as
// a test that stopped waiting at the same moment.
const hangGuard = 25 * time.Second

// API calls the relay's HTTP API at base with bearer, sending body as JSON
// (when not nil) and decoding the answer into out (when not nil). It
// returns the response, body read and closed.
func API(t testing.TB, method, base, path, bearer string, body, out any) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	cl := http.Client{Timeout: hangGuard}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp
}

// Register registers a device through base and returns its id and token.
func Register(t testing.TB, base, name string) (id, token string) {
	t.Helper()
	var out map[string]string
	if resp := API(t, "POST", base, "/api/v1/devices", EnrollToken, map[string]string{"name": name, "os": "linux"}, &out); resp.StatusCode != 201 {
		t.Fatalf("register: %d %v", resp.StatusCode, out)
	}
	return out["device_id"], out["device_token"]
}

// Pair gets a pairing code for the device through codeBase and redeems it
// through pairBase into session (a new one when empty); it returns the
// session token.
func Pair(t testing.TB, codeBase, pairBase, deviceToken, session string) string {
	t.Helper()
	var code map[string]string
	if resp := API(t, "POST", codeBase, "/api/v1/pairing-codes", deviceToken, nil, &code); resp.StatusCode != 201 {
		t.Fatalf("pairing code: %d %v", resp.StatusCode, code)
	}
	var out map[string]string
	if resp := API(t, "POST", pairBase, "/api/v1/pairings", session, map[string]string{"code": code["code"]}, &out); resp.StatusCode != 201 {
		t.Fatalf("pair: %d %v", resp.StatusCode, out)
	}
	return out["session_token"]
}

// wsURL turns an http(s) base into the ws(s) URL of path.
func wsURL(base, path string) string {
	return "ws" + strings.TrimPrefix(base, "http") + path
}

// beep is the one command the test agents offer.
var beep = protocol.CommandSpec{Name: "beep", Args: []protocol.ArgSpec{
	{Name: "frequency_hz", Type: protocol.ArgInteger, Min: protocol.Float(100), Max: protocol.Float(4000), Default: 880},
}}

// Agent is a desktop agent over a real WebSocket: it sends hello, answers
// every beep with ok after Delay, streams telemetry every 200 ms while the
// relay says someone watches, and, unless NoReconnect, connects again
// (after 100–300 ms) whenever its socket ends, until Stop. Safe for
// concurrent use.
type Agent struct {
	base, token string
	delay       time.Duration
	reconnect   bool
	stop        chan struct{}
	done        chan struct{}

	connected atomic.Bool
	connects  atomic.Int64
	replaced  atomic.Int64 // sockets closed by the relay as replaced (4001)
	last      atomic.Int64 // when it last connected, Unix ns

	mu   sync.Mutex
	conn *websocket.Conn
}

// AgentOptions shape an Agent.
type AgentOptions struct {
	Delay       time.Duration // before each result
	NoReconnect bool
}

// StartAgent connects an agent of the device with token through base; it
// stops when t ends.
func StartAgent(t testing.TB, base, token string, o AgentOptions) *Agent {
	a := &Agent{base: base, token: token, delay: o.Delay, reconnect: !o.NoReconnect,
		stop: make(chan struct{}), done: make(chan struct{})}
	go a.run()
	t.Cleanup(a.Stop)
	return a
}

// Connected says whether the agent's socket is open and hello was sent.
func (a *Agent) Connected() bool { return a.connected.Load() }

// Connects is how many times the agent connected.
func (a *Agent) Connects() int64 { return a.connects.Load() }

// LastConnect is when the agent last connected (sent hello).
func (a *Agent) LastConnect() time.Time { return time.Unix(0, a.last.Load()) }

// Replaced is how many of its sockets the relay closed as replaced.
func (a *Agent) Replaced() int64 { return a.replaced.Load() }

// Stop closes the agent's socket and stops it connecting again. It blocks
// until the agent is gone.
func (a *Agent) Stop() {
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	a.mu.Lock()
	if a.conn != nil {
		a.conn.Close()
	}
	a.mu.Unlock()
	<-a.done
}

func (a *Agent) run() {
	defer close(a.done)
	for i := 0; ; i++ {
		a.session()
		if !a.reconnect {
			return
		}
		select {
		case <-a.stop:
			return
		case <-time.After(time.Duration(100+(i*37)%200) * time.Millisecond):
		}
	}
}

// session runs one socket until it ends.
func (a *Agent) session() {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial(wsURL(a.base, "/ws/agent"), http.Header{"Authorization": {"Bearer " + a.token}})
	if err != nil {
		return
	}
	a.mu.Lock()
	select {
	case <-a.stop:
		a.mu.Unlock()
		conn.Close()
		return
	default:
	}
	a.conn = conn
	a.mu.Unlock()
	defer conn.Close()
	var wmu sync.Mutex
	write := func(m *protocol.Message) {
		wmu.Lock()
		defer wmu.Unlock()
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		conn.WriteJSON(m)
	}
	write(&protocol.Message{Type: protocol.TypeHello, Data: protocol.MustData(protocol.Hello{
		Name: "test", OS: "linux", Commands: []protocol.CommandSpec{beep}})})
	a.connects.Add(1)
	a.last.Store(time.Now().UnixNano())
	a.connected.Store(true)
	defer a.connected.Store(false)
	var watchers atomic.Int64
	ended := make(chan struct{})
	defer close(ended)
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ended:
				return
			case <-t.C:
				if watchers.Load() > 0 {
					write(&protocol.Message{Type: protocol.TypeTelemetry, Data: protocol.MustData(protocol.Telemetry{CPUPercent: 1})})
				}
			}
		}
	}()
	for {
		conn.SetReadDeadline(time.Now().Add(90 * time.Second))
		_, b, err := conn.ReadMessage()
		if err != nil {
			if websocket.IsCloseError(err, 4001) {
				a.replaced.Add(1)
			}
			return
		}
		var m protocol.Message
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if m.Type == protocol.TypeWatch {
			var w protocol.Watch
			if json.Unmarshal(m.Data, &w) == nil {
				watchers.Store(int64(w.Watchers))
			}
			continue
		}
		if m.Type != protocol.TypeCommand {
			continue
		}
		go func() {
			time.Sleep(a.delay)
			write(protocol.Result(m.ID, m.Device, json.RawMessage(`{"beeped":true}`), nil))
		}()
	}
}

// Client is a paired browser's socket. Its frames are read by a goroutine
// into a queue; the test reads them with Next.
type Client struct {
	t    testing.TB
	conn *websocket.Conn
	in   chan *protocol.Message
	wmu  sync.Mutex
}

// DialClient opens a client socket of session through base.
func DialClient(t testing.TB, base, session string) *Client {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(wsURL(base, "/ws/client"), http.Header{"Authorization": {"Bearer " + session}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("client socket: %v (%d)", err, status)
	}
	c := &Client{t: t, conn: conn, in: make(chan *protocol.Message, 4096)}
	t.Cleanup(func() { conn.Close() })
	go func() {
		defer close(c.in)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var m protocol.Message
			if json.Unmarshal(b, &m) == nil {
				c.in <- &m
			}
		}
	}()
	return c
}

// Send sends m.
func (c *Client) Send(m *protocol.Message) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.conn.WriteJSON(m); err != nil {
		c.t.Fatalf("client send: %v", err)
	}
}

// Next returns the next frame matching ok within d, or nil.
func (c *Client) Next(d time.Duration, ok func(*protocol.Message) bool) *protocol.Message {
	timeout := time.After(d)
	for {
		select {
		case m, open := <-c.in:
			if !open {
				return nil
			}
			if ok(m) {
				return m
			}
		case <-timeout:
			return nil
		}
	}
}

// Online reads presence frames until one says device is online (or, with
// online false, offline) within d, and reports whether one did.
func (c *Client) Online(device string, online bool, d time.Duration) bool {
	return c.Next(d, func(m *protocol.Message) bool {
		if m.Type != protocol.TypePresence || m.Device != device {
			return false
		}
		var p protocol.Presence
		return json.Unmarshal(m.Data, &p) == nil && p.Online == online && !p.Removed
	}) != nil
}

// Telemetry reports whether telemetry of device arrives within d.
func (c *Client) Telemetry(device string, d time.Duration) bool {
	return c.Next(d, func(m *protocol.Message) bool { return m.Type == protocol.TypeTelemetry && m.Device == device }) != nil
}

// Command sends a beep with id to device and waits (at most hangGuard) for
// its result; it returns the result's error code, "ok" on success.
func (c *Client) Command(id, device string) string {
	c.t.Helper()
	c.Send(&protocol.Message{Type: protocol.TypeCommand, ID: id, Device: device, Name: "beep"})
	m := c.Next(hangGuard, func(m *protocol.Message) bool { return m.Type == protocol.TypeResult && m.ID == id })
	if m == nil {
		c.t.Fatalf("no result for command %s within %s", id, hangGuard)
	}
	return ResultCode(m)
}

// ResultCode is "ok" for a successful result, else its error code.
func ResultCode(m *protocol.Message) string {
	if m.OK != nil && *m.OK {
		return "ok"
	}
	if m.Error == nil {
		return fmt.Sprintf("result without error: %+v", m)
	}
	return m.Error.Code
}
