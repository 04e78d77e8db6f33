package main

// The round trip as lean ends see it, and this machine's floor for it.
//
// The fan-out's probes time a command from gorilla clients to gorilla
// agents in the load generator: a Go process with a goroutine per socket,
// whose own wake-ups are part of what it times (a reader goroutine hands
// each result to the prober; while a Go program is otherwise idle, the
// runtime wakes a second thread for a deadline it sets and for a system
// call it makes, and on a virtual machine waking a sleeping processor
// costs 100-200 µs). A browser and the real agent (GOMAXPROCS 1, raw socket
// I/O) pay none of that. So the bench also times the same command from a
// child process that works as they do: one processor (GOMAXPROCS=1), the
// agent's and the client's sockets read and written with raw system calls,
// WebSocket frames made by hand, no deadline set while timing. And it
// times the floor: the same four loopback hops, from the same kind of
// child, through a forwarder (another such child) that only copies bytes:
// what any relay process costs at the least on this machine.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/tether-desktop/tether/internal/rawio"
)

// leanEnv makes tether-bench a lean child: "probe" times round trips
// (leanSpec on stdin, leanReply on stdout), "forward" copies bytes between
// the first two connections it accepts (its address on stdout; it exits
// when stdin closes).
const leanEnv = "TETHER_BENCH_LEAN"

// leanSpec is what a lean probe times.
type leanSpec struct {
	Addr  string `json:"addr"`
	Floor bool   `json:"floor"` // Addr is a forwarder: plain bytes, no WebSocket
	Agent device `json:"agent"`
	Token string `json:"token"` // the clients' session, paired with Agent
	// Rate is round trips per second, one at a time, from Clients client
	// sockets in turn (the relay limits commands per client socket).
	Rate    float64       `json:"rate"`
	Clients int           `json:"clients"`
	Window  time.Duration `json:"window"`
}

// leanReply is a lean probe's samples (µs) or why it failed.
type leanReply struct {
	Samples []float64 `json:"samples"`
	Errors  int       `json:"errors"`
	Err     string    `json:"err,omitempty"`
}

// runLean is a lean child's main.
func runLean(mode string, in io.Reader, out io.Writer) error {
	switch mode {
	case "forward":
		return leanForward(in, out)
	case "probe":
		var spec leanSpec
		if err := json.NewDecoder(in).Decode(&spec); err != nil {
			return err
		}
		samples, errs, err := leanProbe(spec)
		r := leanReply{Samples: samples, Errors: errs}
		if err != nil {
			r.Err = err.Error()
		}
		if err := json.NewEncoder(out).Encode(r); err != nil {
			return err
		}
		// Exit when the parent closes stdin, not before: its Wait would
		// close the pipe under the reply it has yet to read.
		_, err = io.Copy(io.Discard, in)
		return err
	}
	return fmt.Errorf("%s=%q: want probe or forward", leanEnv, mode)
}

// leanRoundTrips times round trips at rate per second for window from a
// lean probe: through the relay at addr (agent dev, clients client sockets
// on session token), or with floor through a lean forwarder started for it
// (addr unused, one client).
func leanRoundTrips(ctx context.Context, floor bool, addr string, dev device, token string, clients int, rate float64, window time.Duration) (*Latency, error) {
	bound := window + 30*time.Second
	if floor {
		fwd, err := startLean(ctx, "forward", bound)
		if err != nil {
			return nil, err
		}
		defer fwd.stop()
		var a struct{ Addr string }
		line, err := fwd.readLine(10 * time.Second)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(line, &a); err != nil {
			return nil, fmt.Errorf("lean forwarder: %w", err)
		}
		addr = a.Addr
	}
	probe, err := startLean(ctx, "probe", bound)
	if err != nil {
		return nil, err
	}
	defer probe.stop()
	b, _ := json.Marshal(leanSpec{Addr: addr, Floor: floor, Agent: dev, Token: token, Clients: clients, Rate: rate, Window: window})
	if _, err := probe.in.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	line, err := probe.readLine(bound)
	if err != nil {
		return nil, err
	}
	var r leanReply
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("lean probe: %w", err)
	}
	if r.Err != "" {
		return nil, fmt.Errorf("lean probe: %s", r.Err)
	}
	return summarise(r.Samples, r.Errors), nil
}

// startLean starts a lean child on one processor; it is killed when ctx
// ends or after bound.
func startLean(ctx context.Context, mode string, bound time.Duration) (*selfChild, error) {
	c, err := startSelf("lean "+mode, 10*time.Second, leanEnv+"="+mode, "GOMAXPROCS=1")
	if err != nil {
		return nil, err
	}
	go func() {
		select {
		case <-c.p.done:
		case <-ctx.Done():
			c.p.kill()
		case <-time.After(bound):
			c.p.kill()
		}
	}()
	return c, nil
}

