package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux this runs on).
const clockTick = 10 * time.Millisecond

// procSample is what /proc says about one process at one moment.
type procSample struct {
	At       time.Time
	RSS      int64         // VmRSS, bytes
	CPU      time.Duration // utime + stime of every thread
	VolCtx   int64         // voluntary context switches, summed over threads: wakeups after sleeping
	InvolCtx int64         // involuntary context switches, summed over threads
}

// readProc samples pid. It does not block beyond reading a few small files.
func readProc(pid int) (procSample, error) {
	s := procSample{At: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read status of %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			s.RSS = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces: fields count from after ')'.
	rest := stat[bytes.LastIndexByte(stat, ')')+2:]
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return s, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	s.CPU = time.Duration(ut+st) * clockTick
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				s.VolCtx += n
			} else if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				s.InvolCtx += n
			}
		}
	}
	return s, nil
}

// cpuPercent is the CPU used between a and b in percent of one core.
func cpuPercent(a, b procSample) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(b.CPU-a.CPU) / float64(wall)
}

// meter samples a target process and the load generator (this process) together.
type meter struct{ pid int }

// pair is one sample of the target and of the load generator.
type pair struct{ target, gen procSample }

func (m meter) sample() (pair, error) {
	t, err := readProc(m.pid)
	if err != nil {
		return pair{}, err
	}
	g, err := readProc(os.Getpid())
	return pair{t, g}, err
}

// process is a child process the bench started: a relay or a peer. Safe for
// concurrent use.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *tailBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, set before done closes
}

// startProcess runs bin with args and env (added to this process's
// environment) and waits until a line of its output contains ready (unless
// ready is empty), or ctx ends. The process gets its own process group so nothing is left behind.
func startProcess(ctx context.Context, name, ready string, env []string, bin string, args ...string) (*process, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	p := &process{name: name, cmd: cmd, log: &tailBuffer{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	readyLine := make(chan string, 1)
	go func() { // owned by the process: ends when its output closes
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			p.log.Write([]byte(line + "\n"))
			if !found && ready != "" && strings.Contains(line, ready) {
				found = true
				readyLine <- line
			}
		}
		io.Copy(io.Discard, pr)
	}()
	if ready == "" {
		return p, "", nil
	}
	select {
	case line := <-readyLine:
		return p, line, nil
	case <-p.done:
		return nil, "", fmt.Errorf("%s exited before it was ready: %v\n%s", name, p.err, p.log.String())
	case <-ctx.Done():
		p.kill()
		return nil, "", ctx.Err()
	case <-time.After(60 * time.Second):
		p.kill()
		return nil, "", fmt.Errorf("%s not ready within 60 s:\n%s", name, p.log.String())
	}
}

// pid returns the process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends sig and waits up to wait for the exit, then kills the group.
// It reports how long the process took to exit.
func (p *process) stop(sig syscall.Signal, wait time.Duration) (time.Duration, error) {
	start := time.Now()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return time.Since(start), nil
	case <-time.After(wait):
		p.kill()
		return time.Since(start), fmt.Errorf("%s did not exit within %s of %s", p.name, wait, sig)
	}
}

// kill ends the process group at once and waits for the exit.
func (p *process) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// exitErr returns the exit status once the process has ended, or nil.
func (p *process) exitErr() error {
	select {
	case <-p.done:
		if p.err == nil {
			return errors.New("exited")
		}
		return p.err
	default:
		return nil
	}
}

// tailBuffer keeps the last max bytes written to it. Safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
