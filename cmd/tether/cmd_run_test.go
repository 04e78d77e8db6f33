package main

import "testing"

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
