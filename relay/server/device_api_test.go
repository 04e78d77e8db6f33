package server

import (
	"net/http"
	"testing"
)

func TestDeviceSelfCountsPairedBrowsers(t *testing.T) {
	r := newRelay(t, nil)
	id, tok := r.register("desk")
	get := func(bearer string) (int, map[string]any) {
		t.Helper()
		var out map[string]any
		resp := r.do("GET", "/api/v1/device", bearer, nil, &out)
		return resp.StatusCode, out
	}
	for _, tc := range []struct{ name, bearer string }{
		{"no token", ""},
		{"session token", "tst_nope"},
		{"unknown device token", "tdt_unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, out := get(tc.bearer); code != http.StatusUnauthorized || out["error"] == nil {
				t.Fatalf("%d %v", code, out)
			}
		})
	}
	want := func(n float64) {
		t.Helper()
		code, out := get(tok)
		if code != 200 || out["device_id"] != id || out["name"] != "desk" || out["paired_browsers"] != n {
			t.Fatalf("GET /api/v1/device = %d %v, want %v paired", code, out, n)
		}
	}
	want(0)
	s1 := r.pair(r.code(tok), "")
	want(1)
	r.pair(r.code(tok), s1) // the same session again: still one browser
	want(1)
	r.pair(r.code(tok), "")
	want(2)
	if resp := r.do("DELETE", "/api/v1/device/pairings", tok, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("unpair all: %d", resp.StatusCode)
	}
	want(0)
}
