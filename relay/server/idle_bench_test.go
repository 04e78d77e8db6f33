package server

import (
	"context"
	"runtime"
	"testing"

	"github.com/tether-desktop/tether/relay/store"
)

// BenchmarkIdleAgents connects 2,000 agents (welcome, hello, first watch;
// then nothing) over real loopback sockets and reports what the relay holds
// for each idle one: goroutines, goroutine stack bytes as they are after the
// hellos and after a GC (which shrinks stacks), and heap bytes after a GC.
// The test's own client sockets have no goroutines, so the stack and
// goroutine figures are the relay's alone; the heap figure includes the
// client side's gorilla Conn and buffers (about 9 KB, the dialer's default
// 4 KB read and write buffers), so compare it before/after, not with RSS.
// One op is the whole run; run it with -benchtime 1x.
func BenchmarkIdleAgents(b *testing.B) {
	const n = 2000
	for i := 0; i < b.N; i++ {
		r := newRelay(b, benchLimits)
		toks := make([]string, n)
		for j := range toks {
			d := store.Device{ID: newID("d_"), Name: "box", OS: "linux", CreatedAt: r.srv.cfg.Now()}
			toks[j] = newToken(deviceTokenPrefix)
			if err := r.st.CreateDevice(context.Background(), d, hashToken(toks[j])); err != nil {
				b.Fatal(err)
			}
		}
		var before, after, gced runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		for _, tok := range toks {
			r.agent(tok)
		}
		runtime.ReadMemStats(&after)
		g1 := runtime.NumGoroutine()
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&gced)
		per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / n }
		b.ReportMetric(float64(g1-g0)/n, "goroutines/agent")
		b.ReportMetric(per(after.StackInuse, before.StackInuse), "stack-B/agent")
		b.ReportMetric(per(gced.StackInuse, before.StackInuse), "stack-gc-B/agent")
		b.ReportMetric(per(gced.HeapInuse, before.HeapInuse), "heap-gc-B/agent")
	}
}
