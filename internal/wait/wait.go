// Package wait polls a condition in tests until it holds. The bound is a
// hang guard, never a timing assertion: a test fails only when the condition
// never comes true within it.
package wait

import (
	"testing"
	"time"
)

// Until calls cond until it returns true, and fails t (naming what it
// waited for) when bound passes first. It blocks. The first calls come
// 5 ms apart, so a quick condition costs little; the pause then doubles up
// to 100 ms, so a slow one (a process started per call) does not load the
// machine.
func Until(t testing.TB, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	every := 5 * time.Millisecond
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", bound, what)
		}
		time.Sleep(every)
		every = min(2*every, 100*time.Millisecond)
	}
}
