// Package telemetry samples the desktop's load (CPU, memory) for the agent's
// telemetry messages.
package telemetry

import (
	"context"
	"fmt"
	"math"
	"runtime"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/tether-desktop/tether/protocol"
)

// Sampler reads CPU and memory use. CPU use is the busy share of the time
// between two calls of Sample, so a Sampler keeps the previous CPU times of
// its own (gopsutil's cpu.Percent with interval 0 keeps them in package
// globals, shared by every caller in the process).
//
// A Sampler is safe for one goroutine at a time.
type Sampler struct {
	prevTotal cpu.TimesStat
	prevCores []cpu.TimesStat
}

// NewSampler returns a Sampler whose first Sample compares with the CPU times
// read here, so even the first sample has a meaningful CPU figure once some
// time has passed.
func NewSampler() *Sampler {
	s := &Sampler{}
	if t, err := cpu.Times(false); err == nil && len(t) == 1 {
		s.prevTotal = t[0]
	}
	s.prevCores, _ = cpu.Times(true)
	return s
}

// Sample reads CPU (total and per core) and memory now. It never sleeps: CPU
// use is measured since the previous call (or since NewSampler), and is 0
// when no CPU time has passed in between.
func (s *Sampler) Sample(ctx context.Context) (protocol.Telemetry, error) {
	var out protocol.Telemetry
	total, err := cpu.TimesWithContext(ctx, false)
	if err != nil {
		return out, fmt.Errorf("read cpu times: %w", err)
	}
	if len(total) != 1 {
		return out, fmt.Errorf("read cpu times: got %d totals, want 1", len(total))
	}
	cores, err := cpu.TimesWithContext(ctx, true)
	if err != nil {
		return out, fmt.Errorf("read per-core cpu times: %w", err)
	}
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return out, fmt.Errorf("read memory: %w", err)
	}

	out.CPUPercent = busyPercent(s.prevTotal, total[0])
	if len(s.prevCores) == len(cores) {
		out.CPUPerCore = make([]float64, len(cores))
		for i := range cores {
			out.CPUPerCore[i] = busyPercent(s.prevCores[i], cores[i])
		}
	} else {
		// A core came or went (or the first read failed): start over from here.
		out.CPUPerCore = make([]float64, len(cores))
	}
	s.prevTotal, s.prevCores = total[0], cores

	out.MemPercent = clampPercent(vm.UsedPercent)
	out.MemUsed, out.MemTotal = vm.Used, vm.Total
	return out, nil
}

// busyPercent returns the share of time between a and b that was not idle,
// in percent, counted the way gopsutil's cpu.Percent counts it.
func busyPercent(a, b cpu.TimesStat) float64 {
	aAll, aBusy := allBusy(a)
	bAll, bBusy := allBusy(b)
	if bAll <= aAll || bBusy <= aBusy {
		return 0
	}
	return clampPercent((bBusy - aBusy) / (bAll - aAll) * 100)
}

func allBusy(t cpu.TimesStat) (all, busy float64) {
	all = t.User + t.System + t.Idle + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal
	if runtime.GOOS != "linux" {
		// Linux already counts guest time inside user time.
		all += t.Guest + t.GuestNice
	}
	return all, all - t.Idle - t.Iowait
}

func clampPercent(p float64) float64 {
	if math.IsNaN(p) {
		return 0
	}
	return min(100, max(0, p))
}
