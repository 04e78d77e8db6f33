// Package telemetry samples the desktop for the agent's telemetry messages:
// its load (CPU, memory) at every sample, and its other sensors (disks,
// network, battery, uptime and load average, temperatures, idle time, the
// active window) each at its own pace (sensors.go), each left out when the
// computer does not have it.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"

	"github.com/tether-desktop/tether/protocol"
)

// Sampler reads CPU and memory use. CPU use is the busy share of the time
// between two calls of Sample, so a Sampler keeps the previous CPU times of
// its own (gopsutil's cpu.Percent with interval 0 keeps them in package
// globals, shared by every caller in the process).
//
// A part that cannot be read is left out of the sample (CPU per core where
// Windows restricts it, or under Wine, which lacks the call), and the
// Sampler logs that once per part with slog's default logger; only when
// nothing can be read is Sample an error.
//
// A Sampler is safe for one goroutine at a time.
type Sampler struct {
	prevTotal cpu.TimesStat
	prevCores []cpu.TimesStat

	// times and memory read the system (gopsutil); tests swap them.
	times  func(ctx context.Context, perCore bool) ([]cpu.TimesStat, error)
	memory func(ctx context.Context) (*mem.VirtualMemoryStat, error)
	warned map[string]bool // the parts whose failure was logged

	sensors *sensorSet // disks, network, battery, … (sensors.go)
}

// NewSampler returns a Sampler whose first Sample compares with the CPU times
// read here, so even the first sample has a meaningful CPU figure once some
// time has passed.
func NewSampler() *Sampler { return NewSamplerWith(Options{}) }

// NewSamplerWith is NewSampler with the sources of the idle time and the
// active window, and the owner's switch for the window's title.
func NewSamplerWith(o Options) *Sampler {
	r := platformReaders()
	s := newSampler(r.times, r.memory)
	s.sensors = newSensorSet(o)
	s.sensors.diskIO = r.diskIO
	s.sensors.netIO = r.netIO
	if r.uptime != nil {
		s.sensors.uptime, s.sensors.load = r.uptime, r.load
	}
	return s
}

// readers are what a Sampler reads the system with: gopsutil's, or on
// Linux the agent's own readers of /proc (proc_linux.go).
type readers struct {
	times  func(ctx context.Context, perCore bool) ([]cpu.TimesStat, error)
	memory func(ctx context.Context) (*mem.VirtualMemoryStat, error)
	diskIO func(ctx context.Context) (map[string]disk.IOCountersStat, error)
	netIO  func(ctx context.Context) ([]net.IOCountersStat, error)
	// uptime and load: nil for gopsutil's
	uptime func(ctx context.Context) (uint64, error)
	load   func(ctx context.Context) (*load.AvgStat, error)
}

func newSampler(times func(context.Context, bool) ([]cpu.TimesStat, error), memory func(context.Context) (*mem.VirtualMemoryStat, error)) *Sampler {
	s := &Sampler{times: times, memory: memory, warned: map[string]bool{}}
	ctx := context.Background()
	if t, err := times(ctx, false); err == nil && len(t) == 1 {
		s.prevTotal = t[0]
	}
	s.prevCores, _ = times(ctx, true)
	return s
}

// partFailed logs, once per part, that it cannot be read.
func (s *Sampler) partFailed(part string, err error) {
	if !s.warned[part] {
		s.warned[part] = true
		slog.Warn("telemetry: cannot read "+part+"; sending the rest without it", "err", err)
	}
}

// Sample reads CPU (total and per core) and memory now. It never sleeps: CPU
// use is measured since the previous call (or since NewSampler), and is 0
// when no CPU time has passed in between. A part that cannot be read is left
// out (see Sampler); Sample fails only when no part could be read.
func (s *Sampler) Sample(ctx context.Context) (protocol.Telemetry, error) {
	var out protocol.Telemetry
	var errs []error
	total, err := s.times(ctx, false)
	if err == nil && len(total) != 1 {
		err = fmt.Errorf("got %d totals, want 1", len(total))
	}
	if err != nil {
		s.partFailed("cpu times", err)
		errs = append(errs, fmt.Errorf("read cpu times: %w", err))
	} else {
		out.CPUPercent = busyPercent(s.prevTotal, total[0])
		s.prevTotal = total[0]
	}

	cores, err := s.times(ctx, true)
	if err != nil {
		s.partFailed("per-core cpu times", err)
		errs = append(errs, fmt.Errorf("read per-core cpu times: %w", err))
	} else {
		out.CPUPerCore = make([]float64, len(cores))
		if len(s.prevCores) == len(cores) {
			for i := range cores {
				out.CPUPerCore[i] = busyPercent(s.prevCores[i], cores[i])
			}
		} // else a core came or went (or the first read failed): start over from here.
		s.prevCores = cores
	}

	vm, err := s.memory(ctx)
	if err != nil {
		s.partFailed("memory", err)
		errs = append(errs, fmt.Errorf("read memory: %w", err))
	} else {
		out.MemPercent = clampPercent(vm.UsedPercent)
		out.MemUsed, out.MemTotal = vm.Used, vm.Total
	}
	if len(errs) == 3 {
		return out, errors.Join(errs...)
	}
	if s.sensors != nil {
		s.sensors.fill(ctx, &out)
	}
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
