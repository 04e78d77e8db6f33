package telemetry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unsafe"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
	"golang.org/x/sys/unix"
)

// On Linux the figures read every second or two come straight from /proc,
// read with plain system calls into one reused buffer: gopsutil opens each
// file through the runtime's poller, reads /proc/stat twice for the total
// and the cores, and for disk I/O looks up every disk's udev record and
// serial number, which the agent does not send. The work per sample is what
// keeps the agent's threads awake while somebody watches.

// procReader reads /proc files into a buffer it keeps. Each file is opened
// once and kept open: reading it again from offset 0 makes the kernel
// write it anew, so a sample costs one pread(2) a file instead of an
// open, two reads and a close. Not safe for concurrent use (one Sampler,
// one goroutine).
//
// What it returns lives in the procReader and is valid until the next
// call of the same reader (the per-core times until the second next, as a
// Sampler keeps the previous ones): a watched agent samples every second
// for days, and whatever a sample allocates piles up on the heap until the
// next collection, in the agent's resident memory.
type procReader struct {
	buf   []byte
	fds   map[string]int // the files opened so far
	fresh bool           // coreBufs[0] is from times(false) of the same Sample

	total    [1]cpu.TimesStat
	coreBufs [2][]cpu.TimesStat // the cores of the last read, then those of the one before
	mem      mem.VirtualMemoryStat
	disks    map[string]disk.IOCountersStat
	nics     []net.IOCountersStat
}

func newProcReader() *procReader {
	return &procReader{buf: make([]byte, 16<<10), fds: map[string]int{}, disks: map[string]disk.IOCountersStat{}}
}

// read returns the whole of path, growing the buffer when the file is
// larger than it. A file that fails once is opened again.
func (p *procReader) read(path string) ([]byte, error) {
	b, err := p.readOpen(path)
	if err != nil {
		if fd, ok := p.fds[path]; ok {
			unix.Close(fd)
			delete(p.fds, path)
			b, err = p.readOpen(path)
		}
	}
	return b, err
}

func (p *procReader) readOpen(path string) ([]byte, error) {
	fd, ok := p.fds[path]
	if !ok {
		var err error
		if fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		p.fds[path] = fd
	}
	n := 0
	for {
		if n == len(p.buf) {
			if len(p.buf) >= maxProcFile {
				return nil, fmt.Errorf("read %s: larger than %d bytes", path, maxProcFile)
			}
			p.buf = append(p.buf, make([]byte, len(p.buf))...)
		}
		m, err := pread(fd, p.buf[n:], n)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		n += m
		// The kernel fills a read of a /proc file as far as the file
		// goes: one that leaves room in the buffer has reached the end.
		if m == 0 || n < len(p.buf) {
			return p.buf[:n], nil
		}
	}
}

// pread is pread(2) made as a raw system call: a /proc file's read never
// blocks, and a raw call does not wake the Go runtime's monitor thread
// from its sleep, which an ordinary one does (then it polls every 20 µs
// while the sample is taken: see agent/quietconn_linux.go).
func pread(fd int, b []byte, off int) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_PREAD64, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(off), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// readParse reads path with p and parses it with parse.
func readParse[T any](p *procReader, path string, parse func([]byte) (T, error)) (T, error) {
	b, err := p.read(path)
	if err != nil {
		var zero T
		return zero, err
	}
	return parse(b)
}

// maxProcFile bounds the /proc files read (/proc/stat of a machine with
// thousands of interrupts is some tens of kilobytes).
const maxProcFile = 4 << 20

// times is Sampler.times from one read of /proc/stat: times(false) reads
// the file and keeps the cores for the times(true) that Sample calls next.
// Per-core entries carry no CPU name.
func (p *procReader) times(_ context.Context, perCore bool) ([]cpu.TimesStat, error) {
	if perCore && p.fresh {
		p.fresh = false
		return p.coreBufs[0], nil
	}
	b, err := p.read("/proc/stat")
	if err != nil {
		return nil, err
	}
	p.fresh = false
	p.coreBufs[0], p.coreBufs[1] = p.coreBufs[1], p.coreBufs[0]
	total, cores, err := parseProcStat(b, p.coreBufs[0][:0])
	if err != nil {
		return nil, err
	}
	p.coreBufs[0] = cores
	if perCore {
		return cores, nil
	}
	p.fresh = true
	p.total[0] = total
	return p.total[:], nil
}

