package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/web"
)

// fakeRelay answers the API and the client WebSocket the way the contract
// says the relay does, with canned devices, so the page can be driven in a
// real browser without the relay and agent packages. Codes it knows:
// ABCD-2345 pairs "Office PC" (online, beep and notify), BEEF-2345 pairs
// "Old laptop" (offline), EXPD-2345 has expired, RATE-2345 is rate limited.
// Commands: beep, mouse_move, mouse_click, type_text and open_url succeed,
// notify fails with not_allowed, screenshot answers with fakeScreenshot (a
// PNG of several MB), or with unavailable when asked for JPEG; event pushes
// pointer events.
type fakeRelay struct {
	ctx context.Context // ends the sockets' goroutines
	wg  sync.WaitGroup
	mu  sync.Mutex
	// paired device ids, in pairing order (one session: whoever holds the cookie)
	paired   []string
	sent     []protocol.Message                               // commands received, in order
	sockets  map[*websocket.Conn]func(*protocol.Message) bool // each socket's send
	upgrader websocket.Upgrader
}

type fakeDevice struct {
	name, os string
	online   bool
	commands []protocol.CommandSpec
}

var fakeDevices = map[string]fakeDevice{
	"d_office": {name: "Office PC", os: "linux", online: true, commands: []protocol.CommandSpec{
		{Name: "beep", Title: "Beep", Args: []protocol.ArgSpec{
			{Name: "frequency_hz", Type: protocol.ArgInteger, Min: protocol.Float(100), Max: protocol.Float(4000), Default: 880},
			{Name: "duration_ms", Type: protocol.ArgInteger, Min: protocol.Float(20), Max: protocol.Float(3000), Default: 200},
		}},
		{Name: "notify", Title: "Send notification", Args: []protocol.ArgSpec{
			{Name: "title", Type: protocol.ArgString, Required: true, MaxLen: 80},
			{Name: "body", Type: protocol.ArgString, MaxLen: 400},
		}},
		{Name: "screenshot", Title: "Screenshot", Args: []protocol.ArgSpec{
			{Name: "format", Type: protocol.ArgString, Enum: []string{"png", "jpeg"}, Default: "png"},
			{Name: "max_width", Type: protocol.ArgInteger, Min: protocol.Float(16), Max: protocol.Float(7680)},
		}},
		{Name: "mouse_move", Title: "Move pointer", Args: []protocol.ArgSpec{
			{Name: "x", Type: protocol.ArgInteger, Required: true, Min: protocol.Float(0), Max: protocol.Float(1919)},
			{Name: "y", Type: protocol.ArgInteger, Required: true, Min: protocol.Float(0), Max: protocol.Float(1079)},
		}},
		{Name: "mouse_click", Title: "Click", Args: []protocol.ArgSpec{
			{Name: "button", Type: protocol.ArgString, Enum: []string{"left", "right", "middle"}, Default: "left"},
			{Name: "x", Type: protocol.ArgInteger, Min: protocol.Float(0), Max: protocol.Float(1919)},
			{Name: "y", Type: protocol.ArgInteger, Min: protocol.Float(0), Max: protocol.Float(1079)},
		}},
		{Name: "type_text", Title: "Type text", Args: []protocol.ArgSpec{
			{Name: "text", Type: protocol.ArgString, Required: true, MaxLen: 1000},
		}},
		{Name: "open_url", Title: "Open link", Args: []protocol.ArgSpec{
			{Name: "url", Type: protocol.ArgURL, Required: true, MaxLen: 2048, Schemes: []string{"http", "https"}},
		}},
	}},
	"d_laptop": {name: "Old laptop", os: "darwin", online: false},
}

var fakeCodes = map[string]string{"ABCD-2345": "d_office", "BEEF-2345": "d_laptop"}

const fakeCookie = "tether_session"

func newFakeRelay(ctx context.Context) *fakeRelay {
	return &fakeRelay{ctx: ctx, sockets: map[*websocket.Conn]func(*protocol.Message) bool{}}
}

// handler serves the page (Handler) and the fake API on one mux.
func (f *fakeRelay) handler() http.Handler {
	mux := http.NewServeMux()
	page := web.Handler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /pair", page)
	mux.Handle("GET /static/", page)
	mux.HandleFunc("POST /api/v1/pairings", f.pair)
	mux.HandleFunc("GET /api/v1/devices", f.devices)
	mux.HandleFunc("DELETE /api/v1/pairings/{id}", f.forget)
	mux.HandleFunc("GET /ws/client", f.ws)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The relay's policy (relay/server.Server.Handler), so the page is
		// tested under the rules it meets in production.
		w.Header().Set("Content-Security-Policy", fakeCSP)
		mux.ServeHTTP(w, r)
	})
}

const fakeCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

func fakeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": protocol.Error{Code: code, Message: msg}})
}

func (f *fakeRelay) authed(r *http.Request) bool {
	c, err := r.Cookie(fakeCookie)
	return err == nil && c.Value == "s1"
}

func (f *fakeRelay) pair(w http.ResponseWriter, r *http.Request) {
	var req struct{ Code, Label string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Code) != 9 {
		fakeError(w, 400, "bad_request", "code must look like ABCD-2345")
		return
	}
	switch req.Code {
	case "EXPD-2345":
		fakeError(w, 404, "not_found", "this pairing code has expired: ask the computer for a new one")
		return
	case "RATE-2345":
		w.Header().Set("Retry-After", "1")
		fakeError(w, 429, "rate_limited", "too many attempts")
		return
	}
	id, ok := fakeCodes[req.Code]
	if !ok {
		fakeError(w, 404, "not_found", "unknown or used pairing code")
		return
	}
	f.mu.Lock()
	f.paired = append(f.paired, id)
	f.mu.Unlock()
	f.broadcast(presenceOf(id))
	http.SetCookie(w, &http.Cookie{Name: fakeCookie, Value: "s1", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	_ = json.NewEncoder(w).Encode(map[string]string{"device_id": id, "device_name": fakeDevices[id].name, "session_token": "s1"})
}

func (f *fakeRelay) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paired...)
}

func (f *fakeRelay) devices(w http.ResponseWriter, r *http.Request) {
	if !f.authed(r) {
		fakeError(w, 401, "unauthorized", "no session")
		return
	}
	out := []map[string]any{}
	for _, id := range f.list() {
		d := fakeDevices[id]
		caps := []string{}
		for _, c := range d.commands {
			caps = append(caps, c.Name)
		}
		out = append(out, map[string]any{"device_id": id, "name": d.name, "os": d.os, "online": d.online,
			"last_seen": protocol.Timestamp(time.Now().Add(-20 * time.Minute)), "capabilities": caps})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakeRelay) forget(w http.ResponseWriter, r *http.Request) {
	if !f.authed(r) {
		fakeError(w, 401, "unauthorized", "no session")
		return
	}
	id := r.PathValue("id")
	f.mu.Lock()
	kept := f.paired[:0]
	for _, p := range f.paired {
		if p != id {
			kept = append(kept, p)
		}
	}
	f.paired = kept
	f.mu.Unlock()
	f.broadcast(&protocol.Message{Type: protocol.TypePresence, Device: id, Data: protocol.MustData(protocol.Presence{Removed: true})})
	w.WriteHeader(204)
}

// commands returns the commands the fake received so far.
func (f *fakeRelay) commands() []protocol.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]protocol.Message(nil), f.sent...)
}

// presenceOf is the presence message of a canned device.
func presenceOf(id string) *protocol.Message {
	d := fakeDevices[id]
	caps := []string{}
	for _, c := range d.commands {
		caps = append(caps, c.Name)
	}
	p := protocol.Presence{Online: d.online, Name: d.name, OS: d.os, Capabilities: caps, Commands: d.commands,
		LastSeen: protocol.Timestamp(time.Now().Add(-20 * time.Minute))}
	if !d.online {
		return &protocol.Message{Type: protocol.TypePresence, Device: id, Data: protocol.MustData(p)}
	}
	p.Screen = &protocol.Screen{Width: 1920, Height: 1080}
	// What the relay sends once it passes hello's "unavailable" on (it is not
	// in protocol.Presence yet): type_text cannot run on the Office PC.
	var data map[string]any
	_ = json.Unmarshal(protocol.MustData(p), &data)
	data["unavailable"] = map[string]string{"type_text": "no X display (DISPLAY is not set)"}
	return &protocol.Message{Type: protocol.TypePresence, Device: id, Data: protocol.MustData(data)}
}

// broadcast sends m to every open client socket. It blocks while a socket's
// queue is full (the page reads it).
func (f *fakeRelay) broadcast(m *protocol.Message) {
	f.mu.Lock()
	sends := make([]func(*protocol.Message) bool, 0, len(f.sockets))
	for _, s := range f.sockets {
		sends = append(sends, s)
	}
	f.mu.Unlock()
	for _, s := range sends {
		s(m)
	}
}

// closeSockets closes every client socket with code, as a relay restart would.
func (f *fakeRelay) closeSockets(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.sockets {
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, "restart"), time.Now().Add(time.Second))
		_ = c.Close()
	}
}

