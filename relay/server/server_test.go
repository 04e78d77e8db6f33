package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/store"
)

// hangGuard bounds every wait in these tests; it only catches hangs.
const hangGuard = 10 * time.Second

type relay struct {
	t   testing.TB
	srv *Server
	hs  *httptest.Server
	st  store.Store
	now func() time.Time
}

// clock is a settable clock for tests that need codes to expire.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newRelay(t testing.TB, edit func(*Config)) *relay {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the relay's cleanup: cleanups run last first
	return serveRelay(t, st, edit)
}

// serveRelay starts a relay on st (which the caller closes) on loopback.
func serveRelay(t testing.TB, st store.Store, edit func(*Config)) *relay {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	cfg := Config{
		Store: st, PublicURL: "http://" + hs.Listener.Addr().String(),
		CodeKey: bytes.Repeat([]byte{7}, 32), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	return &relay{t: t, srv: srv, hs: hs, st: st}
}

// do sends a request and decodes the JSON answer into out (if not nil).
func (r *relay) do(method, path, bearer string, body any, out any) *http.Response {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.hs.URL+path, rd)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			r.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp
}

func (r *relay) register(name string) (id, token string) {
	r.t.Helper()
	var out struct{ DeviceID, DeviceToken string }
	var raw map[string]string
	resp := r.do("POST", "/api/v1/devices", "", map[string]string{"name": name, "os": "linux"}, &raw)
	if resp.StatusCode != 201 {
		r.t.Fatalf("register: %d %v", resp.StatusCode, raw)
	}
	out.DeviceID, out.DeviceToken = raw["device_id"], raw["device_token"]
	return out.DeviceID, out.DeviceToken
}

func (r *relay) code(deviceToken string) string {
	r.t.Helper()
	var out map[string]string
	if resp := r.do("POST", "/api/v1/pairing-codes", deviceToken, nil, &out); resp.StatusCode != 201 {
		r.t.Fatalf("pairing code: %d %v", resp.StatusCode, out)
	}
	return out["code"]
}

// pair redeems code with session (empty for a new one) and returns the session token.
func (r *relay) pair(code, session string) string {
	r.t.Helper()
	var out map[string]string
	if resp := r.do("POST", "/api/v1/pairings", session, map[string]string{"code": code}, &out); resp.StatusCode != 201 {
		r.t.Fatalf("pair: %d %v", resp.StatusCode, out)
	}
	return out["session_token"]
}

type wsPeer struct {
	t    testing.TB
	conn *websocket.Conn
}

func (r *relay) dial(path, bearer string, hdr http.Header) (*wsPeer, *http.Response, error) {
	if hdr == nil {
		hdr = http.Header{}
	}
	if bearer != "" {
		hdr.Set("Authorization", "Bearer "+bearer)
	}
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(r.hs.URL, "http")+path, hdr)
	if err != nil {
		return nil, resp, err
	}
	r.t.Cleanup(func() { conn.Close() })
	return &wsPeer{t: r.t, conn: conn}, resp, nil
}

func (p *wsPeer) send(m any) {
	p.t.Helper()
	p.conn.SetWriteDeadline(time.Now().Add(hangGuard))
	if err := p.conn.WriteJSON(m); err != nil {
		p.t.Fatal(err)
	}
}

// next returns the next message whose type is one of types, skipping others.
func (p *wsPeer) next(types ...string) *protocol.Message {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(hangGuard))
	for {
		_, b, err := p.conn.ReadMessage()
		if err != nil {
			p.t.Fatalf("read: %v (waiting for %v)", err, types)
		}
		var m protocol.Message
		if err := json.Unmarshal(b, &m); err != nil {
			p.t.Fatal(err)
		}
		for _, t := range types {
			if m.Type == t {
				return &m
			}
		}
	}
}

