package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// simAgent is a scripted agent on a real relay (internal/relaytest): it
// registers, says hello with the agent's own command specs, answers every
// command ok, sends telemetry, and records the watch frames the relay sends
// it, so a browser test can see what the relay does with the page's sockets.
type simAgent struct {
	t     testing.TB
	relay string // http://…
	id    string
	token string

	wmu  sync.Mutex // serialises writes on conn
	conn *websocket.Conn

	// custom are owner-defined commands the sim runs for real (with
	// commands.RunCustom), answering with their output; set before the
	// first command arrives.
	custom map[string]commands.CustomDef

	mu       sync.Mutex
	watchers int   // latest watch count; -1 before the first
	watchLog []int // every watch count received, in order
	commands []protocol.Message
	done     chan struct{}
}

// idleDesktop is the agent's commands.Desktop with nothing behind it: the
// sim answers commands itself; only the specs of commands.Builtin are used.
type idleDesktop struct{}

func (idleDesktop) Beep(context.Context, int, time.Duration) error { return nil }
func (idleDesktop) Notify(context.Context, string, string) error   { return nil }
func (idleDesktop) Unavailable() map[string]string                 { return nil }

// agentSpecs returns the specs the real agent advertises for names, in order.
func agentSpecs(t testing.TB, names ...string) []protocol.CommandSpec {
	t.Helper()
	var out []protocol.CommandSpec
	all := commands.Builtin(idleDesktop{})
	for _, n := range names {
		found := false
		for _, c := range all {
			if c.Spec.Name == n {
				out = append(out, c.Spec)
				found = true
			}
		}
		if !found {
			t.Fatalf("the agent has no command %q", n)
		}
	}
	return out
}

// postJSON sends one request to the relay and decodes a JSON answer into out.
func postJSON(t testing.TB, method, url, bearer string, body, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: status %d, decode: %v", method, url, res.StatusCode, err)
		}
	}
	return res.StatusCode
}

// startSimAgent registers a device named hello.Name on relay, connects it and
// says hello. It stops when the test ends.
func startSimAgent(t testing.TB, relay string, hello protocol.Hello) *simAgent {
	t.Helper()
	var reg struct {
		DeviceID    string `json:"device_id"`
		DeviceToken string `json:"device_token"`
	}
	if st := postJSON(t, "POST", relay+"/api/v1/devices", "", map[string]string{"name": hello.Name, "os": hello.OS}, &reg); st != 201 {
		t.Fatalf("register: status %d", st)
	}
	a := &simAgent{t: t, relay: relay, id: reg.DeviceID, token: reg.DeviceToken, watchers: -1, done: make(chan struct{})}
	c, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(relay, "http")+"/ws/agent",
		http.Header{"Authorization": {"Bearer " + a.token}})
	if err != nil {
		t.Fatalf("agent socket: %v (%v)", err, res)
	}
	a.conn = c
	t.Cleanup(func() { c.Close(); <-a.done })
	a.hello(hello)
	go a.read()
	return a
}

