package protocol

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestHTTPBodiesMatchTheContract decodes the contract's example bodies into
// the HTTP types and encodes them back: every field the contract names is
// carried, under the contract's name.
func TestHTTPBodiesMatchTheContract(t *testing.T) {
	expires := time.Date(2026, 11, 22, 10, 10, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		body string
		into any
		want any
	}{
		{"error envelope", `{"error":{"code":"not_paired","message":"no such pairing"}}`,
			&ErrorBody{}, &ErrorBody{Error: Error{Code: CodeNotPaired, Message: "no such pairing"}}},
		{"register request", `{"name":"box","os":"linux"}`,
			&RegisterRequest{}, &RegisterRequest{Name: "box", OS: "linux"}},
		{"registration", `{"device_id":"d_1","device_token":"tdt_x"}`,
			&Registration{}, &Registration{DeviceID: "d_1", DeviceToken: "tdt_x"}},
		{"pairing code", `{"code":"ABCD-2345","expires_at":"2026-11-22T10:10:00Z","url":"https://r.example/pair?code=ABCD-2345"}`,
			&PairingCode{}, &PairingCode{Code: "ABCD-2345", ExpiresAt: expires, URL: "https://r.example/pair?code=ABCD-2345"}},
		{"pair request", `{"code":"ABCD-2345","label":"kitchen"}`,
			&PairRequest{}, &PairRequest{Code: "ABCD-2345", Label: "kitchen"}},
		{"pairing", `{"device_id":"d_1","device_name":"box","session_token":"tst_x"}`,
			&Pairing{}, &Pairing{DeviceID: "d_1", DeviceName: "box", SessionToken: "tst_x"}},
		{"device entry", `{"device_id":"d_1","name":"box","os":"linux","online":true,"last_seen":"2026-11-22T10:00:00Z","capabilities":["beep"]}`,
			&DeviceEntry{}, &DeviceEntry{DeviceID: "d_1", Name: "box", OS: "linux", Online: true, LastSeen: "2026-11-22T10:00:00Z", Capabilities: []string{"beep"}}},
		{"device info", `{"device_id":"d_1","name":"box","paired_browsers":2}`,
			&DeviceInfo{}, &DeviceInfo{DeviceID: "d_1", Name: "box", PairedBrowsers: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := json.Unmarshal([]byte(tc.body), tc.into); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tc.into, tc.want) {
				t.Fatalf("decoded %+v, want %+v", tc.into, tc.want)
			}
			// Encoding gives back the same fields (order aside).
			var got, orig map[string]any
			b, err := json.Marshal(tc.into)
			if err != nil {
				t.Fatal(err)
			}
			json.Unmarshal(b, &got)
			json.Unmarshal([]byte(tc.body), &orig)
			if !reflect.DeepEqual(got, orig) {
				t.Errorf("encoded %s, want the fields of %s", b, tc.body)
			}
		})
	}
}