// agent connects a fake-but-real agent that allows beep (and nothing else).
func (r *relay) agent(token string) *wsPeer {
	r.t.Helper()
	a, _, err := r.dial("/ws/agent", token, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	a.next(protocol.TypeWelcome)
	a.send(protocol.Message{Type: protocol.TypeHello, Data: protocol.MustData(protocol.Hello{
		Name: "box", OS: "linux", Commands: []protocol.CommandSpec{beepSpec},
	})})
	a.next(protocol.TypeWatch) // the first watch follows the hello: the agent is online
	return a
}

func (r *relay) client(session string) *wsPeer {
	r.t.Helper()
	c, _, err := r.dial("/ws/client", session, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	c.next(protocol.TypeWelcome)
	return c
}

var beepSpec = protocol.CommandSpec{Name: "beep", Args: []protocol.ArgSpec{
	{Name: "frequency_hz", Type: protocol.ArgInteger, Min: protocol.Float(100), Max: protocol.Float(4000), Default: 880},
	{Name: "duration_ms", Type: protocol.ArgInteger, Min: protocol.Float(20), Max: protocol.Float(3000), Default: 200},
}}

// waitWatch reads watch messages until one says n watchers.
func (p *wsPeer) waitWatch(n int) {
	p.t.Helper()
	for {
		var w protocol.Watch
		if err := json.Unmarshal(p.next(protocol.TypeWatch).Data, &w); err != nil {
			p.t.Fatal(err)
		}
		if w.Watchers == n {
			return
		}
	}
}

func TestEndToEndThroughRelay(t *testing.T) {
	r := newRelay(t, nil)
	dev, tok := r.register("box")
	agent := r.agent(tok)
	sess := r.pair(r.code(tok), "")
	client := r.client(sess)

	p := client.next(protocol.TypePresence)
	var pres protocol.Presence
	json.Unmarshal(p.Data, &pres)
	if p.Device != dev || !pres.Online || len(pres.Capabilities) != 1 || pres.Capabilities[0] != "beep" {
		t.Fatalf("presence = %+v %+v", p, pres)
	}
	agent.waitWatch(1)

	// Telemetry reaches the paired client, with the device set by the relay.
	agent.send(protocol.Message{Type: protocol.TypeTelemetry, Device: "d_forged", Data: protocol.MustData(protocol.Telemetry{CPUPercent: 42})})
	tm := client.next(protocol.TypeTelemetry)
	if tm.Device != dev || !strings.Contains(string(tm.Data), `"cpu_percent":42`) || tm.TS == "" {
		t.Fatalf("telemetry = %+v", tm)
	}

	// A command travels with a relay-assigned id and its result comes back with the client's.
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "c1", Device: dev, Name: "beep", Args: json.RawMessage(`{"frequency_hz":440}`)})
	cmd := agent.next(protocol.TypeCommand)
	if cmd.ID == "c1" || cmd.Name != "beep" || cmd.Device != dev {
		t.Fatalf("forwarded command = %+v", cmd)
	}
	agent.send(protocol.Result(cmd.ID, dev, nil, nil))
	res := client.next(protocol.TypeResult)
	if res.ID != "c1" || res.OK == nil || !*res.OK {
		t.Fatalf("result = %+v", res)
	}
	// The same result again is not delivered twice.
	agent.send(protocol.Result(cmd.ID, dev, nil, nil))

	// A second, unpaired session sees nothing of the device.
	_, tok2 := r.register("other")
	stranger := r.client(r.pair(r.code(tok2), ""))
	stranger.send(protocol.Message{Type: protocol.TypeCommand, ID: "x", Device: dev, Name: "beep"})
	if res := stranger.next(protocol.TypeResult, protocol.TypeTelemetry); res.Type != protocol.TypeResult || res.Error.Code != protocol.CodeNotPaired {
		t.Fatalf("stranger got %+v", res)
	}
	agent.send(protocol.Message{Type: protocol.TypeTelemetry, Data: protocol.MustData(protocol.Telemetry{CPUPercent: 43})})
	client.next(protocol.TypeTelemetry)
	stranger.send(protocol.Message{Type: protocol.TypeCommand, ID: "y", Device: "nope", Name: "beep"})
	if m := stranger.next(protocol.TypeResult, protocol.TypeTelemetry, protocol.TypePresence); m.Type != protocol.TypeResult || m.ID != "y" {
		t.Fatalf("stranger saw %+v", m)
	}

	// Closing the client tells the agent nobody watches any more.
	client.conn.Close()
	agent.waitWatch(0)
}

