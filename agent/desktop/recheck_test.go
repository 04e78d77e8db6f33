package desktop

import (
	"runtime"
	"testing"
	"time"
)

func TestRecheckBacksOffWhileTheAnswerStays(t *testing.T) {
	var r recheck
	if !r.due() {
		t.Fatal("a check never run is not due")
	}
	r.ran(true) // the first run has nothing to compare with
	if r.every != recheckEvery || r.due() {
		t.Fatalf("after the first run: every %v, due %v", r.every, r.due())
	}
	want := []time.Duration{2 * recheckEvery, 4 * recheckEvery, 8 * recheckEvery, recheckMax, recheckMax}
	for i, w := range want {
		r.ran(true)
		if r.every != w {
			t.Fatalf("after %d same answers: every %v, want %v", i+1, r.every, w)
		}
	}
	r.ran(false)
	if r.every != recheckEvery {
		t.Fatalf("after a changed answer: every %v, want %v", r.every, recheckEvery)
	}
	r.at = time.Now().Add(-recheckEvery)
	if !r.due() {
		t.Fatal("not due once its interval passed")
	}
	r.ran(true)
	r.expire()
	if !r.due() {
		t.Fatal("not due after expire")
	}
	r.ran(true)
	if r.every != recheckEvery {
		t.Fatalf("after expire the interval starts again: every %v", r.every)
	}
}

// The open_url check is asked of the machine once, answered from the cache
// after, and asked again after Recheck.
func TestUnavailableAnswersFromItsCacheUntilRecheck(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("open_url's check reads DISPLAY on Linux")
	}
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	d := New(nil)
	defer d.Close()
	first := d.checkOpener()
	if first == "" {
		t.Fatal("open_url available with no DISPLAY")
	}
	t.Setenv("WAYLAND_DISPLAY", "wayland-test")
	if got := d.checkOpener(); got != first {
		t.Fatalf("a cached answer changed before it was due: %q, then %q", first, got)
	}
	d.Recheck()
	if got := d.checkOpener(); got == first {
		t.Fatalf("after Recheck, still %q", got)
	}
}
