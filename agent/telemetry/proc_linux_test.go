package telemetry

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/tether-desktop/tether/internal/wait"
)

// TestProcReadersAgreeWithGopsutil reads this machine's /proc with the
// agent's readers and with gopsutil's, one right after the other: the same
// cores, the same memory total, counters that only grew in between.
func TestProcReadersAgreeWithGopsutil(t *testing.T) {
	ctx := context.Background()
	p := newProcReader()
	total, err := p.times(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	cores, err := p.times(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	gTotal, err := cpu.TimesWithContext(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	gCores, err := cpu.TimesWithContext(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(total) != 1 || len(cores) != len(gCores) {
		t.Fatalf("%d totals and %d cores, gopsutil %d and %d", len(total), len(cores), len(gTotal), len(gCores))
	}
	pairs := func(a, b cpu.TimesStat) [][2]float64 {
		return [][2]float64{{a.User, b.User}, {a.Nice, b.Nice}, {a.System, b.System}, {a.Idle, b.Idle},
			{a.Iowait, b.Iowait}, {a.Irq, b.Irq}, {a.Softirq, b.Softirq}, {a.Steal, b.Steal}}
	}
	grew := func(what string, a, b cpu.TimesStat) {
		t.Helper()
		for i, p := range pairs(a, b) {
			// Read first, so at most the few seconds of the test behind.
			if p[0] > p[1] || p[1]-p[0] > 5 {
				t.Errorf("%s field %d: %v here, %v from gopsutil just after", what, i, p[0], p[1])
			}
		}
	}
	grew("total", total[0], gTotal[0])
	for i := range cores {
		grew("core", cores[i], gCores[i])
	}
	if again, _ := p.times(ctx, true); len(again) != len(cores) {
		t.Errorf("times(true) on its own read %d cores", len(again))
	}

	m, err := p.memory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Total != gm.Total || math.Abs(float64(m.Available)-float64(gm.Available)) > 0.05*float64(gm.Total) ||
		math.Abs(m.UsedPercent-gm.UsedPercent) > 5 || m.Used != m.Total-m.Available {
		t.Errorf("memory %+v, gopsutil %+v", m, gm)
	}

	io, err := p.diskIO(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gio, err := disk.IOCountersWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(io) != len(gio) {
		t.Errorf("%d disks, gopsutil %d", len(io), len(gio))
	}
	for name, c := range io {
		g, ok := gio[name]
		if !ok || c.ReadBytes > g.ReadBytes || c.WriteBytes > g.WriteBytes {
			t.Errorf("disk %s: %+v, gopsutil %+v", name, c, g)
		}
	}
}

// TestHostReadersAgreeWithGopsutil: uptime and load from the kept-open
// /proc files are gopsutil's, read just after.
func TestHostReadersAgreeWithGopsutil(t *testing.T) {
	ctx := context.Background()
	p := newProcReader()
	up, err := p.uptime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l, err := p.loadAvg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gup, err := host.UptimeWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gl, err := load.AvgWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// gopsutil counts from /proc/stat's boot time in whole seconds.
	if math.Abs(float64(up)-float64(gup)) > 5 {
		t.Errorf("uptime %d, gopsutil %d just after", up, gup)
	}
	// The kernel recomputes the averages every 5 s: at most one step apart.
	if math.Abs(l.Load1-gl.Load1) > 2 || math.Abs(l.Load15-gl.Load15) > 0.5 {
		t.Errorf("load %+v, gopsutil %+v just after", l, gl)
	}
}

// TestNetReaderAgreesWithGopsutil: /proc/net/dev read by the agent names
// the interfaces gopsutil names, with counters no ahead of gopsutil's read
// just after.
func TestNetReaderAgreesWithGopsutil(t *testing.T) {
	ctx := context.Background()
	p := newProcReader()
	nics, err := p.netIO(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gopsutilNetIO(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nics) == 0 || len(nics) != len(g) {
		t.Fatalf("%d interfaces, gopsutil %d", len(nics), len(g))
	}
	for i, n := range nics {
		if n.Name != g[i].Name || n.BytesRecv > g[i].BytesRecv || n.BytesSent > g[i].BytesSent {
			t.Errorf("interface %d: %+v, gopsutil %+v", i, n, g[i])
		}
	}
	dev := "Inter-|   Receive                                                |  Transmit\n" +
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
		"    lo:  100 2 0 0 0 0 0 0  100 2 0 0 0 0 0 0\n  eth0: 5000 9 0 0 0 0 0 0 7000 8 0 0 0 0 0 0\n"
	got, err := parseNetDev([]byte(dev), nil)
	if err != nil || len(got) != 2 || got[1].Name != "eth0" || got[1].BytesRecv != 5000 || got[1].BytesSent != 7000 {
		t.Errorf("parseNetDev = %+v, %v", got, err)
	}
	// Read again into the same array: the same counts, and an interface that
	// took another's place has its own name.
	swapped := strings.Replace(dev, "eth0: 5000", "wlan0: 6000", 1)
	got, err = parseNetDev([]byte(swapped), got[:0])
	if err != nil || len(got) != 2 || got[0].Name != "lo" || got[1].Name != "wlan0" || got[1].BytesRecv != 6000 {
		t.Errorf("parseNetDev into the previous read = %+v, %v", got, err)
	}
}

func TestParseProcFiles(t *testing.T) {
	stat := "cpu  100 2 30 4000 5 6 7 8 9 10\ncpu0 50 1 15 2000 2 3 3 4 4 5\ncpu1 50 1 15 2000 3 3 4 4 5 5\nintr 1 2 3\ncpu9 1 1 1 1 1\n"
	total, cores, err := parseProcStat([]byte(stat), nil)
	if err != nil || len(cores) != 2 || total.User != 1 || total.Idle != 40 || total.GuestNice != 0.1 || cores[1].Iowait != 0.03 {
		t.Errorf("parseProcStat = %+v %+v %v", total, cores, err)
	}
	if _, _, err := parseProcStat([]byte("intr 1\n"), nil); err == nil {
		t.Error("no cpu line accepted")
	}
	if _, _, err := parseProcStat([]byte("cpu 1 2 x 4\n"), nil); err == nil {
		t.Error("a bad number accepted")
	}

	old := "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n"
	var m mem.VirtualMemoryStat
	err = parseMeminfo([]byte(old), &m)
	if err != nil || m.Total != 1000*1024 || m.Available != 400*1024 || m.Used != 600*1024 || m.UsedPercent != 60 {
		t.Errorf("parseMeminfo without MemAvailable = %+v, %v", m, err)
	}
	err = parseMeminfo([]byte("MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 750 kB\n"), &m)
	if err != nil || m.Used != 250*1024 || m.Buffers != 0 {
		t.Errorf("parseMeminfo = %+v, %v", m, err)
	}
	if err := parseMeminfo([]byte("MemFree: 1 kB\n"), &m); err == nil {
		t.Error("no MemTotal accepted")
	}

	if up, err := parseUptime([]byte("273600.52 500000.10\n")); err != nil || up != 273600 {
		t.Errorf("parseUptime = %d, %v", up, err)
	}
	for _, bad := range []string{"", "x 1\n", "-5 1\n"} {
		if _, err := parseUptime([]byte(bad)); err == nil {
			t.Errorf("parseUptime(%q) accepted", bad)
		}
	}
	if l, err := parseLoadavg([]byte("0.52 0.31 0.20 1/123 4567\n")); err != nil || *l != (load.AvgStat{Load1: 0.52, Load5: 0.31, Load15: 0.2}) {
		t.Errorf("parseLoadavg = %+v, %v", l, err)
	}
	for _, bad := range []string{"", "0.5 0.3\n", "0.5 x 0.2 1/1 1\n"} {
		if _, err := parseLoadavg([]byte(bad)); err == nil {
			t.Errorf("parseLoadavg(%q) accepted", bad)
		}
	}

	io := map[string]disk.IOCountersStat{}
	err = parseDiskstats([]byte(" 254 0 vda 10 0 200 5 20 0 400 9 0 1 1\n 254 1 vda1 1 0 2 0 1 0 4 0 0 0 0\n 7 0 loop0 0 0 0 0 0 0 0 0 0 0 0\n"), io)
	if err != nil || io["vda"].ReadBytes != 200*512 || io["vda"].WriteBytes != 400*512 || len(io) != 2 || io["vda1"].Name != "vda1" {
		t.Errorf("parseDiskstats = %+v, %v", io, err)
	}
	// Into the previous read's map: counters move on, a disk that went away
	// is gone, a new one is there.
	err = parseDiskstats([]byte(" 254 0 vda 10 0 300 5 20 0 500 9 0 1 1\n 8 0 sda 1 0 8 0 1 0 16 0 0 0 0\n"), io)
	if err != nil || len(io) != 2 || io["vda"].ReadBytes != 300*512 || io["sda"].WriteBytes != 16*512 || io["sda"].Name != "sda" {
		t.Errorf("parseDiskstats into the previous read = %+v, %v", io, err)
	}
	dup := " 254 0 vda 10 0 300 5 20 0 500 9 0 1 1\n 254 0 vda 10 0 301 5 20 0 501 9 0 1 1\n"
	// A name twice (not seen in /proc/diskstats) neither fails nor loops.
	twice := map[string]disk.IOCountersStat{}
	if err := parseDiskstats([]byte(dup), twice); err != nil || len(twice) != 1 || twice["vda"].ReadBytes != 301*512 {
		t.Errorf("parseDiskstats of a name twice = %+v, %v", twice, err)
	}
	if err := parseDiskstats([]byte(" 254 0 vda 10 0 x 5 20 0 500 9 0 1 1\n"), io); err == nil {
		t.Error("parseDiskstats accepted a bad number")
	}

	for in, want := range map[string]uint64{"0": 0, "42": 42, "18446744073709551615": math.MaxUint64} {
		if n, err := atou([]byte(in)); err != nil || n != want {
			t.Errorf("atou(%q) = %d, %v", in, n, err)
		}
	}
	for _, bad := range []string{"", "-1", "1.5", "18446744073709551616", "1 2"} {
		if n, err := atou([]byte(bad)); err == nil {
			t.Errorf("atou(%q) = %d, accepted", bad, n)
		}
	}
	for in, want := range map[string]string{"": "[]", " \t ": "[]", "a": "[a]", "  cpu0\t1  2 ": "[cpu0 1 2]"} {
		var fb [2][]byte // fewer than the fields: grows
		if got := fmt.Sprintf("%s", fields(fb[:0], []byte(in))); got != want {
			t.Errorf("fields(%q) = %s, want %s", in, got, want)
		}
	}
}

// BenchmarkSamplerReaders compares a second's reads (total, cores, memory)
// through gopsutil and through the agent's /proc readers.
func BenchmarkSamplerReaders(b *testing.B) {
	ctx := context.Background()
	for _, r := range []struct {
		name string
		rd   readers
	}{
		{"gopsutil", readers{times: cpu.TimesWithContext, memory: mem.VirtualMemoryWithContext}},
		{"proc", platformReaders()},
	} {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.rd.times(ctx, false)
				r.rd.times(ctx, true)
				r.rd.memory(ctx)
			}
		})
	}
}

// TestProcReaderRereadsTheOpenFile: a /proc file kept open is read anew
// at every read (the kernel writes it again from offset 0), and a file
// larger than the buffer is read whole.
func TestProcReaderRereadsTheOpenFile(t *testing.T) {
	p := newProcReader()
	first, err := p.read("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	first = append([]byte(nil), first...)
	wait.Until(t, "/proc/uptime read again to change", 10*time.Second, func() bool {
		b, err := p.read("/proc/uptime")
		return err == nil && !bytes.Equal(b, first)
	})
	if len(p.fds) != 1 {
		t.Errorf("%d files open for one path", len(p.fds))
	}

	p.buf = make([]byte, 64) // smaller than the file: read in several steps
	want, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := p.read("/proc/self/limits")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("read %d bytes of /proc/self/limits with a 64-byte buffer, want %d:\n%s", len(got), len(want), got)
		}
	}
}