func TestCommandRefusals(t *testing.T) {
	r := newRelay(t, func(c *Config) { c.CommandTimeout = 300 * time.Millisecond })
	dev, tok := r.register("box")
	sess := r.pair(r.code(tok), "")
	client := r.client(sess)

	cmd := func(id, name, args string) *protocol.Message {
		t.Helper()
		m := protocol.Message{Type: protocol.TypeCommand, ID: id, Device: dev, Name: name}
		if args != "" {
			m.Args = json.RawMessage(args)
		}
		client.send(m)
		res := client.next(protocol.TypeResult)
		if res.ID != id {
			t.Fatalf("result id %q, want %q", res.ID, id)
		}
		return res
	}
	code := func(m *protocol.Message) string {
		if m.OK != nil && *m.OK {
			return "ok"
		}
		return m.Error.Code
	}

	start := time.Now()
	if c := code(cmd("off", "beep", "")); c != protocol.CodeDeviceOffline {
		t.Fatalf("offline device: %s", c)
	}
	t.Logf("device_offline answered in %v", time.Since(start))

	agent := r.agent(tok)
	client.next(protocol.TypePresence) // online
	for _, tc := range []struct{ name, cmd, args, want string }{
		{"switched off", "screenshot", "", protocol.CodeNotAllowed},
		{"unknown", "format_disk", "", protocol.CodeUnknownCommand},
		{"too high", "beep", `{"frequency_hz":4001}`, protocol.CodeInvalidArgs},
		{"unknown arg", "beep", `{"volume":3}`, protocol.CodeInvalidArgs},
		{"not an object", "beep", `[1]`, protocol.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == protocol.CodeBadRequest {
				client.send(map[string]any{"type": "command", "id": "z", "device": dev, "name": tc.cmd, "args": json.RawMessage(tc.args)})
				if e := client.next(protocol.TypeError); e.Error.Code != tc.want {
					t.Fatalf("got %+v", e.Error)
				}
				return
			}
			if c := code(cmd(tc.name, tc.cmd, tc.args)); c != tc.want {
				t.Fatalf("got %s, want %s", c, tc.want)
			}
		})
	}

	// An agent that never answers: the relay answers timeout, once.
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "slow", Device: dev, Name: "beep"})
	fwd := agent.next(protocol.TypeCommand)
	// The same id again while pending is refused with an error, not a second result.
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "slow", Device: dev, Name: "beep"})
	if e := client.next(protocol.TypeError, protocol.TypeResult); e.Type != protocol.TypeError || e.ID != "slow" || e.Error.Code != protocol.CodeBadRequest {
		t.Fatalf("duplicate id: %+v", e)
	}
	if res := client.next(protocol.TypeResult); res.ID != "slow" || res.Error.Code != protocol.CodeTimeout {
		t.Fatalf("timeout result = %+v", res)
	}
	agent.send(protocol.Result(fwd.ID, dev, nil, nil)) // too late: dropped

	// The agent goes away with a command pending: device_offline at once.
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "lost", Device: dev, Name: "beep"})
	agent.next(protocol.TypeCommand)
	agent.conn.Close()
	if res := client.next(protocol.TypeResult); res.ID != "lost" || res.Error.Code != protocol.CodeDeviceOffline {
		t.Fatalf("lost result = %+v", res)
	}
	// No second result for anything: the next frame is the offline presence, then silence.
	if m := client.next(protocol.TypePresence, protocol.TypeResult); m.Type != protocol.TypePresence {
		t.Fatalf("unexpected %+v", m)
	}
}

