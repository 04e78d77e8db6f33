package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/store"
)

const androidChrome = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"

// pairAs redeems code as a browser with User-Agent ua (and extra headers)
// and returns the new session token.
func (r *relay) pairAs(code, ua string, hdr http.Header) string {
	r.t.Helper()
	b, _ := json.Marshal(map[string]string{"code": code})
	req, _ := http.NewRequest("POST", r.hs.URL+"/api/v1/pairings", bytes.NewReader(b))
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || json.Unmarshal(raw, &out) != nil {
		r.t.Fatalf("pair: %d %s", resp.StatusCode, raw)
	}
	return out["session_token"]
}

// browsers lists the device's paired browsers through the API.
func (r *relay) browsers(tok string) []protocol.PairedBrowser {
	r.t.Helper()
	var out []protocol.PairedBrowser
	if resp := r.do("GET", "/api/v1/device/pairings", tok, nil, &out); resp.StatusCode != 200 {
		r.t.Fatalf("GET /api/v1/device/pairings: %d", resp.StatusCode)
	}
	return out
}

// TestPairingNamedAndNotified: a browser that pairs gets a name from its
// User-Agent and the address it came from (through a trusted proxy's
// X-Forwarded-For); the device's agent, on its real socket, is told at
// once with a "pairing" frame; the device lists it; the session's own
// device list says how it is paired; the pairing id reveals no token.
func TestPairingNamedAndNotified(t *testing.T) {
	r := newRelay(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	dev, tok := r.register("box")
	agent := r.agent(tok)
	before := time.Now().Add(-time.Second)
	sess := r.pairAs(r.code(tok), androidChrome, http.Header{"X-Forwarded-For": {"203.0.113.9"}})

	m := agent.next(protocol.TypePairing)
	var notice protocol.PairedBrowser
	if err := json.Unmarshal(m.Data, &notice); err != nil {
		t.Fatal(err)
	}
	if m.Device != dev || notice.Name != "Chrome on Android" || notice.Address != "203.0.113.9" ||
		!strings.HasPrefix(notice.ID, "p_") || notice.PairedAt.Before(before) || notice.LastSeen != nil {
		t.Fatalf("pairing notice = %s %+v", m.Device, notice)
	}
	if strings.Contains(notice.ID, strings.TrimPrefix(sess, "tst_")) || strings.Contains(string(m.Data), sess) {
		t.Fatalf("the notice %s reveals the session token", m.Data)
	}
	list := r.browsers(tok)
	if len(list) != 1 || list[0].ID != notice.ID || list[0].Name != notice.Name || list[0].Address != notice.Address {
		t.Fatalf("paired browsers = %+v, want the notice's %+v", list, notice)
	}

	var devices []protocol.DeviceEntry
	r.do("GET", "/api/v1/devices", sess, nil, &devices)
	if len(devices) != 1 || devices[0].PairedAs != "Chrome on Android" || devices[0].PairedAt == "" {
		t.Fatalf("the session's devices = %+v, want paired_as Chrome on Android", devices)
	}

	// Pairing the same browser again tells nobody and changes nothing.
	r.do("POST", "/api/v1/pairings", sess, map[string]string{"code": r.code(tok)}, nil)
	r.pairAs(r.code(tok), "curl/8.5.0", nil)
	m = agent.next(protocol.TypePairing)
	if err := json.Unmarshal(m.Data, &notice); err != nil || notice.Name != "curl" || notice.Address != "127.0.0.1" {
		t.Fatalf("second notice = %s (%v); want curl from 127.0.0.1 (the first pairing again sends none)", m.Data, err)
	}
	if list := r.browsers(tok); len(list) != 2 || list[0].Name != "Chrome on Android" || list[1].Name != "curl" {
		t.Fatalf("paired browsers = %+v", list)
	}
}

// TestUnpairOneCutsItsSockets: DELETE /api/v1/device/pairings/{id} forgets
// that browser only; its open socket loses the device at once, its
// commands are refused, the other browser keeps working; an unknown id,
// or one of another device, is 404.
func TestUnpairOneCutsItsSockets(t *testing.T) {
	r := newRelay(t, nil)
	dev, tok := r.register("box")
	_, otherTok := r.register("other")
	agent := r.agent(tok)
	s1 := r.pairAs(r.code(tok), androidChrome, nil)
	s2 := r.pairAs(r.code(tok), "curl/8.5.0", nil)
	c1, c2 := r.client(s1), r.client(s2)
	c1.next(protocol.TypePresence)
	c2.next(protocol.TypePresence)
	agent.waitWatch(2)

	list := r.browsers(tok)
	if len(list) != 2 {
		t.Fatalf("paired browsers = %+v", list)
	}
	for _, tc := range []struct {
		name, bearer, id string
		want             int
	}{
		{"unknown id", tok, "p_000000000000000000000000", 404},
		{"another device's token", otherTok, list[0].ID, 404},
		{"no token", "", list[0].ID, 401},
		{"session token", s2, list[0].ID, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out protocol.ErrorBody
			if resp := r.do("DELETE", "/api/v1/device/pairings/"+tc.id, tc.bearer, nil, &out); resp.StatusCode != tc.want || out.Error.Code == "" {
				t.Fatalf("DELETE = %d %+v, want %d with an error code", resp.StatusCode, out, tc.want)
			}
		})
	}
	if resp := r.do("DELETE", "/api/v1/device/pairings/"+list[0].ID, tok, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("unpair one: %d", resp.StatusCode)
	}
	p := c1.next(protocol.TypePresence)
	if p.Device != dev || !strings.Contains(string(p.Data), `"removed":true`) {
		t.Fatalf("presence after unpair = %s", p.Data)
	}
	agent.waitWatch(1)
	c1.send(protocol.Message{Type: protocol.TypeCommand, ID: "c", Device: dev, Name: "beep"})
	if res := c1.next(protocol.TypeResult); res.Error == nil || res.Error.Code != protocol.CodeNotPaired {
		t.Fatalf("unpaired browser's command: %+v", res)
	}
	c2.send(protocol.Message{Type: protocol.TypeCommand, ID: "c", Device: dev, Name: "beep"})
	if cmd := agent.next(protocol.TypeCommand); cmd.Name != "beep" {
		t.Fatalf("the other browser's command reached the agent as %+v", cmd)
	}
	if left := r.browsers(tok); len(left) != 1 || left[0].ID != list[1].ID {
		t.Fatalf("paired browsers after unpair = %+v", left)
	}
	if resp := r.do("DELETE", "/api/v1/device/pairings/"+list[0].ID, tok, nil, nil); resp.StatusCode != 404 {
		t.Fatalf("unpair the same id twice: %d, want 404", resp.StatusCode)
	}
}

