package main

import "testing"

func TestAgentProcs(t *testing.T) {
	for env, want := range map[string]int{"": 1, "4": 4, "0": 1, "x": 1, "-2": 1} {
		if got := agentProcs(env); got != want {
			t.Errorf("agentProcs(%q) = %d, want %d", env, got, want)
		}
	}
}
