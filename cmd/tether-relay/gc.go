package main

import "runtime/debug"

// defaultGCPercent is the relay's GOGC when the environment sets none. The
// relay's heap is mostly its idle sockets (peers, gorilla's Conn and its
// 1 KB reader), which live long and change little; at Go's default of 100
// the heap may grow to twice that before a collection, and that headroom
// stays resident. 50 trades a little CPU under heavy fan-out for less
// memory per idle agent (tether-bench, 5,000 idle agents: see
// docs/BENCHMARKS.md).
const defaultGCPercent = 50

// tuneGC sets the garbage collector's target to defaultGCPercent unless
// GOGC is set in the environment (getenv), which the runtime has already
// applied. GOMEMLIMIT, when set, is applied by the runtime as well.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