func TestPairingRules(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	r := newRelay(t, func(c *Config) { c.Now = clk.Now })
	dev1, tok1 := r.register("one")
	dev2, tok2 := r.register("two")

	code := r.code(tok1)
	if len(code) != 9 || code[4] != '-' {
		t.Fatalf("code %q", code)
	}
	// Typed in lower case without the dash works.
	sess := r.pair(strings.ToLower(strings.ReplaceAll(code, "-", "")), "")
	// A used code is refused.
	var e protocol.ErrorBody
	if resp := r.do("POST", "/api/v1/pairings", "", map[string]string{"code": code}, &e); resp.StatusCode != 404 || e.Error.Code != "not_found" {
		t.Fatalf("replayed code: %d %+v", resp.StatusCode, e)
	}
	// A second pairing with the same session adds the device to it.
	if s2 := r.pair(r.code(tok2), sess); s2 != sess {
		t.Fatalf("second pairing made a new session")
	}
	var list []protocol.DeviceEntry
	r.do("GET", "/api/v1/devices", sess, nil, &list)
	if len(list) != 2 || list[0].DeviceID != dev1 || list[1].DeviceID != dev2 {
		t.Fatalf("devices = %+v", list)
	}
	// Expired after ten minutes.
	late := r.code(tok1)
	clk.Add(10*time.Minute + time.Second)
	if resp := r.do("POST", "/api/v1/pairings", "", map[string]string{"code": late}, &e); resp.StatusCode != 404 || !strings.Contains(e.Error.Message, "expired") {
		t.Fatalf("expired code: %d %+v", resp.StatusCode, e)
	}
	// Malformed codes are a 400.
	for _, bad := range []string{"", "ABC", "ABCD-23456", "ABCD-0OIL", "<script>"} {
		if resp := r.do("POST", "/api/v1/pairings", "", map[string]string{"code": bad}, &e); resp.StatusCode != 400 {
			t.Fatalf("code %q: %d", bad, resp.StatusCode)
		}
	}
	// Forgetting a device.
	if resp := r.do("DELETE", "/api/v1/pairings/"+dev1, sess, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("unpair: %d", resp.StatusCode)
	}
	if resp := r.do("DELETE", "/api/v1/pairings/"+dev1, sess, nil, &e); resp.StatusCode != 404 || e.Error.Code != protocol.CodeNotPaired {
		t.Fatalf("unpair twice: %d %+v", resp.StatusCode, e)
	}
	// Wrong tokens.
	for _, tc := range []struct{ method, path, tok string }{
		{"GET", "/api/v1/devices", "tst_nope"},
		{"GET", "/api/v1/devices", tok1}, // a device token is no session
		{"POST", "/api/v1/pairing-codes", "tdt_nope"},
		{"POST", "/api/v1/pairing-codes", sess},
		{"DELETE", "/api/v1/device/pairings", ""},
	} {
		if resp := r.do(tc.method, tc.path, tc.tok, nil, &e); resp.StatusCode != 401 || e.Error.Code != protocol.CodeUnauthorized {
			t.Fatalf("%s %s with %q: %d %+v", tc.method, tc.path, tc.tok, resp.StatusCode, e)
		}
	}
}