// TestPairingLastSeen: the browser's requests and socket mark its pairing
// seen, written to the store in the background.
func TestPairingLastSeen(t *testing.T) {
	r := newRelay(t, nil)
	_, tok := r.register("box")
	sess := r.pairAs(r.code(tok), androidChrome, nil)
	if list := r.browsers(tok); len(list) != 1 || list[0].LastSeen != nil {
		t.Fatalf("fresh pairing = %+v, want never seen", list)
	}
	c := r.client(sess)
	c.next(protocol.TypePresence)
	deadline := time.Now().Add(hangGuard)
	for {
		if list := r.browsers(tok); len(list) == 1 && list[0].LastSeen != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the socket's opening never marked the pairing seen")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPairingBookNamesCommands: the data the hub puts on a forwarded
// command names the pairing that sent it, learnt at pairing time or read
// from the store on first use, and marks the pairing seen.
func TestPairingBookNamesCommands(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Now()
	st.CreateDevice(ctx, store.Device{ID: "d1", Name: "box", OS: "linux", CreatedAt: now}, []byte("d"))
	st.CreateSession(ctx, store.Session{ID: "s1", CreatedAt: now}, []byte("s"))
	p, _, err := st.RecordPairing(ctx, store.Pairing{SessionID: "s1", DeviceID: "d1", Name: "Firefox on Linux", CreatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	b := newPairingBook(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var nilBook *pairingBook
	if d := nilBook.commandData("s1", "d1", now); d != nil {
		t.Fatalf("a nil book gave %s", d)
	}
	want := `{"pairing":"` + p.ID + `","browser":"Firefox on Linux"}`
	deadline := time.Now().Add(hangGuard)
	for {
		d := b.commandData("s1", "d1", now.Add(time.Minute)) // first: unknown, read in the background
		if string(d) == want {
			break
		}
		if d != nil || time.Now().After(deadline) {
			t.Fatalf("command data = %s, want %s", d, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.forget("s1", "d1")
	b.learn(store.Pairing{ID: "p_x", SessionID: "s1", DeviceID: "d1", Name: "curl"})
	if d := b.commandData("s1", "d1", now); string(d) != `{"pairing":"p_x","browser":"curl"}` {
		t.Fatalf("learnt data = %s", d)
	}
	cctx, cancel := context.WithTimeout(ctx, hangGuard)
	defer cancel()
	b.close(cctx)
	ps, err := st.DevicePairings(ctx, "d1")
	if err != nil || len(ps) != 1 || !ps[0].LastSeen.Equal(now.Add(time.Minute).Truncate(time.Millisecond)) {
		t.Fatalf("pairing after commands = %+v, %v; want last seen %v", ps, err, now.Add(time.Minute))
	}
}

// TestPairingSeenThrottled: a pairing's last seen is written at most once
// a minute, whatever the traffic, and never moves back.
func TestPairingSeenThrottled(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Millisecond)
	st.CreateDevice(ctx, store.Device{ID: "d1", Name: "box", OS: "linux", CreatedAt: t0}, []byte("d"))
	st.CreateSession(ctx, store.Session{ID: "s1", CreatedAt: t0}, []byte("s"))
	st.RecordPairing(ctx, store.Pairing{SessionID: "s1", DeviceID: "d1", CreatedAt: t0})
	b := newPairingBook(&countingStore{Store: st}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := range 100 {
		b.seen("s1", "", t0.Add(time.Duration(i)*100*time.Millisecond)) // 10 s of traffic
	}
	b.seen("s1", "", t0.Add(-time.Hour))
	b.seen("s1", "", t0.Add(61*time.Second))
	cctx, cancel := context.WithTimeout(ctx, hangGuard)
	defer cancel()
	b.close(cctx)
	cs := b.st.(*countingStore)
	if n := cs.touches.Load(); n > 2 {
		t.Errorf("%d last-seen writes for 102 marks, want at most 2", n)
	}
	ps, _ := st.DevicePairings(ctx, "d1")
	if len(ps) != 1 || !ps[0].LastSeen.Equal(t0.Add(61*time.Second)) {
		t.Fatalf("last seen = %+v, want %v", ps, t0.Add(61*time.Second))
	}
}

// countingStore counts TouchPairings calls.
type countingStore struct {
	store.Store
	touches atomic.Int64
}

func (s *countingStore) TouchPairings(ctx context.Context, session, device string, t time.Time) error {
	s.touches.Add(1)
	return s.Store.TouchPairings(ctx, session, device, t)
}

// TestCommandNamesItsBrowser: the relay names the pairing on the command it
// forwards, whatever data the client sent.
func TestCommandNamesItsBrowser(t *testing.T) {
	r := newRelay(t, nil)
	dev, tok := r.register("box")
	agent := r.agent(tok)
	sess := r.pairAs(r.code(tok), androidChrome, nil)
	c := r.client(sess)
	c.next(protocol.TypePresence)
	id := r.browsers(tok)[0].ID
	want := `{"pairing":"` + id + `","browser":"Chrome on Android"}`
	deadline := time.Now().Add(hangGuard)
	for i := 0; ; i++ {
		c.send(protocol.Message{Type: protocol.TypeCommand, ID: "c" + strconv.Itoa(i), Device: dev, Name: "beep",
			Data: json.RawMessage(`{"pairing":"p_forged","browser":"Forged"}`)})
		cmd := agent.next(protocol.TypeCommand)
		ok := true
		agent.send(protocol.Message{Type: protocol.TypeResult, ID: cmd.ID, OK: &ok})
		c.next(protocol.TypeResult)
		if string(cmd.Data) == want {
			break
		}
		if strings.Contains(string(cmd.Data), "orged") || time.Now().After(deadline) {
			t.Fatalf("command data = %s, want %s", cmd.Data, want)
		}
	}
}
