package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/store"
)

// FuzzAPI sends arbitrary requests to the relay's HTTP handler, with a real
// store behind it, and checks that every answer is well-formed: no panic, a
// known status, and a JSON error body with a code for every failure.
func FuzzAPI(f *testing.F) {
	st, err := store.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	srv, err := New(Config{
		Store: st, PublicURL: "http://relay.test", CodeKey: bytes.Repeat([]byte{1}, 32),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// Generous limits so the fuzzer explores handlers, not the 429 path.
		PairRate: 1e9, PairBurst: 1 << 30,
	})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	// A real device and session, so authenticated paths are reachable.
	reg := httptest.NewRecorder()
	h.ServeHTTP(reg, httptest.NewRequest("POST", "/api/v1/devices", strings.NewReader(`{"name":"fuzz","os":"linux"}`)))
	var dev map[string]string
	json.Unmarshal(reg.Body.Bytes(), &dev)
	tokens := []string{"", dev["device_token"], "tst_nope", "tdt_nope", "garbage"}

	for _, seed := range []struct {
		method, path, body string
		tok                uint8
	}{
		{"POST", "/api/v1/devices", `{"name":"a","os":"linux"}`, 0},
		{"POST", "/api/v1/pairing-codes", ``, 1},
		{"POST", "/api/v1/pairings", `{"code":"ABCD-2345","label":"x"}`, 0},
		{"GET", "/api/v1/devices", ``, 2},
		{"DELETE", "/api/v1/pairings/d_x", ``, 2},
		{"DELETE", "/api/v1/device/pairings", ``, 1},
		{"GET", "/ws/client", ``, 2},
		{"GET", "/pair?code=ABCD-2345", ``, 0},
		{"POST", "/api/v1/pairings", `{"code":` + strings.Repeat("[", 100), 0},
		{"POST", "/api/v1/devices", strings.Repeat("x", 5000), 0},
	} {
		f.Add(seed.method, seed.path, seed.body, seed.tok)
	}
	f.Fuzz(func(t *testing.T, method, path, body string, tok uint8) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") || !validMethod(method) {
			return // not a request a client can send
		}
		req, err := http.NewRequest(method, "http://relay.test"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.RemoteAddr = "192.0.2.1:1234"
		if t := tokens[int(tok)%len(tokens)]; t != "" {
			req.Header.Set("Authorization", "Bearer "+t)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("%s %s: status %d", method, path, rec.Code)
		}
		if rec.Code >= 400 {
			var e protocol.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %s: %d with body %q", method, path, rec.Code, rec.Body.String())
			}
		}
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s: server error %d: %s", method, path, rec.Code, rec.Body.String())
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS":
		return true
	}
	return false
}