// rawSock is a socket read and written with raw system calls
// (internal/rawio), WebSocket frames made by hand.
type rawSock struct {
	nc   net.Conn
	rc   syscall.RawConn
	buf  []byte // read, not yet taken: buf[r:w]
	r, w int
}

func newRawSock(nc net.Conn) (*rawSock, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &rawSock{nc: nc, rc: rc, buf: make([]byte, 64<<10)}, nil
}

// write writes all of b.
func (s *rawSock) write(b []byte) error {
	_, err := rawio.Write(s.rc, b)
	return err
}

// fill reads what the socket has into the buffer, waiting for at least one byte.
func (s *rawSock) fill() error {
	if s.r == s.w {
		s.r, s.w = 0, 0
	} else if s.w == len(s.buf) {
		s.w = copy(s.buf, s.buf[s.r:s.w])
		s.r = 0
	}
	if s.w == len(s.buf) {
		return errors.New("frame larger than the read buffer")
	}
	n, err := rawio.Read(s.rc, s.buf[s.w:])
	if err != nil {
		return err
	}
	s.w += n
	return nil
}

// readN returns the next n bytes read.
func (s *rawSock) readN(n int) ([]byte, error) {
	for s.w-s.r < n {
		if err := s.fill(); err != nil {
			return nil, err
		}
	}
	b := s.buf[s.r : s.r+n]
	s.r += n
	return b, nil
}

// readFrame reads one server frame (unmasked, unfragmented: the relay
// sends no fragments) and returns its opcode and payload, valid until the
// next read.
func (s *rawSock) readFrame() (byte, []byte, error) {
	h, err := s.readN(2)
	if err != nil {
		return 0, nil, err
	}
	op, n := h[0]&0x0f, int(h[1]&0x7f)
	switch n {
	case 126:
		x, err := s.readN(2)
		if err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint16(x))
	case 127:
		x, err := s.readN(8)
		if err != nil {
			return 0, nil, err
		}
		n = int(min(binary.BigEndian.Uint64(x), 1<<30))
	}
	p, err := s.readN(n)
	return op, p, err
}

// writeFrame writes one masked client frame.
func (s *rawSock) writeFrame(op byte, p []byte) error {
	f := make([]byte, 0, 14+len(p))
	f = append(f, 0x80|op)
	switch {
	case len(p) < 126:
		f = append(f, 0x80|byte(len(p)))
	case len(p) < 1<<16:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(len(p)))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(len(p)))
	}
	key := rand.Uint32()
	f = binary.BigEndian.AppendUint32(f, key)
	k := f[len(f)-4:]
	for i, c := range p {
		f = append(f, c^k[i%4])
	}
	return s.write(f)
}

// leanDial opens a WebSocket to rawURL with headers h, by hand.
func leanDial(rawURL string, h http.Header) (*rawSock, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	nc, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		return nil, err
	}
	s, err := newRawSock(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	var key [16]byte
	binary.LittleEndian.PutUint64(key[:], rand.Uint64())
	binary.LittleEndian.PutUint64(key[8:], rand.Uint64())
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n", u.RequestURI(), u.Host, base64.StdEncoding.EncodeToString(key[:]))
	h.Write(&req)
	req.WriteString("\r\n")
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetDeadline(time.Time{})
	if err := s.write(req.Bytes()); err != nil {
		nc.Close()
		return nil, err
	}
	for {
		if end := bytes.Index(s.buf[:s.w], []byte("\r\n\r\n")); end >= 0 {
			if !bytes.HasPrefix(s.buf, []byte("HTTP/1.1 101")) {
				nc.Close()
				return nil, fmt.Errorf("upgrade refused: %.40q", s.buf[:end])
			}
			s.r = end + 4
			return s, nil
		}
		if err := s.fill(); err != nil {
			nc.Close()
			return nil, fmt.Errorf("upgrade: %w", err)
		}
	}
}

// until reads frames until match accepts a text frame, answering pings.
func (s *rawSock) until(match func([]byte) bool) error {
	for {
		op, p, err := s.readFrame()
		switch {
		case err != nil:
			return err
		case op == 0x8:
			return fmt.Errorf("closed by the relay: %q", p)
		case op == 0x9:
			if err := s.writeFrame(0xa, p); err != nil {
				return err
			}
		case op == 0x1 && match(p):
			return nil
		}
	}
}

