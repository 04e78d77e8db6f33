package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// device is one simulated desktop: its id, and on Tether's relay its token.
type device struct {
	ID    string `json:"device_id"`
	Token string `json:"device_token"`
}

// session is what a simulated client presents: on Tether's relay a session
// token paired with Devices; on the peers just the list of devices.
type session struct {
	Token   string
	Devices []string
}

// Frame kinds a simulated peer tells apart.
const (
	kindOther = iota
	kindTelemetry
	kindCommand
	kindResult
)

// wire is how one relay spells the envelope: Tether's JSON frames, the same
// frames on the Python peer, or Socket.IO events. Implementations are
// stateless and safe for concurrent use.
type wire interface {
	// agentRequest and clientRequest give the URL and headers of the upgrade.
	agentRequest(addr string, d device) (string, http.Header)
	clientRequest(addr string, s session) (string, http.Header)
	// agentOpen and clientOpen finish the opening after the upgrade: when
	// agentOpen returns nil the agent is back (its hello is sent).
	agentOpen(ws *websocket.Conn, d device) error
	clientOpen(ws *websocket.Conn, s session) error
	// telemetry wraps an envelope object an agent sends.
	telemetry(envelope []byte) []byte
	// command is a client's command with id to device.
	command(id, device string) []byte
	// classify says what a received frame is, its id (results) and the
	// frame to answer with, if any (an agent's result, a Socket.IO pong).
	classify(frame []byte) (kind int, id string, reply []byte)
}

// helloData is the simulated agent's hello: it advertises beep, like the real agent.
const helloData = `{"name":"bench","os":"linux","arch":"amd64","version":"bench","commands":[` +
	`{"name":"beep","title":"Beep","args":[{"name":"frequency_hz","type":"integer","min":100,"max":4000,"default":880},` +
	`{"name":"duration_ms","type":"integer","min":20,"max":3000,"default":200}]}]}`

// telemetryEnvelope returns a telemetry envelope of exactly size bytes
// (Tether's framing; the other wires add their own few bytes around it).
func telemetryEnvelope(size int) []byte {
	head := `{"type":"telemetry","ts":"` + time.Now().UTC().Format("2006-01-02T15:04:05.000Z") +
		`","data":{"cpu_percent":12.5,"mem_percent":41.0,"cpu_per_core":[10.1,14.9],"mem_used_bytes":3456789012,"pad":"`
	tail := `"}}`
	n := size - len(head) - len(tail)
	if n < 0 {
		n = 0
	}
	return []byte(head + strings.Repeat("x", n) + tail)
}

// readUntil reads frames until match accepts one, for at most wait.
func readUntil(ws *websocket.Conn, wait time.Duration, match func([]byte) (bool, error)) error {
	ws.SetReadDeadline(time.Now().Add(wait))
	defer ws.SetReadDeadline(time.Time{})
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		if ok, err := match(b); ok || err != nil {
			return err
		}
	}
}

// envelopeKind is the type of a JSON envelope frame. Frames the relays build
// start with their type, and Tether's relay forwards the simulated agents'
// telemetry (which has no device) with the device added in front: both are
// told by their first bytes, not parsed (at 100,000s a second the parse
// would cost the load generators more than the relays); anything else is
// parsed.
func envelopeKind(frame []byte) (int, string) {
	if rest, ok := bytes.CutPrefix(frame, []byte(`{"device":"`)); ok {
		if end := bytes.IndexByte(rest, '"'); end >= 0 && bytes.HasPrefix(rest[end+1:], []byte(`,"type":"telemetry"`)) {
			return kindTelemetry, ""
		}
	}
	switch {
	case bytes.HasPrefix(frame, []byte(`{"type":"telemetry"`)):
		return kindTelemetry, ""
	case bytes.HasPrefix(frame, []byte(`{"type":"presence"`)), bytes.HasPrefix(frame, []byte(`{"type":"watch"`)):
		return kindOther, ""
	}
	var m struct{ Type, ID string }
	if json.Unmarshal(frame, &m) != nil {
		return kindOther, ""
	}
	switch m.Type {
	case "telemetry":
		return kindTelemetry, ""
	case "command":
		return kindCommand, m.ID
	case "result":
		return kindResult, m.ID
	}
	return kindOther, ""
}

func envelopeCommand(id, dev string) []byte {
	return []byte(`{"type":"command","id":"` + id + `","device":"` + dev + `","name":"beep","args":{}}`)
}

func envelopeResult(id string) []byte {
	return []byte(`{"type":"result","id":"` + id + `","ok":true}`)
}

// tetherWire is Tether's own protocol (docs/PROTOCOL.md).
type tetherWire struct{}

func (tetherWire) agentRequest(addr string, d device) (string, http.Header) {
	return "ws://" + addr + "/ws/agent", http.Header{"Authorization": {"Bearer " + d.Token}}
}

func (tetherWire) clientRequest(addr string, s session) (string, http.Header) {
	return "ws://" + addr + "/ws/client", http.Header{"Authorization": {"Bearer " + s.Token}}
}

