package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/tether-desktop/tether/agent/activity"
	"github.com/tether-desktop/tether/internal/relaytest"
	"github.com/tether-desktop/tether/protocol"
)

// TestPairingNoticeAndBrowserNameThroughTheRelay: with the real relay, a
// browser that pairs makes the running agent show "<name> paired with this
// computer", and its commands are logged under that name.
func TestPairingNoticeAndBrowserNameThroughTheRelay(t *testing.T) {
	relay := relaytest.Start(t)
	desk := &fakeDesktop{}
	cfg := Config{RelayURL: relay, ConfigDir: filepath.Join(t.TempDir(), "tether"), Name: "box", Desktop: desk, Sampler: &fakeSampler{}}
	a := startAgent(t, cfg, nil)
	waitFor(t, "connected", func() bool { return a.Status().State == StateConnected })
	code, err := a.PairingCode(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", relay+protocol.PathPairings, strings.NewReader(`{"code":"`+code.Code+`"}`))
	req.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("pair: %v %v", resp, err)
	}
	var p protocol.Pairing
	jsonDecode(t, resp, &p)
	waitFor(t, "the pairing notice", func() bool {
		desk.mu.Lock()
		defer desk.mu.Unlock()
		for _, n := range desk.notes {
			if n == "Safari on iPhone paired with this computer" {
				return true
			}
		}
		return false
	})
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(relay, "http")+"/ws/client", http.Header{"Authorization": {"Bearer " + p.SessionToken}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for i := 0; ; i++ {
		ws.WriteJSON(protocol.Message{Type: protocol.TypeCommand, ID: "c" + string(rune('a'+i)), Device: p.DeviceID, Name: "beep"})
		for {
			var m protocol.Message
			if err := ws.ReadJSON(&m); err != nil {
				t.Fatal(err)
			}
			if m.Type == protocol.TypeResult {
				break
			}
		}
		es, _ := activity.Read(cfg.ConfigDir)
		if len(es) > 0 && es[len(es)-1].Browser == "Safari on iPhone" {
			return
		}
		if i > 20 {
			t.Fatalf("log = %+v", es)
		}
	}
}

func jsonDecode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