// leanProbe times round trips as spec says. It runs in the lean child.
func leanProbe(spec leanSpec) ([]float64, int, error) {
	cmd := envelopeCommand("1", spec.Agent.ID)
	var agent *rawSock
	var clients []*rawSock
	var err error
	if spec.Floor {
		socks := make([]*rawSock, 2)
		for i := range socks {
			nc, err := net.DialTimeout("tcp", spec.Addr, 10*time.Second)
			if err != nil {
				return nil, 0, err
			}
			if socks[i], err = newRawSock(nc); err != nil {
				return nil, 0, err
			}
		}
		clients, agent = socks[:1], socks[1]
	} else {
		w := tetherWire{}
		if agent, err = leanDial(w.agentRequest(spec.Addr, spec.Agent)); err != nil {
			return nil, 0, fmt.Errorf("agent: %w", err)
		}
		isWelcome := func(f []byte) bool { return bytes.HasPrefix(f, []byte(`{"type":"welcome"`)) }
		if err := agent.until(isWelcome); err != nil {
			return nil, 0, fmt.Errorf("agent: %w", err)
		}
		if err := agent.writeFrame(0x1, []byte(`{"type":"hello","data":`+helloData+`}`)); err != nil {
			return nil, 0, err
		}
		for range max(spec.Clients, 1) {
			c, err := leanDial(w.clientRequest(spec.Addr, session{Token: spec.Token}))
			if err != nil {
				return nil, 0, fmt.Errorf("client: %w", err)
			}
			clients = append(clients, c)
			if err := c.until(isWelcome); err != nil {
				return nil, 0, fmt.Errorf("client: %w", err)
			}
		}
	}
	// The agent answers every command at once, until its socket closes.
	var wg sync.WaitGroup
	defer func() {
		for _, c := range clients {
			c.nc.Close()
		}
		agent.nc.Close()
		wg.Wait()
	}()
	wg.Go(func() {
		for {
			if spec.Floor {
				if _, err := agent.readN(len(cmd)); err != nil || agent.write(envelopeResult("1")) != nil {
					return
				}
				continue
			}
			var id string
			err := agent.until(func(f []byte) bool {
				k, i := envelopeKind(f)
				id = i
				return k == kindCommand
			})
			if err != nil || agent.writeFrame(0x1, envelopeResult(id)) != nil {
				return
			}
		}
	})

	// One round trip at a time, the first few not timed (the relay's
	// reader of a socket in use lingers for its next message; the agent's
	// hello is routed meanwhile). A result that does not come ends the run
	// at the window's end: one deadline for all, set before timing.
	const warmUp = 5
	period := time.Duration(float64(time.Second) / spec.Rate)
	end := time.Now().Add(spec.Window + warmUp*period)
	for _, c := range clients {
		c.nc.SetReadDeadline(end.Add(5 * time.Second))
	}
	resultLen := len(envelopeResult("1"))
	var samples []float64
	for seq := 1; ; seq++ {
		next := time.Now().Add(period)
		if next.After(end) {
			break
		}
		t0 := time.Now()
		if err := leanRoundTrip(clients[seq%len(clients)], spec, cmd, strconv.Itoa(seq), resultLen); err != nil {
			return samples, 1, err
		}
		if seq > warmUp {
			samples = append(samples, float64(time.Since(t0))/float64(time.Microsecond))
		}
		time.Sleep(time.Until(next))
	}
	return samples, 0, nil
}

// leanRoundTrip sends one command (id) from the client and reads its result.
func leanRoundTrip(client *rawSock, spec leanSpec, cmd []byte, id string, resultLen int) error {
	if spec.Floor {
		if err := client.write(cmd); err != nil {
			return err
		}
		_, err := client.readN(resultLen)
		return err
	}
	if err := client.writeFrame(0x1, envelopeCommand(id, spec.Agent.ID)); err != nil {
		return err
	}
	var refused []byte
	err := client.until(func(f []byte) bool {
		k, i := envelopeKind(f)
		if k == kindResult && i == id && !bytes.Contains(f, []byte(`"ok":true`)) {
			refused = bytes.Clone(f)
		}
		return k == kindResult && i == id
	})
	switch {
	case err != nil:
		return fmt.Errorf("result %s: %w", id, err)
	case refused != nil:
		return fmt.Errorf("command %s refused: %.200s", id, refused)
	}
	return nil
}

// leanForward is the lean forwarder: it prints its address, pairs the
// first two connections and copies bytes between them until stdin closes.
func leanForward(in io.Reader, out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := json.NewEncoder(out).Encode(struct{ Addr string }{ln.Addr().String()}); err != nil {
		return err
	}
	go func() { io.Copy(io.Discard, in); os.Exit(0) }()
	var socks [2]*rawSock
	for i := range socks {
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		if socks[i], err = newRawSock(nc); err != nil {
			return err
		}
	}
	copyTo := func(dst, src *rawSock) {
		for src.fill() == nil {
			if dst.write(src.buf[src.r:src.w]) != nil {
				return
			}
			src.r = src.w
		}
	}
	go copyTo(socks[0], socks[1])
	copyTo(socks[1], socks[0])
	select {} // until stdin closes
}
