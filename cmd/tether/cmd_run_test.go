package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestAgentProcs(t *testing.T) {
	for env, want := range map[string]int{"": 1, "4": 4, "0": 1, "x": 1, "-2": 1} {
		if got := agentProcs(env); got != want {
			t.Errorf("agentProcs(%q) = %d, want %d", env, got, want)
		}
	}
}

func TestAgentGC(t *testing.T) {
	if p, ok := agentGC("", ""); p != agentGCPercent || !ok {
		t.Errorf("agentGC(\"\", \"\") = %d, %v; want %d, true", p, ok, agentGCPercent)
	}
	for _, env := range [][2]string{{"100", ""}, {"off", ""}, {"", "64MiB"}, {"25", "1GiB"}} {
		if _, ok := agentGC(env[0], env[1]); ok {
			t.Errorf("agentGC(%q, %q) sets the collector over the variables", env[0], env[1])
		}
	}
}

// TestQuietGC: quiet, the collector is off but collects once the garbage
// passes the slack (and not before); not quiet, it is on at the percent
// asked for, with no memory limit; keepGC puts back what it found.
func TestQuietGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	percent := gcPercent
	limit := func() int64 { return debug.SetMemoryLimit(-1) } // a negative limit only reads it
	collections := func() uint32 { var m runtime.MemStats; runtime.ReadMemStats(&m); return m.NumGC }

	hook := quietGC(25)
	runtime.GC()
	hook(true)
	if p := percent(); p != -1 {
		t.Fatalf("quiet: GC percent %d, want -1 (off)", p)
	}
	if l := limit(); l == math.MaxInt64 {
		t.Fatal("quiet: no memory limit")
	}
	var keep [][]byte // holds the newest chunk only: the others are garbage at once
	before := collections()
	for range 8 { // 512 KiB, an eighth of the slack
		keep = append(keep[:0], make([]byte, 64<<10))
	}
	if n := collections() - before; n != 0 {
		t.Errorf("quiet: %d collections for an eighth of the slack", n)
	}
	for range 3 * quietSlack / (64 << 10) {
		keep = append(keep[:0], make([]byte, 64<<10))
	}
	if collections() == before {
		t.Errorf("quiet: no collection after three times the slack of garbage")
	}
	runtime.KeepAlive(keep)

	hook(false)
	if p := percent(); p != 25 {
		t.Errorf("not quiet: GC percent %d, want 25", p)
	}
	if l := limit(); l != math.MaxInt64 {
		t.Errorf("not quiet: memory limit %d, want none", l)
	}

	restore := keepGC() // as runAgent returns
	hook(true)
	restore()
	if p, l := percent(), limit(); p != 25 || l != math.MaxInt64 {
		t.Errorf("after keepGC's restore: GC percent %d, limit %d; want 25 and none", p, l)
	}
}
