package telemetry

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/sensors"

	"github.com/tether-desktop/tether/protocol"
)

// IdleSource tells how long ago the last keyboard or pointer input was.
// *desktop.Desktop implements it (X11 MIT-SCREEN-SAVER, GetLastInputInfo,
// HIDIdleTime). It must return soon and be safe for concurrent use.
type IdleSource interface {
	IdleTime(ctx context.Context) (time.Duration, error)
}

// WindowSource tells the focused window's title. *desktop.Desktop
// implements it. It must return soon and be safe for concurrent use.
type WindowSource interface {
	ActiveWindowTitle(ctx context.Context) (string, error)
}

// WindowTitle is the word the owner switches on to share the focused
// window's title (`tether allow window_title`); off by default.
const WindowTitle = "window_title"

// Options are what a Sampler reads besides the OS's counters. Every field
// may be left zero.
type Options struct {
	// Idle gives the idle time; nil sends none.
	Idle IdleSource
	// Window gives the focused window's title, sent only while ShareWindow
	// reports true; nil sends none.
	Window      WindowSource
	ShareWindow func() bool
	// Now is the clock that paces the sensors; default time.Now.
	Now func() time.Time
}

// How often each sensor is read while someone watches; between readings
// its latest value goes out with every sample.
const (
	everyDisk    = 30 * time.Second
	everyRates   = 2 * time.Second // disk I/O and network
	everyBattery = 30 * time.Second
	everyHost    = 10 * time.Second // uptime, load
	everyTemps   = 30 * time.Second // temperatures: a scan of the sensors' directories
	everyIdle    = time.Second
	everyWindow  = 2 * time.Second
	maxMounts    = 16 // file systems in one sample
	maxIfaces    = 16 // network interfaces in one sample
	maxTemps     = 16 // temperature sensors in one sample
	maxTextLen   = 200
)

// sensor is one reading with its own pace.
type sensor struct {
	every time.Duration
	next  time.Time
	read  func(ctx context.Context, now time.Time)
}

// sensorSet holds the sensors and their latest readings. Not safe for
// concurrent use (a Sampler is used by one goroutine at a time).
type sensorSet struct {
	opts   Options
	list   []*sensor
	latest protocol.Telemetry // only the sensor fields are used

	diskPrev, netPrev rateState
	// diskIO reads the disks' byte counters; default gopsutil's.
	diskIO     func(ctx context.Context) (map[string]disk.IOCountersStat, error)
	netIO      func(ctx context.Context) ([]net.IOCountersStat, error) // each interface's; default gopsutil's
	netIfPrev  map[string]counters                                     // each interface's counters of the last reading
	netIfSpare map[string]counters
	uptime     func(ctx context.Context) (uint64, error)        // seconds since boot; default gopsutil's
	load       func(ctx context.Context) (*load.AvgStat, error) // default gopsutil's
}

// counters are two cumulative byte counters and when they were read.
type counters struct{ a, b uint64 }

// rateState remembers the previous counters of a rate.
type rateState struct {
	at   time.Time
	last counters
}

// rate turns new counters into per-second rates since the previous
// reading; ok is false on the first reading, after a gap of more than
// three intervals (nobody watched), or when a counter went backwards.
func (r *rateState) rate(now time.Time, c counters, every time.Duration) (a, b float64, ok bool) {
	prev, at := r.last, r.at
	r.last, r.at = c, now
	dt := now.Sub(at).Seconds()
	if at.IsZero() || dt <= 0 || now.Sub(at) > 3*every || c.a < prev.a || c.b < prev.b {
		return 0, 0, false
	}
	return float64(c.a-prev.a) / dt, float64(c.b-prev.b) / dt, true
}

func newSensorSet(o Options) *sensorSet {
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &sensorSet{opts: o, diskIO: gopsutilDiskIO, netIO: gopsutilNetIO, uptime: host.UptimeWithContext, load: load.AvgWithContext}
	s.list = []*sensor{
		{every: everyDisk, read: s.readDisks},
		{every: everyRates, read: s.readDiskIO},
		{every: everyRates, read: s.readNet},
		{every: everyBattery, read: s.readBattery},
		{every: everyHost, read: s.readHost},
		{every: everyTemps, read: s.readTemps},
		{every: everyIdle, read: s.readIdle},
		{every: everyWindow, read: s.readWindow},
	}
	return s
}

