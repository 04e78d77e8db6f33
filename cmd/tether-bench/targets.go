package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tether-desktop/tether/relay/server"
	"github.com/tether-desktop/tether/relay/store"
)

// target is a relay under test: Tether's, or a peer. Not safe for
// concurrent use; the orchestrator drives one at a time.
type target interface {
	name() string
	wire() wire
	start(ctx context.Context) error
	// restart stops the relay with SIGTERM (its graceful path), waits for it
	// to exit and starts it again on the same address. It returns when the
	// relay exited and when it listened again.
	restart(ctx context.Context) (exited, listening time.Time, err error)
	stop()
	pid() int
	addr() string
	// devices returns n devices the relay accepts agents for (registering
	// them on Tether's relay), and session one client session watching devs.
	devices(ctx context.Context, n int) ([]device, error)
	session(ctx context.Context, devs []device) (session, error)
}

// freePort picks a loopback port nobody listens on.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// procTarget is a relay that runs as a child process.
type procTarget struct {
	label   string
	w       wire
	bin     string
	args    func(addr string) []string
	ready   string
	address string
	p       *process
}

func (t *procTarget) name() string { return t.label }
func (t *procTarget) wire() wire   { return t.w }
func (t *procTarget) addr() string { return t.address }
func (t *procTarget) pid() int     { return t.p.pid() }

func (t *procTarget) start(ctx context.Context) error {
	if t.address == "" {
		a, err := freePort()
		if err != nil {
			return err
		}
		t.address = a
	}
	p, _, err := startProcess(ctx, t.label, t.ready, nil, t.bin, t.args(t.address)...)
	if err != nil {
		return err
	}
	t.p = p
	return nil
}

func (t *procTarget) restart(ctx context.Context) (time.Time, time.Time, error) {
	if _, err := t.p.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		return time.Now(), time.Time{}, err
	}
	exited := time.Now()
	// The port may linger a moment; try for a while.
	var err error
	for i := 0; i < 50; i++ {
		if err = t.start(ctx); err == nil {
			return exited, time.Now(), nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return exited, time.Time{}, err
}

func (t *procTarget) stop() {
	if t.p != nil {
		t.p.stop(syscall.SIGTERM, 15*time.Second)
	}
}

// benchEnrollToken is the enroll token the bench starts Tether's relay with.
const benchEnrollToken = "bench-enroll-token"

// relayTarget is Tether's relay, the real tether-relay binary.
type relayTarget struct {
	procTarget
	data string
	api  *relayAPI
}

func newRelayTarget(bin, data string) *relayTarget {
	t := &relayTarget{data: data}
	t.procTarget = procTarget{
		label: "tether", w: tetherWire{}, bin: bin, ready: "relay listening",
		args: func(addr string) []string {
			// The bench registers thousands of devices: with an enroll token
			// the relay's budget of open registrations does not apply. Its
			// fan-out clients share one session, past the default caps.
			return []string{"--listen", addr, "--data", data, "--log-level", "warn",
				"--enroll-token", benchEnrollToken, "--client-sockets-per-session", "4096", "--client-sockets-per-address", "4096"}
		},
	}
	return t
}

// With --log-level warn the "relay listening" line is not printed: start
// waits for /healthz instead.
func (t *relayTarget) start(ctx context.Context) error {
	if t.address == "" {
		a, err := freePort()
		if err != nil {
			return err
		}
		t.address = a
	}
	p, _, err := startProcess(ctx, t.label, "", nil, t.bin, t.args(t.address)...)
	if err != nil {
		return err
	}
	t.p = p
	if err := waitHealthy(ctx, "http://"+t.address, p); err != nil {
		p.kill()
		return err
	}
	if t.api == nil {
		t.api = &relayAPI{base: "http://" + t.address}
	}
	return nil
}

func (t *relayTarget) restart(ctx context.Context) (time.Time, time.Time, error) {
	if _, err := t.p.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		return time.Now(), time.Time{}, err
	}
	exited := time.Now()
	err := t.start(ctx)
	return exited, time.Now(), err
}

