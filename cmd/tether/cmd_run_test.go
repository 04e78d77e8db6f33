package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/tether-desktop/tether/internal/wait"
)

func TestAgentProcs(t *testing.T) {
	for env, want := range map[string]int{"": 1, "4": 4, "0": 1, "x": 1, "-2": 1} {
		if got := agentProcs(env); got != want {
			t.Errorf("agentProcs(%q) = %d, want %d", env, got, want)
		}
	}
}

func TestAgentGC(t *testing.T) {
	if p, ok := agentGC(""); p != agentGCPercent || !ok {
		t.Errorf("agentGC(\"\") = %d, %v; want %d, true", p, ok, agentGCPercent)
	}
	for _, env := range []string{"100", "off", "25"} {
		if _, ok := agentGC(env); ok {
			t.Errorf("agentGC(%q) sets the GC percent over the variable", env)
		}
	}
}

// TestLowerGCOnceCollecting: the GC percent stays as it is until the
// runtime collects, then is the one asked for.
func TestLowerGCOnceCollecting(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	gcPercent := func() int { // read without setting, which would race with the finalizer
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return int(s[0].Value.Uint64())
	}

	lowerGCOnceCollecting(25)
	if p := gcPercent(); p != 100 {
		t.Fatalf("GC percent %d before any collection, want 100", p)
	}
	runtime.GC()
	wait.Until(t, "the GC percent lowered after a collection", 10*time.Second, func() bool {
		runtime.GC() // the finalizer runs on its own goroutine, after the collection that found the object
		return gcPercent() == 25
	})
}