// fill reads the sensors that are due and copies every latest reading into
// out. A sensor that fails or is missing leaves its field empty.
func (s *sensorSet) fill(ctx context.Context, out *protocol.Telemetry) {
	now := s.opts.Now()
	for _, sn := range s.list {
		if now.Before(sn.next) {
			continue
		}
		sn.next = now.Add(sn.every)
		sn.read(ctx, now)
	}
	if s.opts.ShareWindow == nil || !s.opts.ShareWindow() {
		s.latest.ActiveWindow = "" // switched off: gone from the next sample on
	}
	l := &s.latest
	out.Disks, out.DiskIO, out.Net, out.Battery = l.Disks, l.DiskIO, l.Net, l.Battery
	out.UptimeSeconds, out.Load, out.Temperatures = l.UptimeSeconds, l.Load, l.Temperatures
	out.IdleSeconds, out.ActiveWindow = l.IdleSeconds, l.ActiveWindow
}

// skippedFS are file system types that are not disks people fill: memory,
// kernel and container plumbing, and network file systems (whose usage
// call can hang on a lost server).
var skippedFS = []string{"tmpfs", "devtmpfs", "devfs", "proc", "sysfs", "cgroup", "cgroup2", "overlay", "squashfs",
	"autofs", "mqueue", "debugfs", "tracefs", "securityfs", "pstore", "bpf", "configfs", "fusectl", "hugetlbfs",
	"ramfs", "nsfs", "binfmt_misc", "efivarfs", "nfs", "nfs4", "cifs", "smbfs", "smb3", "sshfs", "fuse.sshfs", "9p",
	"nullfs", "map", "iso9660", "udf"}

func (s *sensorSet) readDisks(ctx context.Context, _ time.Time) {
	s.latest.Disks = nil
	parts, err := disk.PartitionsWithContext(ctx, false)
	if err != nil && len(parts) == 0 {
		return
	}
	seen := map[string]bool{}
	for _, p := range parts {
		fs := strings.ToLower(p.Fstype)
		if slices.Contains(skippedFS, fs) || strings.HasPrefix(fs, "fuse.") || seen[p.Device] || len(s.latest.Disks) >= maxMounts {
			continue
		}
		u, err := disk.UsageWithContext(ctx, p.Mountpoint)
		if err != nil || u.Total == 0 {
			continue
		}
		seen[p.Device] = true
		s.latest.Disks = append(s.latest.Disks, protocol.DiskUsage{
			Mount: protocol.CleanText(p.Mountpoint, maxTextLen), FSType: protocol.CleanText(p.Fstype, 32),
			TotalBytes: u.Total, UsedBytes: u.Used, UsedPercent: clampPercent(u.UsedPercent),
		})
	}
}

func (s *sensorSet) readDiskIO(ctx context.Context, now time.Time) {
	s.latest.DiskIO = nil
	io, err := s.diskIO(ctx)
	if err != nil || len(io) == 0 {
		return
	}
	var c counters
	for name, st := range io {
		if isPartition(name, io) || strings.HasPrefix(name, "loop") || strings.HasPrefix(name, "ram") {
			continue
		}
		c.a += st.ReadBytes
		c.b += st.WriteBytes
	}
	if r, w, ok := s.diskPrev.rate(now, c, everyRates); ok {
		s.latest.DiskIO = &protocol.IORates{ReadBytesPerS: r, WriteBytesPerS: w}
	}
}

// isPartition reports whether name is a partition of another device in io
// (sda1 of sda, nvme0n1p1 of nvme0n1), which would count its bytes twice.
func isPartition(name string, io map[string]disk.IOCountersStat) bool {
	for other := range io {
		if other != name && strings.HasPrefix(name, other) {
			return true
		}
	}
	return false
}