func (t *relayTarget) devices(ctx context.Context, n int) ([]device, error) {
	return t.api.devices(ctx, n)
}

func (t *relayTarget) session(ctx context.Context, devs []device) (session, error) {
	return t.api.pairAll(ctx, devs)
}

// waitHealthy polls base/healthz until it answers 200, the process exits, or 60 s pass.
func waitHealthy(ctx context.Context, base string, p *process) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if err := p.exitErr(); err != nil {
			return fmt.Errorf("%s exited: %v\n%s", p.name, err, p.log.String())
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s: no healthy answer within 60 s", p.name)
}

// inprocTarget runs Tether's relay inside this process (relay/server over a
// real listener and a real SQLite store), so -cpuprofile sees its code. The
// load generator shares the process: its CPU figures are the sum of both.
type inprocTarget struct {
	data    string
	address string
	api     *relayAPI
	cancel  context.CancelFunc
	done    chan error
}

func (t *inprocTarget) name() string { return "tether-inproc" }
func (t *inprocTarget) wire() wire   { return tetherWire{} }
func (t *inprocTarget) pid() int     { return os.Getpid() }
func (t *inprocTarget) addr() string { return t.address }

func (t *inprocTarget) start(ctx context.Context) error {
	if t.address == "" {
		a, err := freePort()
		if err != nil {
			return err
		}
		t.address = a
	}
	st, err := store.Open(t.data)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	key, err := server.LoadOrCreateKey(filepath.Join(t.data, "code.key"))
	if err != nil {
		st.Close()
		return err
	}
	// As the binary is started (newRelayTarget): an enroll token, and room
	// for the fan-out's client sockets in one session.
	srv, err := server.New(server.Config{Store: st, PublicURL: "http://" + t.address, CodeKey: key,
		EnrollToken: benchEnrollToken, ClientSocketsPerSession: 4096, ClientSocketsPerAddress: 4096,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		st.Close()
		return err
	}
	var ln net.Listener
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", t.address); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		st.Close()
		return fmt.Errorf("listen: %w", err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	t.cancel, t.done = cancel, make(chan error, 1)
	go func() {
		err := srv.Run(rctx, ln, "", "")
		st.Close()
		t.done <- err
	}()
	if t.api == nil {
		t.api = &relayAPI{base: "http://" + t.address}
	}
	return nil
}

func (t *inprocTarget) restart(ctx context.Context) (time.Time, time.Time, error) {
	t.stop()
	exited := time.Now()
	err := t.start(ctx)
	return exited, time.Now(), err
}

func (t *inprocTarget) stop() {
	if t.cancel != nil {
		t.cancel()
		<-t.done
		t.cancel = nil
	}
}

func (t *inprocTarget) devices(ctx context.Context, n int) ([]device, error) {
	return t.api.devices(ctx, n)
}

func (t *inprocTarget) session(ctx context.Context, devs []device) (session, error) {
	return t.api.pairAll(ctx, devs)
}

// peerTarget is a peer relay: devices need no registration, a session is
// just the list of devices to watch.
type peerTarget struct{ procTarget }

func (t *peerTarget) devices(_ context.Context, n int) ([]device, error) {
	devs := make([]device, n)
	for i := range devs {
		devs[i] = device{ID: fmt.Sprintf("d_bench%07d", i)}
	}
	return devs, nil
}

func (t *peerTarget) session(_ context.Context, devs []device) (session, error) {
	s := session{}
	for _, d := range devs {
		s.Devices = append(s.Devices, d.ID)
	}
	return s, nil
}

func newSocketIOTarget(dir string) *peerTarget {
	return &peerTarget{procTarget{label: "socket.io", w: socketIOWire{}, bin: "node", ready: "listening",
		args: func(addr string) []string {
			_, port, _ := net.SplitHostPort(addr)
			return []string{filepath.Join(dir, "server.js"), port}
		}}}
}

func newPythonTarget(python, dir string) *peerTarget {
	return &peerTarget{procTarget{label: "py-websockets", w: pyWire{}, bin: python, ready: "listening",
		args: func(addr string) []string {
			_, port, _ := net.SplitHostPort(addr)
			return []string{filepath.Join(dir, "relay.py"), port}
		}}}
}

// relayAPI provisions devices and sessions on Tether's relay through its
// real HTTP API, from many loopback source addresses, because registrations
// (20 per address, then 1 a minute) and pairings (10 per address, then 1
// every 6 s) are rate limited per client address. Not safe for concurrent use.
type relayAPI struct {
	base     string
	have     []device // registered so far, reused by later scenarios
	sessions map[int]session
	nextAddr int // registration and pairing source addresses used so far
}

// client returns an HTTP client whose connections come from 127.x.y.z.
func sourceClient(i int) *http.Client {
	ip := net.IPv4(127, byte(1+i/62500), byte(i/250%250), byte(2+i%250))
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: nd.DialContext, MaxIdleConnsPerHost: 4}}
}

