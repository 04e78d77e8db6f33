package agent

import "testing"

func TestWebSocketURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://127.0.0.1:8080", "ws://127.0.0.1:8080/ws/agent"},
		{"https://relay.example/base/", "wss://relay.example/base/ws/agent"},
		{"ftp://x", ""},
		{"http://", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := wsURL(tc.in)
			if (err != nil) != (tc.want == "") || got != tc.want {
				t.Errorf("wsURL = %q, %v", got, err)
			}
		})
	}
}
