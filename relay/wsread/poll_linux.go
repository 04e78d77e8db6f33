package wsread

import (
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tether-desktop/tether/internal/rawio"
)

// poller waits for many sockets at once with one epoll instance and one
// goroutine (blocked in epoll_wait) for the whole process, as Go's own
// network poller does; it starts a connection's reading goroutine when the
// socket is readable. Each socket is registered one-shot: once it fires it
// stays disarmed until its reader has handled everything and calls rearm,
// so at most one goroutine reads a connection, and because the interest is
// level-triggered, bytes that came in between fire again at once.
//
// A sweeper goroutine, running while any connection is registered, ends
// the connections whose deadline passed (a heartbeat missed, a close
// handshake not answered) every tick: one shared clock instead of a timer
// per socket.
//
// A socket is taken out of the epoll set before it is closed (forget, with
// the connection's mutex held), so a descriptor number the kernel reuses
// for a new socket is never disarmed by the old connection.
type poller struct {
	epfd   int
	raw    syscall.RawConn // epfd, waited for in Go's netpoller
	shards [shards]shard   // the registered connections, by id % shards
	next   atomic.Uint64   // the last id given

	mu       sync.Mutex
	sweeping bool         // the sweeper runs
	tick     atomic.Int64 // the sweeper's period, nanoseconds
}

// shards splits the table of connections, so that the sweeper, going
// through one part, does not hold up the events of all the others.
const shards = 64

// shard is one part of the table.
type shard struct {
	mu    sync.Mutex
	conns map[uint64]*Conn // by the id in their epoll events
}

// shard returns the part of the table that holds id.
func (p *poller) shard(id uint64) *shard { return &p.shards[id%shards] }

// Sweep periods: the shortest a connection's idle time asks for (an
// eighth of it), and the longest.
const (
	minTick = 10 * time.Millisecond
	maxTick = time.Second
)

// thePoller is the process's poller, started on first use; nil if the
// system refused an epoll instance (connections then get a goroutine).
var thePoller = sync.OnceValue(func() *poller {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		slog.Warn("epoll unavailable: every WebSocket reader gets a goroutine", "err", err)
		return nil
	}
	// The epoll descriptor is waited for in Go's netpoller (see wait).
	if err := syscall.SetNonblock(fd, true); err != nil {
		slog.Warn("epoll unavailable: every WebSocket reader gets a goroutine", "err", err)
		syscall.Close(fd)
		return nil
	}
	raw, err := os.NewFile(uintptr(fd), "epoll").SyscallConn()
	if err != nil {
		slog.Warn("epoll unavailable: every WebSocket reader gets a goroutine", "err", err)
		return nil
	}
	p := &poller{epfd: fd, raw: raw}
	for i := range p.shards {
		p.shards[i].conns = map[uint64]*Conn{}
	}
	p.tick.Store(int64(maxTick))
	go p.wait()
	return p
})

// interest is what a socket is registered for: readable, or the client
// shut its side, once.
const interest = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// add registers c's socket, armed. It reports false when the socket cannot
// be polled (not a system socket): c then gets a goroutine.
func (p *poller) add(c *Conn) bool {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	if t := time.Duration(c.idle) / 8; t < time.Duration(p.tick.Load()) {
		p.tick.Store(int64(max(t, minTick)))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fd := -1
	if c.closed || raw.Control(func(s uintptr) { fd = int(s) }) != nil || fd < 0 {
		return false
	}
	c.p, c.id, c.fd, c.raw = p, p.next.Add(1), fd, raw
	sh := p.shard(c.id)
	sh.mu.Lock()
	sh.conns[c.id] = c
	sh.mu.Unlock()
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, p.event(c)); err != nil {
		sh.mu.Lock()
		delete(sh.conns, c.id)
		sh.mu.Unlock()
		c.p, c.raw = nil, nil
		return false
	}
	p.mu.Lock()
	if !p.sweeping {
		p.sweeping = true
		go p.sweep()
	}
	p.mu.Unlock()
	return true
}

// event is c's epoll registration: its id rides in the event's data.
func (p *poller) event(c *Conn) *syscall.EpollEvent {
	return &syscall.EpollEvent{Events: interest, Fd: int32(uint32(c.id)), Pad: int32(uint32(c.id >> 32))}
}

// rearm arms c's socket again after its reader handled everything. c.mu
// is held. It reports false if that failed (the reader then reads on).
func (p *poller) rearm(c *Conn) bool {
	if p == nil {
		return false
	}
	return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, c.fd, p.event(c)) == nil
}

// forget takes c's socket out of the epoll set and the table, before it is
// closed or read by a goroutine of its own. c.mu is held.
func (p *poller) forget(c *Conn) {
	if p == nil {
		return
	}
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	sh := p.shard(c.id)
	sh.mu.Lock()
	delete(sh.conns, c.id)
	sh.mu.Unlock()
}

// wait is the poller's goroutine: it wakes the connections whose sockets
// are readable. It waits for the epoll set itself in Go's own netpoller
// (an epoll descriptor is readable while it has events), not blocked in
// epoll_wait on a thread of its own: a ready socket then wakes it as any
// network read is woken, without a thread handing over its processor
// (BenchmarkRoundTrip/poller: ~55 µs → see docs/BENCHMARKS.md).
func (p *poller) wait() {
	events := make([]syscall.EpollEvent, 256)
	var ready []*Conn
	for {
		n, err := p.next1(events)
		if err != nil {
			slog.Error("epoll_wait failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			sh := p.shard(id)
			sh.mu.Lock()
			if c := sh.conns[id]; c != nil {
				ready = append(ready, c)
			}
			sh.mu.Unlock()
		}
		for i, c := range ready {
			c.wake()
			ready[i] = nil
		}
		ready = ready[:0]
	}
}

// next1 waits for events and returns how many it put in events.
func (p *poller) next1(events []syscall.EpollEvent) (int, error) {
	var n int
	var werr error
	err := p.raw.Read(func(fd uintptr) bool {
		n, werr = syscall.EpollWait(int(fd), events, 0)
		if werr == syscall.EINTR {
			werr = nil
			return false
		}
		return werr != nil || n > 0
	})
	if err != nil {
		return 0, err
	}
	return n, werr
}

// sweep is the sweeper: every tick it wakes the connections whose deadline
// passed (their reader ends them). It returns when none is registered.
func (p *poller) sweep() {
	var due []*Conn
	for {
		time.Sleep(time.Duration(p.tick.Load()))
		t, held := now(), 0
		for i := range p.shards {
			sh := &p.shards[i]
			sh.mu.Lock()
			held += len(sh.conns)
			for _, c := range sh.conns {
				if t > c.deadline.Load() {
					due = append(due, c)
				}
			}
			sh.mu.Unlock()
		}
		if held == 0 {
			p.mu.Lock()
			if p.empty() {
				p.sweeping = false
				p.mu.Unlock()
				return
			}
			p.mu.Unlock()
		}
		for i, c := range due {
			c.wake()
			due[i] = nil
		}
		due = due[:0]
	}
}

// empty reports whether no connection is registered. p.mu is held, so no
// add can start a sweeper meanwhile.
func (p *poller) empty() bool {
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		n := len(sh.conns)
		sh.mu.Unlock()
		if n > 0 {
			return false
		}
	}
	return true
}

// readRaw reads from the socket raw with a raw system call (internal/rawio).
func readRaw(raw syscall.RawConn, b []byte) (int, error) { return rawio.Read(raw, b) }