func (s *sensorSet) readNet(ctx context.Context, now time.Time) {
	s.latest.Net = nil
	nics, err := s.netIO(ctx)
	if err != nil || len(nics) == 0 {
		return
	}
	prev, cur := s.netIfPrev, s.netIfSpare // two maps in turn, not a new one each time
	if cur == nil {
		cur = map[string]counters{}
	}
	clear(cur)
	s.netIfPrev, s.netIfSpare = cur, prev
	var total counters
	var ifaces []protocol.NetIface
	dt := now.Sub(s.netPrev.at).Seconds()
	for _, n := range nics {
		if n.Name == "lo" || strings.HasPrefix(strings.ToLower(n.Name), "loopback") {
			continue
		}
		c := counters{n.BytesRecv, n.BytesSent}
		total.a += c.a
		total.b += c.b
		s.netIfPrev[n.Name] = c
		if p, ok := prev[n.Name]; ok && dt > 0 && c.a >= p.a && c.b >= p.b && len(ifaces) < maxIfaces {
			ifaces = append(ifaces, protocol.NetIface{Name: protocol.CleanText(n.Name, 64),
				RxBytesPerS: float64(c.a-p.a) / dt, TxBytesPerS: float64(c.b-p.b) / dt})
		}
	}
	if rx, tx, ok := s.netPrev.rate(now, total, everyRates); ok {
		slices.SortFunc(ifaces, func(a, b protocol.NetIface) int { return strings.Compare(a.Name, b.Name) })
		s.latest.Net = &protocol.NetRates{RxBytesPerS: rx, TxBytesPerS: tx, Interfaces: ifaces}
	}
}

func (s *sensorSet) readBattery(ctx context.Context, _ time.Time) {
	s.latest.Battery = readBattery(ctx)
}

func (s *sensorSet) readHost(ctx context.Context, _ time.Time) {
	s.latest.UptimeSeconds, s.latest.Load = 0, nil
	if up, err := s.uptime(ctx); err == nil {
		s.latest.UptimeSeconds = up
	}
	if avg, err := s.load(ctx); err == nil && avg != nil {
		s.latest.Load = &protocol.Load{Load1: avg.Load1, Load5: avg.Load5, Load15: avg.Load15}
	}
}

func (s *sensorSet) readTemps(ctx context.Context, _ time.Time) {
	s.latest.Temperatures = nil
	temps, _ := sensors.TemperaturesWithContext(ctx) // partial readings come with an error
	for _, t := range temps {
		if t.Temperature <= -50 || t.Temperature >= 200 || len(s.latest.Temperatures) >= maxTemps {
			continue
		}
		s.latest.Temperatures = append(s.latest.Temperatures, protocol.Temperature{
			Sensor: protocol.CleanText(t.SensorKey, 64), Celsius: t.Temperature})
	}
}

func (s *sensorSet) readIdle(ctx context.Context, _ time.Time) {
	s.latest.IdleSeconds = nil
	if s.opts.Idle == nil {
		return
	}
	if d, err := s.opts.Idle.IdleTime(ctx); err == nil {
		secs := d.Seconds()
		s.latest.IdleSeconds = &secs
	}
}

func (s *sensorSet) readWindow(ctx context.Context, _ time.Time) {
	s.latest.ActiveWindow = ""
	if s.opts.Window == nil || s.opts.ShareWindow == nil || !s.opts.ShareWindow() {
		return
	}
	if title, err := s.opts.Window.ActiveWindowTitle(ctx); err == nil {
		s.latest.ActiveWindow = protocol.CleanText(title, maxTextLen)
	}
}

// gopsutilNetIO is gopsutil's reader of every network interface's counters.
func gopsutilNetIO(ctx context.Context) ([]net.IOCountersStat, error) {
	return net.IOCountersWithContext(ctx, true)
}

// gopsutilDiskIO is gopsutil's reader of every disk's counters.
func gopsutilDiskIO(ctx context.Context) (map[string]disk.IOCountersStat, error) {
	return disk.IOCountersWithContext(ctx)
}
