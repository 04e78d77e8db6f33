package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/tether-desktop/tether/internal/relaytest"
	"github.com/tether-desktop/tether/protocol"
)

// TestWatchersFollowTheRelay runs a real agent against the real relay and
// opens client sockets as a paired browser would: the agent's status and
// status.json count exactly the open sockets, never a stale or doubled
// number, including after a burst of sockets opening and closing. It also
// drives the verbs a user interface uses (PairingCode, DeviceInfo,
// UnpairAll) against the relay.
func TestWatchersFollowTheRelay(t *testing.T) {
	relay := relaytest.Start(t)
	cfg := testConfig(t, newFakeRelay(t)) // the fake relay is not used
	cfg.RelayURL = relay
	a := startAgent(t, cfg, nil)
	waitFor(t, "connected", func() bool { return a.Status().State == StateConnected })

	ctx := context.Background()
	code, err := a.PairingCode(ctx)
	if err != nil || !strings.HasPrefix(code.URL, relay+"/pair?code=") {
		t.Fatalf("PairingCode = %+v, %v", code, err)
	}
	body, _ := json.Marshal(protocol.PairRequest{Code: code.Code})
	resp, err := http.Post(relay+protocol.PathPairings, "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("pairing: %v %v", resp, err)
	}
	var p protocol.Pairing
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if d, err := a.DeviceInfo(ctx); err != nil || d.PairedBrowsers != 1 || d.DeviceID != p.DeviceID {
		t.Fatalf("DeviceInfo = %+v, %v; paired %+v", d, err, p)
	}

	open := func() *websocket.Conn {
		t.Helper()
		hdr := http.Header{"Authorization": {"Bearer " + p.SessionToken}}
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(relay, "http")+"/ws/client", hdr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		return ws
	}
	watchers := func(want int) {
		t.Helper()
		waitFor(t, "watchers in status and status.json", func() bool {
			st, err := ReadStatus(cfg.ConfigDir)
			return a.Status().Watchers == want && err == nil && st.Watchers == want
		})
	}
	first := open()
	watchers(1)
	second := open()
	watchers(2)
	second.Close()
	watchers(1)
	for range 20 { // a page reloading fast: sockets come and go
		open().Close()
	}
	watchers(1)
	first.Close()
	watchers(0)

	if err := a.UnpairAll(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := a.DeviceInfo(ctx); err != nil || d.PairedBrowsers != 0 {
		t.Fatalf("DeviceInfo after UnpairAll = %+v, %v", d, err)
	}
}