// parseProcStat reads the cpu lines of /proc/stat: the total, then one per
// core (appended to cores), in clock ticks turned into seconds (USER_HZ is
// 100 on Linux).
func parseProcStat(b []byte, cores []cpu.TimesStat) (total cpu.TimesStat, _ []cpu.TimesStat, err error) {
	seen := false
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		if !bytes.HasPrefix(line, []byte("cpu")) {
			break // the cpu lines come first
		}
		var fb [maxFields][]byte
		f := fields(fb[:0], line)
		if len(f) < 5 {
			return total, nil, fmt.Errorf("/proc/stat: short line %q", line)
		}
		var v [10]float64
		for i := range min(len(f)-1, len(v)) {
			n, err := atou(f[i+1])
			if err != nil {
				return total, nil, fmt.Errorf("/proc/stat: %q: %w", line, err)
			}
			v[i] = float64(n) / 100
		}
		t := cpu.TimesStat{User: v[0], Nice: v[1], System: v[2], Idle: v[3], Iowait: v[4], Irq: v[5],
			Softirq: v[6], Steal: v[7], Guest: v[8], GuestNice: v[9]}
		if string(f[0]) == "cpu" {
			t.CPU, total, seen = "cpu-total", t, true
		} else {
			cores = append(cores, t)
		}
	}
	if !seen {
		return total, nil, errors.New("/proc/stat: no cpu line")
	}
	return total, cores, nil
}

// memory is Sampler.memory from /proc/meminfo, with gopsutil's figures:
// Used is Total minus Available.
func (p *procReader) memory(context.Context) (*mem.VirtualMemoryStat, error) {
	b, err := p.read("/proc/meminfo")
	if err != nil {
		return nil, err
	}
	if err := parseMeminfo(b, &p.mem); err != nil {
		return nil, err
	}
	return &p.mem, nil
}

// parseMeminfo fills m from /proc/meminfo.
func parseMeminfo(b []byte, m *mem.VirtualMemoryStat) error {
	*m = mem.VirtualMemoryStat{}
	var buffers, cached uint64
	haveAvail := false
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		key, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *uint64
		switch string(key) {
		case "MemTotal":
			dst = &m.Total
		case "MemFree":
			dst = &m.Free
		case "MemAvailable":
			dst, haveAvail = &m.Available, true
		case "Buffers":
			dst = &buffers
		case "Cached":
			dst = &cached
		default:
			continue
		}
		var fb [maxFields][]byte
		f := fields(fb[:0], rest)
		if len(f) == 0 {
			continue
		}
		n, err := atou(f[0])
		if err != nil {
			return fmt.Errorf("/proc/meminfo: %q: %w", line, err)
		}
		*dst = n * 1024 // kB
	}
	if m.Total == 0 {
		return errors.New("/proc/meminfo: no MemTotal")
	}
	if !haveAvail { // before Linux 3.14
		m.Available = m.Free + buffers + cached
	}
	m.Buffers, m.Cached = buffers, cached
	m.Used = m.Total - min(m.Available, m.Total)
	m.UsedPercent = float64(m.Used) / float64(m.Total) * 100
	return nil
}

// diskIO is disk.IOCounters from /proc/diskstats alone: the bytes read and
// written of each block device (sectors of 512 bytes), without the udev
// labels and serial numbers gopsutil looks up for each.
func (p *procReader) diskIO(context.Context) (map[string]disk.IOCountersStat, error) {
	b, err := p.read("/proc/diskstats")
	if err != nil {
		return nil, err
	}
	if err := parseDiskstats(b, p.disks); err != nil {
		return nil, err
	}
	return p.disks, nil
}

// parseDiskstats puts each disk's counters in out, which holds those of
// the previous read: a disk seen before keeps its entry (and its name's
// string), and out is only rebuilt when a disk went away.
func parseDiskstats(b []byte, out map[string]disk.IOCountersStat) error {
	seen := 0
	for rest := b; len(rest) > 0; {
		var line []byte
		line, rest = nextLine(rest)
		// major minor name reads merged sectors_read ms writes merged sectors_written …
		var fb [maxFields][]byte
		f := fields(fb[:0], line)
		if len(f) < 10 || string(f[3]) == "0" && string(f[7]) == "0" {
			continue // short, or never read nor written (as gopsutil skips it)
		}
		rd, err1 := atou(f[5])
		wr, err2 := atou(f[9])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("/proc/diskstats: bad line %q", line)
		}
		st, ok := out[string(f[2])]
		if !ok {
			st = disk.IOCountersStat{Name: string(f[2])}
		}
		st.ReadBytes, st.WriteBytes = rd*512, wr*512
		out[st.Name] = st
		seen++
	}
	if seen < len(out) { // a disk went away (after clear, seen >= len: once at most)
		clear(out)
		return parseDiskstats(b, out)
	}
	return nil
}

