package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRelayStorageFull puts the relay's store on a small tmpfs and fills the
// disk: the relay answers 503 with Retry-After and a JSON error, never
// crashes, and works again once space is freed. It needs root to mount. (A
// read-only store is tested in relay/store: a tmpfs with open files cannot
// be remounted read-only.)
func TestRelayStorageFull(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs and runs the relay")
	}
	singleNodeOnly(t, "a cluster's store is PostgreSQL (its outage: cmd/tether-relay's TestClusterPostgresRestart)")
	data := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(data, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", data).CombinedOutput(); err != nil {
		if os.Getenv("TETHER_REQUIRE_DESKTOP") != "" {
			t.Fatalf("mount a tmpfs (needs root): %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here (needs root): %v", err)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	relay := startRelay(t, freeAddr(t), data)

	post := func(path, bearer string, body any) (int, string, string) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", relay.url+path, bytes.NewReader(b))
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v (did the relay crash?)", path, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var e struct{ Error struct{ Code string } }
		json.Unmarshal(raw, &e)
		return resp.StatusCode, e.Error.Code, resp.Header.Get("Retry-After")
	}
	// Devices whose pairing codes are the writes of this test (each may ask for 10 at once).
	var tokens []string
	for i := 0; i < 4; i++ {
		var out map[string]string
		b, _ := json.Marshal(map[string]string{"name": "disk", "os": "linux"})
		resp, err := http.Post(relay.url+"/api/v1/devices", "application/json", bytes.NewReader(b))
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("register: %v %v", resp, err)
		}
		jsonDecode(t, resp, &out)
		tokens = append(tokens, out["device_token"])
	}
	writes := 0
	write := func() (int, string, string) {
		tok := tokens[writes/10%len(tokens)]
		writes++
		return post("/api/v1/pairing-codes", tok, nil)
	}
	// expectRefusal writes until the store refuses; every refusal must be a
	// 503 unavailable with Retry-After, and nothing else may go wrong.
	expectRefusal := func(what string) {
		t.Helper()
		for i := 0; i < 15; i++ {
			status, code, retry := write()
			switch {
			case status == 201:
				continue // SQLite may still have room in pages it holds
			case status == 503 && code == "unavailable" && retry != "":
				t.Logf("%s: refused with 503 %s, Retry-After %s", what, code, retry)
				return
			default:
				t.Fatalf("%s: %d %q (Retry-After %q), want 503 unavailable", what, status, code, retry)
			}
		}
		t.Fatalf("%s: the relay kept accepting writes", what)
	}
	expectWorks := func(what string) {
		t.Helper()
		if status, code, _ := write(); status != 201 {
			t.Fatalf("%s: %d %s, want 201", what, status, code)
		}
		resp, err := http.Get(relay.url + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: healthz %v %v", what, resp, err)
		}
		resp.Body.Close()
	}
	expectWorks("before")

	// Disk full: a filler file takes every free byte.
	filler := filepath.Join(data, "filler")
	f, _ := os.Create(filler)
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			break
		}
	}
	f.Close()
	expectRefusal("disk full")
	os.Remove(filler)
	expectWorks("after freeing space")

}
