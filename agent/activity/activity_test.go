package activity

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSummarizeLeaksNoText(t *testing.T) {
	secret := "hunter2 my password"
	tests := []struct {
		name, command, args string
		want                map[string]any
	}{
		{"type_text", "type_text", `{"text":"` + secret + `"}`, map[string]any{"text_length": float64(19)}},
		{"clipboard_set", "clipboard_set", `{"text":"` + secret + `"}`, map[string]any{"text_length": float64(19)}},
		{"notify", "notify", `{"title":"` + secret + `","body":"héllo"}`, map[string]any{"title_length": float64(19), "body_length": float64(5)}},
		{"open_url", "open_url", `{"url":"https://example.com/reset?token=` + secret + `"}`, map[string]any{"scheme": "https", "host": "example.com"}},
		{"beep", "beep", `{"frequency_hz":880,"duration_ms":200}`, map[string]any{"frequency_hz": float64(880), "duration_ms": float64(200)}},
		{"mouse_click enum", "mouse_click", `{"button":"left","x":3,"y":4}`, map[string]any{"button": "left", "x": float64(3), "y": float64(4)}},
		{"long string of a built-in", "screenshot", `{"format":"` + secret + `"}`, map[string]any{"format_length": float64(19)}},
		{"custom command", "deploy_site", `{"branch":"` + secret + `","force":true}`, map[string]any{"arg_names": []any{"branch", "force"}}},
		{"no args", "lock_screen", ``, nil},
		{"not an object", "beep", `[1,2]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Summarize(tt.command, json.RawMessage(tt.args))
			b, _ := json.Marshal(got)
			if strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "password") {
				t.Fatalf("summary %s leaks the text", b)
			}
			var norm map[string]any
			json.Unmarshal(b, &norm)
			if fmt.Sprint(norm) != fmt.Sprint(tt.want) {
				t.Fatalf("Summarize(%s, %s) = %s, want %v", tt.command, tt.args, b, tt.want)
			}
		})
	}
}

func TestAppendReadOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg")
	l := New(dir, 0, nil)
	defer l.Close()
	at := time.Date(2026, 12, 1, 0, 0, 0, 123_456_789, time.UTC)
	if err := l.Append(Entry{Time: at, Browser: "Chrome on Android", Pairing: "p_1", Command: "beep", OK: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Entry{Time: at, Command: "type_text", Code: "not_allowed"}); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil || len(got) != 2 {
		t.Fatalf("Read = %+v, %v", got, err)
	}
	if got[0].Browser != "Chrome on Android" || !got[0].OK || !got[0].Time.Equal(at.Truncate(time.Millisecond)) ||
		got[1].Command != "type_text" || got[1].OK || got[1].Code != "not_allowed" {
		t.Fatalf("Read = %+v", got)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(Path(dir))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("log mode = %v, %v; want 0600", fi.Mode(), err)
		}
	}
	var nilLog *Log
	if err := nilLog.Append(Entry{Command: "beep"}); err != nil {
		t.Fatal(err)
	}
}

// TestRotationBoundsTheLog: many concurrent writers; every line is whole;
// the log never holds more than two files of at most the bound each, and
// the newest entries are the ones kept.
func TestRotationBoundsTheLog(t *testing.T) {
	dir := t.TempDir()
	const max = 4 << 10
	l := New(dir, max, nil)
	defer l.Close()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 100 {
				if err := l.Append(Entry{Command: "beep", Browser: fmt.Sprintf("w%d", w), Args: map[string]any{"i": i}, OK: true}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, p := range []string{Path(dir), Path(dir) + ".1"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Size() > max {
			t.Fatalf("%s: %v, %v; want at most %d bytes", p, fi, err, max)
		}
		b, _ := os.ReadFile(p)
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			var e Entry
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("%s holds a broken line %q: %v", p, line, err)
			}
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, FileName+"*")); len(matches) != 2 {
		t.Fatalf("log files = %v, want the current and one older", matches)
	}
	got, _ := Read(dir)
	last := got[len(got)-1]
	if last.Args["i"] != float64(99) {
		t.Fatalf("the newest entry kept is %+v, want one of the last", last)
	}
}

// TestFollowAcrossRotation: Follow sees every entry appended after it
// started, in order, across several rotations, and ends with its context.
func TestFollowAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	l := New(dir, 1<<10, nil)
	defer l.Close()
	l.Append(Entry{Command: "before"})
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan Entry, 1000)
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, dir, false, 5*time.Millisecond, func(e Entry) error { got <- e; return nil })
	}()
	next := func() Entry {
		t.Helper()
		select {
		case e := <-got:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("Follow delivered nothing in 10 s")
			return Entry{}
		}
	}
	// Follow starts at the end of the log as it finds it: append probes
	// until one shows up, then skip the probes that follow it.
	probes := 0
	for seen := false; !seen; {
		l.Append(Entry{Command: "probe"})
		probes++
		select {
		case e := <-got:
			if e.Command != "probe" {
				t.Fatalf("got %+v, an entry from before Follow started", e)
			}
			probes--
			seen = true
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Batches of 10 entries (about 600 bytes: at most one rotation of 1 KiB
	// between two polls), each read back before the next is written.
	for i := 0; i < 60; i += 10 {
		for j := i; j < i+10; j++ {
			l.Append(Entry{Command: "beep", Args: map[string]any{"i": j}})
		}
		for j := i; j < i+10; {
			e := next()
			if e.Command == "probe" && probes > 0 {
				probes--
				continue
			}
			if e.Args["i"] != float64(j) {
				t.Fatalf("entry %d: got %+v", j, e)
			}
			j++
		}
	}
	if fi, err := os.Stat(Path(dir) + ".1"); err != nil {
		t.Fatalf("the log never rotated: %v, %v", fi, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWritePage: the page lists the newest entries first, escapes what the
// log holds, and is owner-only.
func TestWritePage(t *testing.T) {
	dir := t.TempDir()
	l := New(dir, 0, nil)
	defer l.Close()
	l.Append(Entry{Command: "beep", Browser: "<script>alert(1)</script>", Args: map[string]any{"frequency_hz": 440}, OK: true})
	l.Append(Entry{Command: "type_text", Args: map[string]any{"text_length": 5}, Code: "not_allowed"})
	l.Append(Entry{Command: "run<i>", Args: map[string]any{"name": "<img src=x>"}, Code: "bad&code", OK: false})
	path, err := WritePage(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;") {
		t.Fatal("the page does not escape the browser's name")
	}
	for _, raw := range []string{"<i>", "<img", "bad&code"} {
		if strings.Contains(page, raw) {
			t.Errorf("the page holds %q unescaped:\n%s", raw, page)
		}
	}
	if !strings.Contains(page, "run&lt;i&gt;") || !strings.Contains(page, "name=&lt;img src=x&gt;") || !strings.Contains(page, "bad&amp;code") {
		t.Errorf("escaped command, arguments or result missing:\n%s", page)
	}
	if !strings.Contains(page, `<span class="muted">unknown</span>`) || !strings.Contains(page, "(3 of 3)") {
		t.Errorf("an entry without a browser, or the count, is not shown:\n%s", page)
	}
	if strings.Index(page, "type_text") > strings.Index(page, "beep") || !strings.Contains(page, "frequency_hz=440") ||
		!strings.Contains(page, "refused or failed: not_allowed") {
		t.Fatalf("page:\n%s", page)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("page mode %v, want 0600", fi.Mode())
	}
}

// TestFollowFromStart: from the start, Follow gives the older file's
// entries, then the current file's, then new ones, each once.
func TestFollowFromStart(t *testing.T) {
	dir := t.TempDir()
	l := New(dir, 200, nil)
	defer l.Close()
	for i := range 6 { // about 60 bytes each: the first ones rotate into .1
		l.Append(Entry{Command: "beep", Args: map[string]any{"i": i}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan Entry, 100)
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, dir, true, 5*time.Millisecond, func(e Entry) error { got <- e; return nil })
	}()
	all, _ := Read(dir)
	first := all[0].Args["i"].(float64)
	if first == 0 {
		t.Fatalf("the log did not rotate: %+v", all)
	}
	for want := first; want < 8; want++ {
		if want == 6 {
			l.Append(Entry{Command: "beep", Args: map[string]any{"i": 6}})
			l.Append(Entry{Command: "beep", Args: map[string]any{"i": 7}})
		}
		select {
		case e := <-got:
			if e.Args["i"] != want {
				t.Fatalf("got %+v, want i=%v", e, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no entry %v", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