func TestPairingGuessesAreLimited(t *testing.T) {
	r := newRelay(t, nil)
	var e protocol.ErrorBody
	limited := 0
	for i := 0; i < 15; i++ {
		resp := r.do("POST", "/api/v1/pairings", "", map[string]string{"code": NewPairingCode()}, &e)
		switch resp.StatusCode {
		case 404:
		case 429:
			limited++
			if resp.Header.Get("Retry-After") == "" || e.Error.Code != protocol.CodeRateLimited {
				t.Fatalf("429 without Retry-After or code: %+v", e)
			}
		default:
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	if limited != 5 { // burst of 10, then one every 6 s
		t.Fatalf("%d of 15 guesses limited, want 5", limited)
	}
}

func TestEnrollToken(t *testing.T) {
	r := newRelay(t, func(c *Config) { c.EnrollToken = "s3cret" })
	var e protocol.ErrorBody
	if resp := r.do("POST", "/api/v1/devices", "", map[string]string{"name": "x"}, &e); resp.StatusCode != 401 {
		t.Fatalf("without token: %d", resp.StatusCode)
	}
	var ok map[string]string
	if resp := r.do("POST", "/api/v1/devices", "s3cret", map[string]string{"name": "x"}, &ok); resp.StatusCode != 201 || !strings.HasPrefix(ok["device_token"], "tdt_") {
		t.Fatalf("with token: %d %v", resp.StatusCode, ok)
	}
}

func TestClientSocketOriginAndCookie(t *testing.T) {
	r := newRelay(t, nil)
	_, tok := r.register("box")
	sess := r.pair(r.code(tok), "")
	cookie := http.Header{"Cookie": {SessionCookie + "=" + sess}}
	for _, tc := range []struct {
		name   string
		origin string
		want   int
	}{
		{"own origin", r.srv.cfg.PublicURL, 101},
		{"foreign origin", "https://evil.example", 403},
		{"no origin", "", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := cookie.Clone()
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			_, resp, _ := r.dial("/ws/client", "", h)
			if resp == nil || resp.StatusCode != tc.want {
				t.Fatalf("status %v, want %d", resp, tc.want)
			}
		})
	}
	// Bearer clients (scripts) need no Origin.
	if _, resp, err := r.dial("/ws/client", sess, nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("bearer client: %v", err)
	}
}

func TestBadFramesAndLimits(t *testing.T) {
	r := newRelay(t, nil)
	_, tok := r.register("box")
	client := r.client(r.pair(r.code(tok), ""))
	for _, frame := range []string{`{`, `[]`, `{"type":"hello"}`, `{"type":"teleport"}`, "{\"type\":\"command\",\"id\":\"\xff\"}",
		strings.Repeat("[", 40) + strings.Repeat("]", 40), `{"type":"command","name":"beep"}`} {
		client.conn.WriteMessage(websocket.TextMessage, []byte(frame))
		if e := client.next(protocol.TypeError); e.Error == nil || e.Error.Code != protocol.CodeBadRequest {
			t.Fatalf("frame %q: %+v", frame, e)
		}
	}
	// A frame over 64 KiB closes the socket with 1009.
	client.conn.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("a"), protocol.MaxClientFrame+1))
	client.conn.SetReadDeadline(time.Now().Add(hangGuard))
	for {
		_, _, err := client.conn.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
				t.Fatalf("want close 1009, got %v", err)
			}
			break
		}
	}
}

func TestUnpairCutsOpenSockets(t *testing.T) {
	r := newRelay(t, nil)
	dev, tok := r.register("box")
	agent := r.agent(tok)
	sess := r.pair(r.code(tok), "")
	client := r.client(sess)
	client.next(protocol.TypePresence)
	agent.waitWatch(1)

	if resp := r.do("DELETE", "/api/v1/device/pairings", tok, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("unpair-all: %d", resp.StatusCode)
	}
	p := client.next(protocol.TypePresence)
	if p.Device != dev || !strings.Contains(string(p.Data), `"removed":true`) {
		t.Fatalf("presence after unpair = %s", p.Data)
	}
	agent.waitWatch(0)
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "c", Device: dev, Name: "beep"})
	if res := client.next(protocol.TypeResult, protocol.TypeTelemetry); res.Type != protocol.TypeResult || res.Error.Code != protocol.CodeNotPaired {
		t.Fatalf("after unpair: %+v", res)
	}
	// The session had no other device: it is gone with its last pairing.
	if resp := r.do("GET", "/api/v1/devices", sess, nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("list after unpair: %d, want 401 (session deleted with its last pairing)", resp.StatusCode)
	}
}

