package telemetry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"
)

// spin keeps every core busy for d.
func spin(d time.Duration) {
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			x := 0
			for end := time.Now().Add(d); time.Now().Before(end); {
				x++
			}
			_ = x
		})
	}
	wg.Wait()
}

func TestSampleAfterBusyLoop(t *testing.T) {
	ctx := context.Background()
	s := NewSampler()
	if _, err := s.Sample(ctx); err != nil {
		t.Fatalf("first Sample: %v", err)
	}
	spin(300 * time.Millisecond)
	got, err := s.Sample(ctx)
	if err != nil {
		t.Fatalf("second Sample: %v", err)
	}
	t.Logf("after a busy loop on every core: %+v", got)

	cores, err := cpu.Counts(true)
	if err != nil {
		t.Fatalf("cpu.Counts: %v", err)
	}
	if len(got.CPUPerCore) != cores {
		t.Errorf("per-core values: %d, want %d (cpu.Counts)", len(got.CPUPerCore), cores)
	}
	inRange := func(what string, v float64) {
		if v < 0 || v > 100 {
			t.Errorf("%s = %v, want 0..100", what, v)
		}
	}
	inRange("cpu_percent", got.CPUPercent)
	for _, c := range got.CPUPerCore {
		inRange("cpu_per_core", c)
	}
	inRange("mem_percent", got.MemPercent)
	// Every core spun for the whole interval, so the machine cannot look idle.
	// The bound is loose: other processes, and the scheduler, share the cores.
	if got.CPUPercent < 20 {
		t.Errorf("cpu_percent = %.1f after spinning every core, want clearly busy (>= 20)", got.CPUPercent)
	}
	if got.MemPercent <= 0 || got.MemTotal == 0 || got.MemUsed == 0 || got.MemUsed > got.MemTotal {
		t.Errorf("memory not plausible: %.1f%% used %d of %d bytes", got.MemPercent, got.MemUsed, got.MemTotal)
	}
}

func TestBusyPercent(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b cpu.TimesStat
		want float64
	}{
		{"no time passed", cpu.TimesStat{User: 5, Idle: 5}, cpu.TimesStat{User: 5, Idle: 5}, 0},
		{"all idle", cpu.TimesStat{Idle: 1}, cpu.TimesStat{Idle: 3}, 0},
		{"all busy", cpu.TimesStat{User: 1}, cpu.TimesStat{User: 2, System: 1}, 100},
		{"a quarter busy", cpu.TimesStat{}, cpu.TimesStat{User: 1, Idle: 2, Iowait: 1}, 25},
		{"counters went back", cpu.TimesStat{User: 9, Idle: 9}, cpu.TimesStat{User: 1, Idle: 1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := busyPercent(tc.a, tc.b); got != tc.want {
				t.Errorf("busyPercent = %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkSampleEverySecond is a watched agent's sampling: one Sample a
// second of a clock that the benchmark moves on, so each sensor is read at
// its own pace (disk I/O and network every 2 samples, disks every 30, …)
// and the figures per op are those of an average second. Its B/op is what
// a watched agent's heap grows by each second.
func BenchmarkSampleEverySecond(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	s := NewSamplerWith(Options{Now: func() time.Time { now = now.Add(time.Second); return now }})
	for range 60 { // every sensor read once, its state made
		s.Sample(ctx)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sample(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSample(b *testing.B) {
	ctx := context.Background()
	s := NewSampler()
	for b.Loop() {
		if _, err := s.Sample(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSampleWithoutPerCore reads the system as usual except per-core CPU
// times, which fail as they do under Wine (NtQuerySystemInformationEx is
// missing) and on machines that restrict them: CPU and memory still arrive,
// per-core is left out, and the failure is logged once.
func TestSampleWithoutPerCore(t *testing.T) {
	var logged bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	noCores := errors.New("not implemented")
	times := func(ctx context.Context, perCore bool) ([]cpu.TimesStat, error) {
		if perCore {
			return nil, noCores
		}
		return cpu.TimesWithContext(ctx, false)
	}
	s := newSampler(times, mem.VirtualMemoryWithContext)
	for i := range 3 {
		spin(50 * time.Millisecond)
		got, err := s.Sample(context.Background())
		if err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if got.CPUPercent <= 0 || got.MemTotal == 0 || got.MemPercent <= 0 || got.CPUPerCore != nil {
			t.Fatalf("sample %d = %+v, want CPU and memory without per-core", i, got)
		}
	}
	if n := strings.Count(logged.String(), "per-core cpu times"); n != 1 {
		t.Fatalf("the failure was logged %d times, want once:\n%s", n, logged.String())
	}

	fail := func(context.Context, bool) ([]cpu.TimesStat, error) { return nil, noCores }
	noMem := func(context.Context) (*mem.VirtualMemoryStat, error) { return nil, noCores }
	if _, err := newSampler(fail, noMem).Sample(context.Background()); !errors.Is(err, noCores) {
		t.Fatalf("nothing readable: err %v, want the readers' error", err)
	}
}
