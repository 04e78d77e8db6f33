package main

import (
	"runtime/debug"
	"testing"
)

// TestTuneGC checks that the relay runs at defaultGCPercent unless GOGC
// is set, which it leaves to the runtime.
func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GOGC unset: GC percent %d, want %d", got, defaultGCPercent)
	}
	tuneGC(func(k string) string {
		if k == "GOGC" {
			return "200"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=200 set: tuneGC changed the GC percent to %d", got)
	}
}