func TestSlowClientDoesNotStallOthers(t *testing.T) {
	r := newRelay(t, func(c *Config) {
		c.SendQueue = 8
		c.AgentFrameRate, c.AgentFrameBurst = 1e6, 1e6 // this test is about slow readers, not floods
	})
	_, tok := r.register("box")
	agent := r.agent(tok)
	sess := r.pair(r.code(tok), "")
	slow := r.client(sess) // never reads again
	fast := r.client(sess)
	_ = slow
	fast.next(protocol.TypePresence)
	const n = 5000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			agent.conn.WriteJSON(protocol.Message{Type: protocol.TypeTelemetry, Data: json.RawMessage(`{"cpu_percent":` + string(rune('0'+i%10)) + `,"mem_percent":1,"seq":` + strings.Repeat("9", 100) + `}`)})
		}
		agent.conn.WriteJSON(protocol.Message{Type: protocol.TypeEvent, Data: json.RawMessage(`{"kind":"done"}`)})
	}()
	// The fast client sees the final event although the slow one reads nothing.
	for {
		m := fast.next(protocol.TypeEvent, protocol.TypeTelemetry)
		if m.Type == protocol.TypeEvent {
			break
		}
	}
	<-done
}

func TestShutdownClosesWith1012(t *testing.T) {
	r := newRelay(t, nil)
	dev, tok := r.register("box")
	agent := r.agent(tok)
	client := r.client(r.pair(r.code(tok), ""))
	client.next(protocol.TypePresence)
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "p", Device: dev, Name: "beep"})
	if m := agent.next(protocol.TypeCommand, protocol.TypeError); m.Type != protocol.TypeCommand {
		t.Fatalf("agent got %+v", m.Error)
	}

	go r.srv.Shutdown(context.Background())
	if res := client.next(protocol.TypeResult); res.ID != "p" || res.Error.Code != protocol.CodeUnavailable {
		t.Fatalf("pending at shutdown: %+v", res)
	}
	for name, p := range map[string]*wsPeer{"agent": agent, "client": client} {
		p.conn.SetReadDeadline(time.Now().Add(hangGuard))
		for {
			_, _, err := p.conn.ReadMessage()
			if err != nil {
				if !websocket.IsCloseError(err, websocket.CloseServiceRestart) {
					t.Fatalf("%s: want 1012, got %v", name, err)
				}
				break
			}
		}
	}
}

func TestMetricsAndHealth(t *testing.T) {
	r := newRelay(t, nil)
	_, tok := r.register("box")
	r.agent(tok)
	resp, err := http.Get(r.hs.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	// The agent is counted once its handler runs; poll briefly.
	deadline := time.Now().Add(hangGuard)
	for {
		resp, err := http.Get(r.hs.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `tether_connections{kind="agent"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSecurityHeaders(t *testing.T) {
	r := newRelay(t, nil)
	resp, err := http.Get(r.hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, h := range []string{"Content-Security-Policy", "Referrer-Policy", "X-Content-Type-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", resp.Header.Get("Content-Security-Policy"))
	}
}

func TestFloodClosesOnlyTheFlooder(t *testing.T) {
	r := newRelay(t, nil)
	dev, tok := r.register("box")
	agent := r.agent(tok)
	sess := r.pair(r.code(tok), "")
	flooder := r.client(sess)
	calm := r.client(sess)
	calm.next(protocol.TypePresence)

	// Far more frames than the burst, as fast as the socket takes them.
	go func() {
		for i := 0; i < 5000; i++ {
			if flooder.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"nonsense"}`)) != nil {
				return
			}
		}
	}()
	flooder.conn.SetReadDeadline(time.Now().Add(hangGuard))
	for {
		_, _, err := flooder.conn.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
				t.Fatalf("flooder: want close 1008, got %v", err)
			}
			break
		}
	}
	// The other socket of the same session is unaffected.
	calm.send(protocol.Message{Type: protocol.TypeCommand, ID: "c", Device: dev, Name: "beep"})
	fwd := agent.next(protocol.TypeCommand)
	agent.send(protocol.Result(fwd.ID, dev, nil, nil))
	if res := calm.next(protocol.TypeResult); res.ID != "c" || !*res.OK {
		t.Fatalf("calm client's result: %+v", res)
	}
}