func (a *simAgent) send(m *protocol.Message) {
	b, err := json.Marshal(m)
	if err != nil {
		a.t.Errorf("encode: %v", err)
		return
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	_ = a.conn.WriteMessage(websocket.TextMessage, b)
}

// hello sends a (new) hello.
func (a *simAgent) hello(h protocol.Hello) {
	a.send(&protocol.Message{Type: protocol.TypeHello, TS: protocol.Timestamp(time.Now()), Data: protocol.MustData(h)})
}

// telemetry sends one telemetry frame taken at.
func (a *simAgent) telemetry(at time.Time, cpu, mem float64) {
	a.send(&protocol.Message{Type: protocol.TypeTelemetry, TS: protocol.Timestamp(at),
		Data: protocol.MustData(map[string]any{"cpu_percent": cpu, "cpu_per_core": []float64{cpu, cpu / 2}, "mem_percent": mem,
			"mem_used_bytes": int64(mem * 80e6), "mem_total_bytes": int64(8e9)})})
}

// sample sends one telemetry frame with data, taken at.
func (a *simAgent) sample(at time.Time, data protocol.Telemetry) {
	a.send(&protocol.Message{Type: protocol.TypeTelemetry, TS: protocol.Timestamp(at), Data: protocol.MustData(data)})
}

func (a *simAgent) read() {
	defer close(a.done)
	for {
		_, b, err := a.conn.ReadMessage()
		if err != nil {
			return
		}
		var m protocol.Message
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		switch m.Type {
		case protocol.TypeWatch:
			var w protocol.Watch
			_ = json.Unmarshal(m.Data, &w)
			a.mu.Lock()
			a.watchers = w.Watchers
			a.watchLog = append(a.watchLog, w.Watchers)
			a.mu.Unlock()
		case protocol.TypeCommand:
			a.mu.Lock()
			a.commands = append(a.commands, m)
			a.mu.Unlock()
			if def, found := a.custom[m.Name]; found {
				go a.runCustom(m, def)
				continue
			}
			ok := true
			a.send(&protocol.Message{Type: protocol.TypeResult, ID: m.ID, TS: protocol.Timestamp(time.Now()), OK: &ok})
		}
	}
}

// runCustom runs the owner's command def for real, as the agent does, and
// answers with its output or its error.
func (a *simAgent) runCustom(m protocol.Message, def commands.CustomDef) {
	spec := def.Spec()
	res := &protocol.Message{Type: protocol.TypeResult, ID: m.ID, TS: protocol.Timestamp(time.Now()), OK: protocol.Bool(false)}
	args, err := spec.Validate(m.Args)
	if err == nil {
		var out commands.CustomResult
		if out, err = commands.RunCustom(context.Background(), def, args); err == nil {
			res.OK, res.Data = protocol.Bool(true), protocol.MustData(out)
		}
	}
	if err != nil {
		res.Error = protocol.AsError(err)
	}
	a.send(res)
}

// watching returns the latest watcher count the relay sent.
func (a *simAgent) watching() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.watchers
}

// waitWatchers waits until the relay's latest watch count is n; on timeout
// it fails with every count received.
func (a *simAgent) waitWatchers(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for a.watching() != n {
		if time.Now().After(deadline) {
			a.mu.Lock()
			log := append([]int(nil), a.watchLog...)
			a.mu.Unlock()
			t.Fatalf("device %s: waiting for %d watchers; watch counts received: %v", a.id, n, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pairingCode asks the relay for a pairing code, as tether pair does.
func (a *simAgent) pairingCode() string {
	a.t.Helper()
	var r struct {
		Code string `json:"code"`
	}
	if st := postJSON(a.t, "POST", a.relay+"/api/v1/pairing-codes", a.token, nil, &r); st != 201 {
		a.t.Fatalf("pairing code: status %d", st)
	}
	return r.Code
}

// unpairAll forgets every paired browser, as tether unpair-all does.
func (a *simAgent) unpairAll() {
	a.t.Helper()
	if st := postJSON(a.t, "DELETE", a.relay+"/api/v1/device/pairings", a.token, nil, nil); st != 204 {
		a.t.Fatalf("unpair-all: status %d", st)
	}
}

// waitUntil polls cond until it holds; the deadline is a hang guard.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pairIn pairs the browser with a through the page's form, and waits until
// the device shows online and the page's socket watches it. (Waiting matters:
// a pairing made while the page's socket is between the relay's store query
// and its registration in the hub is not watched by that socket; a relay race
// reported to the lead, which a person pairing by hand does not hit.)
func (a *simAgent) pairIn(t *testing.T, ctx context.Context, relay string) {
	t.Helper()
	code := a.pairingCode()
	waitFor(t, ctx, "pair form", `!!document.getElementById('pair-code') && !document.getElementById('pair-submit').disabled`)
	_ = eval[bool](t, ctx, fmt.Sprintf(`(document.getElementById('pair-code').value = %q, document.getElementById('pair-submit').click(), true)`, code))
	waitFor(t, ctx, "device online", fmt.Sprintf(`!!document.querySelector('#devices [data-device=%q][data-online="true"]')`, a.id))
	a.waitWatchers(t, 1)
}
