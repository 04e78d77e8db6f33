package telemetry

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// clock is a settable time source for the sensors' pace.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time      { return c.now }
func (c *clock) add(d time.Duration) { c.now = c.now.Add(d) }
func newClock() *clock               { return &clock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)} }
func (c *clock) fill(s *sensorSet) protocol.Telemetry {
	var out protocol.Telemetry
	s.fill(context.Background(), &out)
	return out
}

// countingIdle is an IdleSource that counts how often it is asked.
type countingIdle struct {
	calls atomic.Int32
	err   error
}

func (c *countingIdle) IdleTime(context.Context) (time.Duration, error) {
	c.calls.Add(1)
	return 1500 * time.Millisecond, c.err
}

type fixedWindow string

func (w fixedWindow) ActiveWindowTitle(context.Context) (string, error) { return string(w), nil }

// TestSensorsKeepTheirPace: each sensor is read when due and its latest
// reading goes out with every sample in between.
func TestSensorsKeepTheirPace(t *testing.T) {
	c := newClock()
	idle := &countingIdle{}
	s := newSensorSet(Options{Idle: idle, Now: c.Now})
	out := c.fill(s)
	if out.IdleSeconds == nil || *out.IdleSeconds != 1.5 || idle.calls.Load() != 1 {
		t.Fatalf("first sample: idle %v after %d calls", out.IdleSeconds, idle.calls.Load())
	}
	c.add(500 * time.Millisecond)
	if out = c.fill(s); out.IdleSeconds == nil || idle.calls.Load() != 1 {
		t.Fatalf("half a second later: idle %v, %d calls; want the last reading, not a new one", out.IdleSeconds, idle.calls.Load())
	}
	c.add(600 * time.Millisecond)
	if c.fill(s); idle.calls.Load() != 2 {
		t.Fatalf("past its second: %d calls, want 2", idle.calls.Load())
	}
	// A failing source makes the field absent, not an error.
	idle.err = errors.New("no display")
	c.add(time.Second)
	if out = c.fill(s); out.IdleSeconds != nil {
		t.Fatalf("failing idle source: %v, want absent", *out.IdleSeconds)
	}
}

// TestSensorsOfThisMachine reads the real counters: the root file system
// has a size, uptime is positive, and the rates appear from the second
// reading on — writing and syncing 8 MiB shows in the disk write rate.
func TestSensorsOfThisMachine(t *testing.T) {
	c := newClock()
	s := newSensorSet(Options{Now: c.Now})
	out := c.fill(s)
	if out.DiskIO != nil || out.Net != nil {
		t.Errorf("rates on the first reading: %+v %+v", out.DiskIO, out.Net)
	}
	if runtime.GOOS == "linux" {
		if len(out.Disks) == 0 || out.Disks[0].TotalBytes == 0 || out.Disks[0].UsedPercent <= 0 {
			t.Errorf("disks %+v, want at least one with a size", out.Disks)
		}
		if out.UptimeSeconds == 0 || out.Load == nil {
			t.Errorf("uptime %d, load %+v", out.UptimeSeconds, out.Load)
		}
	}
	f, err := os.CreateTemp(".", "iotest-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(make([]byte, 8<<20)); err != nil {
		t.Fatal(err)
	}
	f.Sync()
	f.Close()
	c.add(everyRates)
	out = c.fill(s)
	if out.DiskIO == nil || out.DiskIO.WriteBytesPerS < float64(4<<20)/everyRates.Seconds() {
		t.Errorf("disk I/O after writing 8 MiB: %+v, want at least 4 MiB over %v", out.DiskIO, everyRates)
	}
	if out.Net == nil {
		t.Errorf("no network rates on the second reading")
	}
	for _, n := range out.Net.Interfaces {
		if n.Name == "lo" {
			t.Errorf("loopback counted: %+v", out.Net.Interfaces)
		}
	}
	// After a long gap (nobody watched) the first reading gives no rate.
	c.add(time.Hour)
	if out = c.fill(s); out.DiskIO != nil || out.Net != nil {
		t.Errorf("rates after an hour unwatched: %+v %+v, want none until the next reading", out.DiskIO, out.Net)
	}
}

// TestWindowTitleOnlyWhenShared: off by default; on, it is read at its
// pace; switched off, it is gone from the very next sample.
func TestWindowTitleOnlyWhenShared(t *testing.T) {
	c := newClock()
	var share atomic.Bool
	s := newSensorSet(Options{Window: fixedWindow("Inbox — Mail"), ShareWindow: share.Load, Now: c.Now})
	if out := c.fill(s); out.ActiveWindow != "" {
		t.Fatalf("title %q while not shared", out.ActiveWindow)
	}
	share.Store(true)
	c.add(everyWindow)
	if out := c.fill(s); out.ActiveWindow != "Inbox — Mail" {
		t.Fatalf("title %q while shared", out.ActiveWindow)
	}
	share.Store(false)
	c.add(time.Millisecond)
	if out := c.fill(s); out.ActiveWindow != "" {
		t.Fatalf("title %q right after sharing stopped", out.ActiveWindow)
	}
	if out := c.fill(newSensorSet(Options{Window: fixedWindow("x"), Now: c.Now})); out.ActiveWindow != "" {
		t.Fatalf("title %q without a ShareWindow switch", out.ActiveWindow)
	}
}