// netIO is net.IOCounters(true) from /proc/net/dev alone: the bytes
// received and sent of each interface.
func (p *procReader) netIO(context.Context) ([]net.IOCountersStat, error) {
	b, err := p.read("/proc/net/dev")
	if err != nil {
		return nil, err
	}
	nics, err := parseNetDev(b, p.nics[:0])
	if err != nil {
		return nil, err
	}
	p.nics = nics
	return nics, nil
}

// parseNetDev appends each interface's counters to out. An interface at
// the same place in out's array as in the previous read keeps its name's
// string.
func parseNetDev(b []byte, out []net.IOCountersStat) ([]net.IOCountersStat, error) {
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		// "  eth0: rx_bytes rx_packets … (8 fields) tx_bytes …"; the two header lines have no colon before "|"
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || bytes.Contains(name, []byte("|")) {
			continue
		}
		var fb [maxFields][]byte
		f := fields(fb[:0], rest)
		if len(f) < 9 {
			return nil, fmt.Errorf("/proc/net/dev: short line %q", line)
		}
		rx, err1 := atou(f[0])
		tx, err2 := atou(f[8])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("/proc/net/dev: bad line %q", line)
		}
		name = bytes.TrimSpace(name)
		var nm string
		if n := len(out); n < cap(out) && out[:n+1][n].Name == string(name) {
			nm = out[:n+1][n].Name // this place's interface of the previous read
		} else {
			nm = string(name)
		}
		out = append(out, net.IOCountersStat{Name: nm, BytesRecv: rx, BytesSent: tx})
	}
	return out, nil
}

// uptime is host.Uptime from /proc/uptime: whole seconds since boot.
func (p *procReader) uptime(context.Context) (uint64, error) {
	return readParse(p, "/proc/uptime", parseUptime)
}

func parseUptime(b []byte) (uint64, error) {
	var fb [maxFields][]byte
	f := fields(fb[:0], b)
	if len(f) == 0 {
		return 0, errors.New("/proc/uptime: empty")
	}
	secs, err := strconv.ParseFloat(string(f[0]), 64)
	if err != nil || secs < 0 {
		return 0, fmt.Errorf("/proc/uptime: %q", f[0])
	}
	return uint64(secs), nil
}

// loadAvg is load.Avg from /proc/loadavg.
func (p *procReader) loadAvg(context.Context) (*load.AvgStat, error) {
	return readParse(p, "/proc/loadavg", parseLoadavg)
}

func parseLoadavg(b []byte) (*load.AvgStat, error) {
	var fb [maxFields][]byte
	f := fields(fb[:0], b)
	if len(f) < 3 {
		return nil, fmt.Errorf("/proc/loadavg: short %q", b)
	}
	var v [3]float64
	for i := range v {
		n, err := strconv.ParseFloat(string(f[i]), 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("/proc/loadavg: %q", f[i])
		}
		v[i] = n
	}
	return &load.AvgStat{Load1: v[0], Load5: v[1], Load15: v[2]}, nil
}

// platformReaders are the Linux readers of a Sampler.
func platformReaders() readers {
	p := newProcReader()
	return readers{times: p.times, memory: p.memory, diskIO: p.diskIO, netIO: p.netIO, uptime: p.uptime, load: p.loadAvg}
}

// maxFields is room for the fields of one line of the /proc files read
// here (20 in /proc/diskstats, 17 in /proc/net/dev); a longer line still
// parses, in memory of its own.
const maxFields = 24

// fields appends the fields of line (runs of bytes other than spaces and
// tabs) to dst: bytes.Fields for /proc's ASCII, without allocating while
// dst has room.
func fields(dst [][]byte, line []byte) [][]byte {
	for i := 0; i < len(line); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if j > i {
			dst = append(dst, line[i:j])
		}
		i = j
	}
	return dst
}

// atou parses the decimal digits of a /proc counter: strconv.ParseUint(s,
// 10, 64) without making a string of them.
func atou(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, errors.New("empty number")
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a number", b)
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, fmt.Errorf("%q is out of range", b)
		}
		n = n*10 + d
	}
	return n, nil
}

// nextLine splits b at its first newline.
func nextLine(b []byte) (line, rest []byte) {
	line, rest, _ = bytes.Cut(b, []byte("\n"))
	return line, rest
}