func (tetherWire) agentOpen(ws *websocket.Conn, d device) error {
	if err := readUntil(ws, 10*time.Second, func(b []byte) (bool, error) {
		if !bytes.HasPrefix(b, []byte(`{"type":"welcome"`)) {
			return false, fmt.Errorf("first frame is not welcome: %.80s", b)
		}
		return true, nil
	}); err != nil {
		return err
	}
	return ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","data":`+helloData+`}`))
}

func (tetherWire) clientOpen(ws *websocket.Conn, s session) error {
	return readUntil(ws, 10*time.Second, func(b []byte) (bool, error) {
		return bytes.HasPrefix(b, []byte(`{"type":"welcome"`)), nil
	})
}

func (tetherWire) telemetry(env []byte) []byte   { return env }
func (tetherWire) command(id, dev string) []byte { return envelopeCommand(id, dev) }
func (tetherWire) classify(f []byte) (int, string, []byte) {
	k, id := envelopeKind(f)
	if k == kindCommand {
		return k, id, envelopeResult(id)
	}
	return k, id, nil
}

// pyWire is the Python websockets peer: Tether's envelope, identity in the path.
type pyWire struct{}

func (pyWire) agentRequest(addr string, d device) (string, http.Header) {
	return "ws://" + addr + "/agent?device=" + url.QueryEscape(d.ID), nil
}

func (pyWire) clientRequest(addr string, s session) (string, http.Header) {
	return "ws://" + addr + "/client?devices=" + url.QueryEscape(strings.Join(s.Devices, ",")), nil
}

func (pyWire) agentOpen(ws *websocket.Conn, d device) error {
	return ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","data":`+helloData+`}`))
}

func (pyWire) clientOpen(*websocket.Conn, session) error { return nil }
func (pyWire) telemetry(env []byte) []byte               { return env }
func (pyWire) command(id, dev string) []byte             { return envelopeCommand(id, dev) }
func (pyWire) classify(f []byte) (int, string, []byte)   { return tetherWire{}.classify(f) }

// socketIOWire is Socket.IO v5 over Engine.IO v4 on the WebSocket transport:
// "0{…}" open, "40{auth}" connect, "42[event,arg]" events, "42<n>[…]" events
// with an acknowledgement, "43<n>[…]" acks, "2"/"3" ping and pong.
type socketIOWire struct{}

func (socketIOWire) agentRequest(addr string, _ device) (string, http.Header) {
	return "ws://" + addr + "/socket.io/?EIO=4&transport=websocket", nil
}

func (socketIOWire) clientRequest(addr string, _ session) (string, http.Header) {
	return "ws://" + addr + "/socket.io/?EIO=4&transport=websocket", nil
}

// connect does the Engine.IO open and the Socket.IO namespace connect with auth.
func (socketIOWire) connect(ws *websocket.Conn, auth any) error {
	if err := readUntil(ws, 10*time.Second, func(b []byte) (bool, error) {
		if len(b) == 0 || b[0] != '0' {
			return false, fmt.Errorf("engine.io: expected open, got %.80s", b)
		}
		return true, nil
	}); err != nil {
		return err
	}
	a, _ := json.Marshal(auth)
	if err := ws.WriteMessage(websocket.TextMessage, append([]byte("40"), a...)); err != nil {
		return err
	}
	return readUntil(ws, 10*time.Second, func(b []byte) (bool, error) {
		switch {
		case bytes.HasPrefix(b, []byte("40")):
			return true, nil
		case bytes.HasPrefix(b, []byte("44")):
			return false, fmt.Errorf("socket.io connect refused: %s", b)
		case bytes.Equal(b, []byte("2")):
			ws.WriteMessage(websocket.TextMessage, []byte("3"))
		}
		return false, nil
	})
}

func (w socketIOWire) agentOpen(ws *websocket.Conn, d device) error {
	if err := w.connect(ws, map[string]string{"role": "agent", "device": d.ID}); err != nil {
		return err
	}
	return ws.WriteMessage(websocket.TextMessage, []byte(`42["hello",`+helloData+`]`))
}

func (w socketIOWire) clientOpen(ws *websocket.Conn, s session) error {
	return w.connect(ws, map[string]any{"role": "client", "devices": s.Devices})
}

func (socketIOWire) telemetry(env []byte) []byte {
	return append(append([]byte(`42["telemetry",`), env...), ']')
}

func (socketIOWire) command(id, dev string) []byte {
	return []byte(`42` + id + `["command",{"type":"command","id":"` + id + `","device":"` + dev + `","name":"beep","args":{}}]`)
}

func (socketIOWire) classify(f []byte) (int, string, []byte) {
	switch {
	case bytes.HasPrefix(f, []byte(`42["telemetry"`)):
		return kindTelemetry, "", nil
	case len(f) == 1 && f[0] == '2':
		return kindOther, "", []byte("3")
	case bytes.HasPrefix(f, []byte("42")), bytes.HasPrefix(f, []byte("43")):
		i := 2
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			i++
		}
		id := string(f[2:i])
		if _, err := strconv.Atoi(id); err != nil {
			return kindOther, "", nil
		}
		if f[1] == '3' {
			return kindResult, id, nil
		}
		if bytes.HasPrefix(f[i:], []byte(`["command"`)) {
			return kindCommand, id, []byte(`43` + id + `[{"type":"result","ok":true}]`)
		}
	}
	return kindOther, "", nil
}