func (a *relayAPI) post(ctx context.Context, c *http.Client, path, bearer string, body any, want int, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", a.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, strings.TrimSpace(string(rb)))
	}
	return json.Unmarshal(rb, out)
}

// devices registers devices until n exist and returns the first n.
func (a *relayAPI) devices(ctx context.Context, n int) ([]device, error) {
	const perAddr = 20 // the registration burst per client address
	missing := n - len(a.have)
	if missing <= 0 {
		return a.have[:n], nil
	}
	blocks := (missing + perAddr - 1) / perAddr
	out := make([][]device, blocks)
	errs := make(chan error, blocks)
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Go(func() {
			for b := range work {
				c := sourceClient(a.nextAddr + b)
				k := min(perAddr, missing-b*perAddr)
				for j := 0; j < k; j++ {
					var d device
					if err := a.post(ctx, c, "/api/v1/devices", benchEnrollToken, map[string]string{"name": "bench", "os": "linux"}, 201, &d); err != nil {
						errs <- err
						break
					}
					out[b] = append(out[b], d)
				}
				c.CloseIdleConnections()
			}
		})
	}
	for b := 0; b < blocks && ctx.Err() == nil; b++ {
		work <- b
	}
	close(work)
	wg.Wait()
	a.nextAddr += blocks
	select {
	case err := <-errs:
		return nil, fmt.Errorf("register devices: %w", err)
	default:
	}
	for _, ds := range out {
		a.have = append(a.have, ds...)
	}
	if len(a.have) < n {
		return nil, errors.New("register devices: interrupted")
	}
	return a.have[:n], nil
}

// pairAll pairs every device into one new session: a pairing code from the
// device, redeemed with the session's bearer after the first.
func (a *relayAPI) pairAll(ctx context.Context, devs []device) (session, error) {
	const perAddr = 10 // the pairing burst per client address
	var s session
	var c *http.Client
	for i, d := range devs {
		if i%perAddr == 0 {
			if c != nil {
				c.CloseIdleConnections()
			}
			c = sourceClient(a.nextAddr)
			a.nextAddr++
		}
		var code struct{ Code string }
		if err := a.post(ctx, c, "/api/v1/pairing-codes", d.Token, nil, 201, &code); err != nil {
			return s, fmt.Errorf("pairing code: %w", err)
		}
		var p struct {
			SessionToken string `json:"session_token"`
		}
		if err := a.post(ctx, c, "/api/v1/pairings", s.Token, map[string]string{"code": code.Code, "label": "bench"}, 201, &p); err != nil {
			return s, fmt.Errorf("pair: %w", err)
		}
		s.Token = p.SessionToken
		s.Devices = append(s.Devices, d.ID)
	}
	if c != nil {
		c.CloseIdleConnections()
	}
	return s, nil
}