func (f *fakeRelay) ws(w http.ResponseWriter, r *http.Request) {
	if !f.authed(r) {
		fakeError(w, 401, "unauthorized", "no session")
		return
	}
	c, err := f.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(f.ctx)
	out := make(chan *protocol.Message, 64)
	send := func(m *protocol.Message) bool {
		select {
		case out <- m:
			return true
		case <-ctx.Done():
			return false
		}
	}
	f.mu.Lock()
	f.sockets[c] = send
	f.mu.Unlock()
	f.wg.Add(2)
	go func() { // writer: owns the connection's writes
		defer f.wg.Done()
		defer c.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-out:
				b, _ := protocol.Encode(m)
				if c.WriteMessage(websocket.TextMessage, b) != nil {
					cancel()
					return
				}
			}
		}
	}()
	go func() { // reader: answers commands
		defer f.wg.Done()
		defer cancel()
		defer func() {
			f.mu.Lock()
			delete(f.sockets, c)
			f.mu.Unlock()
		}()
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			m, err := protocol.Decode(b)
			if err != nil || m.Type != protocol.TypeCommand {
				continue
			}
			f.mu.Lock()
			f.sent = append(f.sent, *m)
			f.mu.Unlock()
			var res *protocol.Message
			switch m.Name {
			case "beep", "mouse_move", "mouse_click", "type_text", "open_url":
				res = protocol.Result(m.ID, m.Device, nil, nil)
			case "screenshot":
				if strings.Contains(string(m.Args), `"jpeg"`) {
					res = protocol.Result(m.ID, m.Device, nil, protocol.Errorf("unavailable", "no JPEG encoder on this computer"))
					break
				}
				res = protocol.Result(m.ID, m.Device, protocol.MustData(fakeScreenshot()), nil)
			case "notify":
				res = protocol.Result(m.ID, m.Device, nil, protocol.Errorf("not_allowed", "command \"notify\" is switched off on this computer"))
			default:
				res = protocol.Result(m.ID, m.Device, nil, protocol.Errorf("unknown_command", "no such command"))
			}
			select {
			case out <- res:
			case <-ctx.Done():
				return
			}
		}
	}()
	send(&protocol.Message{Type: protocol.TypeWelcome, Data: protocol.MustData(protocol.Welcome{SessionID: "s1", ServerTime: protocol.Timestamp(time.Now())})})
	for _, id := range f.list() {
		send(presenceOf(id))
	}
	f.wg.Add(1)
	go func() { // telemetry, about once a second, for the online devices
		defer f.wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; ; i++ {
			x := float64(i)
			cores := []float64{20 + 15*math.Sin(x/7), 35 + 20*math.Sin(x/5), 10 + 5*math.Cos(x/3), 50 + 30*math.Sin(x/11)}
			total := 0.0
			for _, v := range cores {
				total += v / float64(len(cores))
			}
			for _, id := range f.list() {
				if !fakeDevices[id].online {
					continue
				}
				used := uint64(6<<30) + uint64(i%20)<<24
				tm := protocol.Telemetry{CPUPercent: total, CPUPerCore: cores, MemPercent: float64(used) / float64(16<<30) * 100,
					MemUsed: used, MemTotal: 16 << 30}
				if !send(&protocol.Message{Type: protocol.TypeTelemetry, Device: id, TS: protocol.Timestamp(time.Now()), Data: protocol.MustData(tm)}) {
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// event sends an event about device to every open client socket.
func (f *fakeRelay) event(device string, data map[string]any) {
	f.broadcast(&protocol.Message{Type: protocol.TypeEvent, Device: device, TS: protocol.Timestamp(time.Now()), Data: protocol.MustData(data)})
}

// Size of the fake screenshot. Its pixels are noise over a gradient, so the
// PNG barely compresses: several MB of base64 on the wire.
const fakeShotW, fakeShotH = 1280, 720

// fakeScreenshot returns the data of a screenshot result, made once.
var fakeScreenshot = sync.OnceValue(func() map[string]any {
	img := image.NewNRGBA(image.Rect(0, 0, fakeShotW, fakeShotH))
	rng := rand.New(rand.NewPCG(1, 2))
	for y := range fakeShotH {
		for x := range fakeShotW {
			n := uint8(rng.IntN(48))
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(rng.IntN(256)), G: uint8(60+y*100/fakeShotH) + n, B: 170 + n/2, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return map[string]any{"format": "png", "width": fakeShotW, "height": fakeShotH, "data": base64.StdEncoding.EncodeToString(buf.Bytes())}
})

// wait blocks until every goroutine of every socket has ended; cancel ctx first.
func (f *fakeRelay) wait() { f.wg.Wait() }