func TestEveryErrorIsJSON(t *testing.T) {
	r := newRelay(t, nil)
	for _, tc := range []struct{ method, path string }{
		{"POST", "/"}, {"POST", "/static/app.js"}, {"DELETE", "/healthz"}, {"PUT", "/metrics"},
		{"PUT", "/api/v1/devices"}, {"GET", "/api/v1/pairings"}, {"POST", "/ws/client"}, {"GET", "/nope"},
		{"GET", "/static/nope.js"}, {"POST", "/pair"},
	} {
		var e protocol.ErrorBody
		resp := r.do(tc.method, tc.path, "", nil, &e)
		if resp.StatusCode < 400 || e.Error.Code == "" {
			t.Errorf("%s %s: %d %+v", tc.method, tc.path, resp.StatusCode, e)
		}
	}
}

// TestLastSeenWrittenBeforeShutdownReturns checks that the last-seen times
// recorded off the socket goroutines reach the store: at hello (with the
// hello's name) and when the agent leaves, at the latest when Shutdown returns.
func TestLastSeenWrittenBeforeShutdownReturns(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	r := newRelay(t, func(c *Config) { c.Now = clk.Now })
	ids := make([]string, 3)
	agents := make([]*wsPeer, 3)
	for i := range ids {
		var tok string
		ids[i], tok = r.register("registered")
		agents[i] = r.agent(tok) // hello names it "box"
	}
	clk.Add(time.Hour)
	left := clk.Now()
	agents[0].conn.Close() // leaves before the shutdown; the others are closed by it
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		d, err := r.st.Device(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != "box" || !d.LastSeen.Equal(left) {
			t.Errorf("agent %d: name %q last seen %v, want box and %v", i, d.Name, d.LastSeen, left)
		}
	}
}

