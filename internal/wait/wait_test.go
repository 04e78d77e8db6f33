package wait

import (
	"testing"
	"time"
)

func TestUntilReturnsOnceTrue(t *testing.T) {
	n := 0
	Until(t, "the third call", time.Minute, func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
}

// recorder is a testing.TB that records Fatalf instead of stopping.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = format
}

func TestUntilFailsAtTheBound(t *testing.T) {
	r := &recorder{TB: t}
	calls := 0
	start := time.Now()
	// Fatalf does not stop the loop here, so cond ends it after the failure.
	Until(r, "never", 20*time.Millisecond, func() bool { calls++; return r.failed != "" })
	if r.failed == "" || time.Since(start) < 20*time.Millisecond || calls < 2 {
		t.Fatalf("failed %q after %v and %d calls", r.failed, time.Since(start), calls)
	}
}