// TestSeenWriterKeepsNewestAndGivesUp checks the writer's two promises: only
// the newest time of a device is written, and close returns once its context
// ends even when the store does not answer.
func TestSeenWriterKeepsNewestAndGivesUp(t *testing.T) {
	t.Run("newest wins", func(t *testing.T) {
		st, err := store.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ctx := context.Background()
		d := store.Device{ID: "d_1", Name: "a", OS: "linux", CreatedAt: time.Unix(0, 0)}
		if err := st.CreateDevice(ctx, d, []byte("hash")); err != nil {
			t.Fatal(err)
		}
		w := newSeenWriter(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
		t1, t2 := time.UnixMilli(2_000_000), time.UnixMilli(3_000_000)
		w.record("d_1", "late", "linux", t2)
		w.record("d_1", "early", "linux", t1) // older than what waits or was written: must not win
		cctx, cancel := context.WithTimeout(ctx, hangGuard)
		defer cancel()
		w.close(cctx)
		got, err := st.Device(ctx, "d_1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "late" || !got.LastSeen.Equal(t2) {
			// The early record may only be written if the late one had already
			// left the queue; then it is the store's last write and t1 wins.
			if !(got.Name == "early" && got.LastSeen.Equal(t1)) {
				t.Fatalf("got %q at %v", got.Name, got.LastSeen)
			}
		}
	})
	t.Run("close gives up", func(t *testing.T) {
		st := &stuckStore{entered: make(chan struct{}, 1)}
		w := newSeenWriter(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
		w.record("d_1", "a", "linux", time.Now())
		<-st.entered
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w.close(ctx) // returns: the stuck TouchDevice is canceled
		w.record("d_2", "a", "linux", time.Now())
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.running || len(w.pending) != 0 {
			t.Fatalf("after close: running %v, %d pending", w.running, len(w.pending))
		}
	})
}

// stuckStore is a store whose TouchDevice waits for its context to end.
type stuckStore struct {
	store.Store
	entered chan struct{}
}

func (s *stuckStore) TouchDevice(ctx context.Context, id, name, os string, t time.Time) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestIdleSocketsGetHeartbeats checks that the writer, which runs only while
// there is something to write, still sends a ping every heartbeat to a socket
// that receives nothing else, and that frames sent between pings arrive.
func TestIdleSocketsGetHeartbeats(t *testing.T) {
	r := newRelay(t, func(c *Config) { c.Heartbeat = 20 * time.Millisecond })
	_, tok := r.register("box")
	agent := r.agent(tok)
	sess := r.pair(r.code(tok), "")
	pings := make(chan struct{}, 100)
	agent.conn.SetPingHandler(func(string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return nil
	})
	go func() { // the ping handler runs inside reads
		for {
			if _, _, err := agent.conn.NextReader(); err != nil {
				return
			}
		}
	}()
	timeout := time.After(hangGuard)
	for i := 0; i < 3; i++ {
		select {
		case <-pings:
		case <-timeout:
			t.Fatalf("only %d pings within %s", i, hangGuard)
		}
	}
	// A client opening now makes the relay send the agent a watch frame
	// between pings; the pings go on after it.
	r.client(sess).next(protocol.TypePresence)
	for i := 0; i < 3; i++ {
		select {
		case <-pings:
		case <-timeout:
			t.Fatalf("only %d pings after the watch within %s", i, hangGuard)
		}
	}
}

// TestCommandOwnTimeout: a command that advertises a timeout_ms longer than
// the relay's usual wait (an owner's backup script) is waited for that long
// plus the margin; the others still get timeout after the usual wait.
func TestCommandOwnTimeout(t *testing.T) {
	r := newRelay(t, func(c *Config) { c.CommandTimeout = 200 * time.Millisecond })
	dev, tok := r.register("box")
	sess := r.pair(r.code(tok), "")
	client := r.client(sess)
	a, _, err := r.dial("/ws/agent", tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.next(protocol.TypeWelcome)
	backup := protocol.CommandSpec{Name: "backup", Args: []protocol.ArgSpec{}, TimeoutMS: 60_000}
	a.send(protocol.Message{Type: protocol.TypeHello, Data: protocol.MustData(protocol.Hello{
		Name: "box", OS: "linux", Commands: []protocol.CommandSpec{beepSpec, backup},
	})})
	a.next(protocol.TypeWatch)
	client.next(protocol.TypePresence)

	// beep: the usual wait, then timeout.
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "b", Device: dev, Name: "beep"})
	a.next(protocol.TypeCommand)
	if res := client.next(protocol.TypeResult); res.ID != "b" || res.Error == nil || res.Error.Code != protocol.CodeTimeout {
		t.Fatalf("beep never answered: %+v", res)
	}
	// backup: answered well after the usual wait, and the answer arrives.
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "k", Device: dev, Name: "backup"})
	fwd := a.next(protocol.TypeCommand)
	time.Sleep(600 * time.Millisecond) // three times the usual wait, far shorter than 65 s
	a.send(protocol.Result(fwd.ID, dev, json.RawMessage(`{"exit_code":0}`), nil))
	if res := client.next(protocol.TypeResult); res.ID != "k" || res.OK == nil || !*res.OK {
		t.Fatalf("backup's result: %+v", res)
	}
}

func TestCommandSpecWait(t *testing.T) {
	def := 20 * time.Second
	for _, tc := range []struct {
		ms   int
		want time.Duration
	}{
		{0, def},
		{1000, def}, // shorter than the usual wait: the usual wait
		{60_000, 65 * time.Second},
		{int(protocol.MaxCommandWait.Milliseconds()), protocol.MaxCommandWait},
	} {
		s := protocol.CommandSpec{TimeoutMS: tc.ms}
		if got := s.Wait(def); got != tc.want {
			t.Errorf("Wait with timeout_ms %d = %v, want %v", tc.ms, got, tc.want)
		}
	}
}
