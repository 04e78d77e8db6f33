package server

// The abuse suite: each test attacks a real relay on loopback the way the
// findings of issue 10 did, and checks that the attack is refused with a
// clear error and that nobody else is slowed down. Figures for
// docs/SECURITY.md are logged with t.Logf (go test -v -run Abuse).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/internal/logbuf"
	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/store"
)

// fromAddr returns an HTTP client whose connections come from the loopback
// address ip (any of 127.0.0.0/8 works on Linux).
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: hangGuard}
	return &http.Client{Timeout: hangGuard, Transport: &http.Transport{DialContext: d.DialContext}}
}

// post sends a JSON POST with c and returns the status, Retry-After and body.
func post(t testing.TB, c *http.Client, url, bearer string, body any) (int, string, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(raw)
}

// metricsText fetches /metrics.
func (r *relay) metricsText() string {
	r.t.Helper()
	resp, err := http.Get(r.hs.URL + "/metrics")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metric reads one series (name with labels) from /metrics; 0 when absent.
func (r *relay) metric(series string) int {
	r.t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\d+)$`).FindStringSubmatch(r.metricsText())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// wantRefusal checks a limit's answer: status, a Retry-After of at least
// one second, and the JSON error code.
func wantRefusal(t testing.TB, what string, status int, retry, body string, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || !strings.Contains(body, `"code":"`+wantCode+`"`) {
		t.Fatalf("%s: %d %s, want %d %s", what, status, body, wantStatus, wantCode)
	}
	if n, err := strconv.Atoi(retry); err != nil || n < 1 {
		t.Fatalf("%s: Retry-After %q", what, retry)
	}
}

// Finding 1: an agent answers its commands with huge, unique error codes.
// The relay forwarded them, made each a metrics label kept for ever, and a
// GET /metrics whose reader never reads then froze the hub for everyone.
func TestAbuseHugeErrorCodesAndStalledMetricsReader(t *testing.T) {
	r := newRelay(t, func(c *Config) {
		c.CommandTimeout = 2 * time.Second
		c.CommandRate, c.CommandBurst = 1000, 1000 // this test is not about the command rate
	})
	dev, tok := r.register("box")
	agent := r.agent(tok)
	sess := r.pair(r.code(tok), "")
	client := r.client(sess)
	client.next(protocol.TypePresence)
	agent.waitWatch(1)

	// answer sends one command and has the agent answer it with a code of
	// n bytes (unique per i); it returns the result the client got.
	answer := func(i, n int) *protocol.Message {
		t.Helper()
		id := fmt.Sprintf("c%d", i)
		client.send(protocol.Message{Type: protocol.TypeCommand, ID: id, Device: dev, Name: "beep"})
		cmd := agent.next(protocol.TypeCommand)
		code := fmt.Sprintf("%06d", i) + strings.Repeat("x", n)
		agent.send(protocol.Result(cmd.ID, dev, nil, &protocol.Error{Code: code, Message: strings.Repeat("m", min(n, 4096))}))
		res := client.next(protocol.TypeResult)
		if res.ID != id || res.OK == nil || *res.OK || res.Error == nil {
			t.Fatalf("result %d = %+v", i, res)
		}
		return res
	}
	const huge = 256 << 10 // 7.5 MiB in all: far past the socket buffers that a stalled reader fills
	before := len(r.metricsText())
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	heapBefore := heap()
	for i := 0; i < 30; i++ {
		res := answer(i, huge)
		if len(res.Error.Code) > maxErrorCode || len(res.Error.Message) > maxErrorMessage {
			t.Fatalf("relay forwarded a %d-byte code and a %d-byte message", len(res.Error.Code), len(res.Error.Message))
		}
	}
	after := r.metricsText()
	t.Logf("/metrics: %d bytes before, %d bytes after 30 results with %d KiB codes; heap in use %+.1f MiB (test and relay)",
		before, len(after), huge>>10, (float64(heap())-float64(heapBefore))/(1<<20))
	if len(after) > before+64 || strings.Contains(after, "xxxxxxxx") {
		t.Fatalf("/metrics grew from %d to %d bytes", before, len(after))
	}
	if got := r.metric(`tether_commands_total{code="other"}`); got != 30 {
		t.Fatalf("unknown codes counted as other: %d, want 30", got)
	}

	// A reader that asks for /metrics again and again and never reads,
	// with the smallest receive buffer the kernel gives.
	raw, err := net.Dial("tcp", r.hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.(*net.TCPConn).SetReadBuffer(1024)
	for i := 0; i < 200; i++ {
		fmt.Fprintf(raw, "GET /metrics HTTP/1.1\r\nHost: relay\r\n\r\n")
	}
	// Meanwhile another user lists devices and sends commands, each answered
	// with an unknown code (counted in the metrics under the hub's lock).
	start := time.Now()
	for i := 30; i < 60; i++ {
		answer(i, 16)
		var list []protocol.DeviceEntry
		if resp := r.do("GET", "/api/v1/devices", sess, nil, &list); resp.StatusCode != 200 || len(list) != 1 {
			t.Fatalf("devices: %d %v", resp.StatusCode, list)
		}
	}
	t.Logf("30 commands and 30 device lists beside a stalled /metrics reader: %v", time.Since(start))
}

// Finding 1 (every string the relay keeps): an agent sends big events to a
// client that never reads. The client's queue is bounded in bytes, not only
// in frames, so the relay closes it as too slow instead of keeping up to 256
// such frames (256 × 8 MiB with the largest agent frames). The test scales
// the bound down (1 MiB, events of 64 KiB) to stay light.
func TestAbuseBigEventsToAReaderThatNeverReads(t *testing.T) {
	r := newRelay(t, func(c *Config) { c.SendQueueBytes = 1 << 20 })
	_, tok := r.register("box")
	agent := r.agent(tok)
	sess := r.pair(r.code(tok), "")
	stalled, _, err := r.dialFrom("127.0.8.1", sess) // never read
	if err != nil {
		t.Fatal(err)
	}
	stalled.NetConn().(*net.TCPConn).SetReadBuffer(4096)
	agent.waitWatch(1)
	big := protocol.MustData(map[string]string{"kind": "x", "pad": strings.Repeat("p", 64<<10)})
	// 128 events, 8 MiB: half the queue's frame count, far past its bytes
	// and what the kernel buffers of a loopback connection take.
	for i := 0; i < 128; i++ {
		agent.send(protocol.Message{Type: protocol.TypeEvent, Data: big})
	}
	sent := time.Now()
	for r.srv.m.closed.get("too_slow") == 0 {
		if time.Since(sent) > hangGuard {
			t.Fatalf("128 events of 64 KiB queued for a client that never reads, and it was not closed as too slow")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("a client that never reads was closed as too slow %v after 8 MiB of events were sent (queue bound 1 MiB)",
		time.Since(sent).Round(time.Millisecond))
}

// Finding 6: a request that announces a body and never sends it is ended
// after RequestTimeout with a clear error, on every handler.
func TestAbuseBodyThatNeverComes(t *testing.T) {
	r := newRelay(t, func(c *Config) { c.RequestTimeout = 300 * time.Millisecond })
	for _, path := range []string{"/api/v1/devices", "/api/v1/pairings", "/healthz"} {
		t.Run(path, func(t *testing.T) {
			conn, err := net.Dial("tcp", r.hs.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			method := "POST"
			if path == "/healthz" {
				method = "GET"
			}
			start := time.Now()
			fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", method, path)
			conn.SetReadDeadline(time.Now().Add(hangGuard))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if method == "POST" && (resp.StatusCode != 400 || !strings.Contains(string(body), `"code":"bad_request"`)) {
				t.Fatalf("answer %d %s", resp.StatusCode, body)
			}
			// Then the connection is closed, not kept waiting for the body.
			if _, err := io.Copy(io.Discard, conn); err != nil {
				t.Fatalf("connection not closed: %v", err)
			}
			t.Logf("%s %s with a body that never comes: %d, closed after %v", method, path, resp.StatusCode, time.Since(start).Round(time.Millisecond))
		})
	}
}

// Finding 6, through Run: headers that never end are cut at RequestTimeout.
func TestAbuseHeadersThatNeverEnd(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Store: st, PublicURL: "http://" + ln.Addr().String(), CodeKey: bytes.Repeat([]byte{7}, 32),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RequestTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln, "", "") }()
	defer func() { cancel(); <-done }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Slow: ")
	conn.SetReadDeadline(time.Now().Add(hangGuard))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Fatalf("connection with unfinished headers not closed: %v", err)
	}
	t.Logf("unfinished headers closed after %v", time.Since(start).Round(time.Millisecond))
}

// Finding 2: pairing guesses from many addresses. Each address (an IPv6
// /64 counting as one) has its budget, and the relay as a whole has a
// budget of failed attempts; past it every attempt gets 429.
func TestAbusePairingGuessesRelayWide(t *testing.T) {
	var logs logbuf.Buffer
	r := newRelay(t, func(c *Config) {
		c.PairFailRate, c.PairFailBurst = 1.0/3600, 20
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	_, tok := r.register("box")
	// A right code does not spend the budget.
	r.pair(r.code(tok), "")
	refused, failed := 0, 0
	var retry, body string
	for i := 0; i < 200; i++ {
		c := fromAddr(fmt.Sprintf("127.0.1.%d", i+1))
		status, ra, b := post(t, c, r.hs.URL+"/api/v1/pairings", "", map[string]string{"code": NewPairingCode()})
		c.CloseIdleConnections()
		switch status {
		case 404:
			failed++
		case 429:
			refused++
			retry, body = ra, b
		default:
			t.Fatalf("guess %d: %d %s", i, status, b)
		}
	}
	t.Logf("200 guesses from 200 addresses with a relay-wide budget of 20: %d tried, %d refused", failed, refused)
	if failed != 20 || refused != 180 {
		t.Fatalf("tried %d, refused %d; want 20 and 180", failed, refused)
	}
	wantRefusal(t, "relay-wide budget", 429, retry, body, 429, protocol.CodeRateLimited)
	// While the budget is spent, a right code waits too (the cost of the bound).
	code := r.code(tok)
	status, ra, b := post(t, fromAddr("127.0.2.1"), r.hs.URL+"/api/v1/pairings", "", map[string]string{"code": code})
	wantRefusal(t, "a right code during the attack", status, ra, b, 429, protocol.CodeRateLimited)
	if got := r.metric(`tether_pairing_failures_total`); got != 20 {
		t.Errorf("tether_pairing_failures_total = %d, want 20", got)
	}
	if got := r.metric(`tether_refused_total{limit="pair_relay"}`); got != 181 {
		t.Errorf(`tether_refused_total{limit="pair_relay"} = %d, want 181`, got)
	}
	// Failed guesses are logged, but not one line each.
	if n := strings.Count(logs.String(), "failed pairing attempts"); n < 1 || n > 3 {
		t.Errorf("%d log lines about failed pairings for 20 failures:\n%s", n, logs.String())
	}
}

// Finding 2, with the default limits: the attack of the issue (200
// addresses, 10 guesses each) gets the relay-wide burst and no more.
func TestAbusePairingGuessesDefaults(t *testing.T) {
	r := newRelay(t, nil)
	tried, refused := 0, 0
	start := time.Now()
	for a := 0; a < 200; a++ {
		c := fromAddr(fmt.Sprintf("127.0.7.%d", a+1))
		for i := 0; i < 10; i++ {
			switch status, _, b := post(t, c, r.hs.URL+"/api/v1/pairings", "", map[string]string{"code": NewPairingCode()}); status {
			case 404:
				tried++
			case 429:
				refused++
			default:
				t.Fatalf("%d %s", status, b)
			}
		}
		c.CloseIdleConnections()
	}
	elapsed := time.Since(start)
	rate, burst := pairFailBucket(100)
	t.Logf("2,000 guesses from 200 addresses in %v: %d tried, %d refused (relay-wide budget: burst %d, then %.0f an hour; %.0f a day)",
		elapsed.Round(time.Millisecond), tried, refused, burst, rate*3600, PairFailBudgetPerDay(100))
	if limit := burst + int(elapsed.Seconds()*rate) + 1; tried > limit {
		t.Fatalf("%d guesses tried, more than the budget's %d", tried, limit)
	}
}

// Finding 2, over an hour of a settable clock: what one address, one IPv6
// /64 and the relay as a whole get, when the attacker tries as fast as the
// limits allow.
func TestAbusePairingGuessesPerHour(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	r := newRelay(t, func(c *Config) { c.Now = clk.Now })
	try := func(addr string) int {
		req := httptest.NewRequest("POST", "/api/v1/pairings", strings.NewReader(`{"code":"`+NewPairingCode()+`"}`))
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		r.srv.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	// One guess every 6 s (the rate of the per-address limit) for an hour,
	// from one address, then from ever new addresses of one /64.
	for _, tc := range []struct {
		name string
		addr func(i int) string
	}{
		{"one address", func(int) string { return "192.0.2.1:4000" }},
		{"one /64", func(i int) string { return fmt.Sprintf("[2001:db8:5:6::%x]:4000", i+1) }},
	} {
		tried := 0
		for i := 0; i < 600; i++ {
			if try(tc.addr(i)) == 404 {
				tried++
			}
			clk.Add(6 * time.Second)
		}
		t.Logf("pairing guesses in an hour from %s: %d", tc.name, tried)
		if tried < 38 || tried > 41 { // 10 at once, then one per 2 minutes
			t.Fatalf("%s: %d guesses in an hour, want 40", tc.name, tried)
		}
	}
	// Relay-wide: every minute, guesses from new addresses until the
	// relay-wide budget refuses one.
	clk.Add(24 * time.Hour) // the budget is full again
	tried, addr := 0, 0
	for minute := 0; minute <= 60; minute++ { // 0 to 60 inclusive: a full hour of refill
		for {
			addr++
			status := try(fmt.Sprintf("198.51.%d.%d:4000", addr/250, addr%250+1))
			if status == 429 {
				break
			}
			tried++
		}
		clk.Add(time.Minute)
	}
	rate, burst := pairFailBucket(100)
	t.Logf("pairing guesses in an hour relay-wide, from %d addresses: %d (burst %d + %.0f an hour)", addr, tried, burst, rate*3600)
	if want := burst + int(rate*3600); tried < want-2 || tried > want+2 {
		t.Fatalf("relay-wide: %d guesses in an hour, want %d", tried, want)
	}
}

// Finding 2: every address of one IPv6 /64 shares one budget.
func TestAbusePairingFromOneIPv6Prefix(t *testing.T) {
	r := newRelay(t, nil)
	try := func(addr string) int {
		req := httptest.NewRequest("POST", "/api/v1/pairings", strings.NewReader(`{"code":"`+NewPairingCode()+`"}`))
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		r.srv.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	codes := map[int]int{}
	for i := 1; i <= 11; i++ {
		codes[try(fmt.Sprintf("[2001:db8:1:2::%x]:4000", i))]++
	}
	if codes[404] != 10 || codes[429] != 1 {
		t.Fatalf("11 guesses from one /64: %v, want 10 tried and 1 refused", codes)
	}
	if c := try("[2001:db8:1:3::1]:4000"); c != 404 {
		t.Fatalf("the next /64 was refused too: %d", c)
	}
}

// dialFrom opens a client socket with session from the loopback address ip.
func (r *relay) dialFrom(ip, session string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{NetDial: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).Dial, HandshakeTimeout: hangGuard}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(r.hs.URL, "http")+"/ws/client", http.Header{"Authorization": {"Bearer " + session}})
	if err == nil {
		r.t.Cleanup(func() { conn.Close() })
	}
	return conn, resp, err
}

// refusedSocket checks that a socket dial was refused with status and code.
func refusedSocket(t testing.TB, what string, resp *http.Response, err error, status int, code string) {
	t.Helper()
	if err == nil || resp == nil {
		t.Fatalf("%s: socket opened (err %v)", what, err)
	}
	b, _ := io.ReadAll(resp.Body)
	wantRefusal(t, what, resp.StatusCode, resp.Header.Get("Retry-After"), string(b), status, code)
}

// Finding 3: client sockets per session and per address are capped.
func TestAbuseSocketsPerSessionAndAddress(t *testing.T) {
	r := newRelay(t, nil)
	_, tok := r.register("box")
	sessions := make([]string, 5)
	for i := range sessions {
		sessions[i] = r.pair(r.code(tok), "")
	}
	for i := 0; i < 16; i++ {
		if _, _, err := r.dialFrom("127.0.3.1", sessions[0]); err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
	}
	_, resp, err := r.dialFrom("127.0.3.1", sessions[0])
	refusedSocket(t, "17th socket of a session", resp, err, 429, protocol.CodeRateLimited)
	// The same session from elsewhere is refused too: the cap is the session's.
	_, resp, err = r.dialFrom("127.0.3.2", sessions[0])
	refusedSocket(t, "17th socket of a session from another address", resp, err, 429, protocol.CodeRateLimited)
	for s := 1; s < 4; s++ {
		for i := 0; i < 16; i++ {
			if _, _, err := r.dialFrom("127.0.3.1", sessions[s]); err != nil {
				t.Fatalf("session %d socket %d: %v", s, i, err)
			}
		}
	}
	_, resp, err = r.dialFrom("127.0.3.1", sessions[4])
	refusedSocket(t, "65th socket of an address", resp, err, 429, protocol.CodeRateLimited)
	if _, _, err := r.dialFrom("127.0.3.2", sessions[4]); err != nil {
		t.Fatalf("another address was refused: %v", err)
	}
	if got := r.metric(`tether_refused_total{limit="socket_session"}`); got != 2 {
		t.Errorf("socket_session refusals = %d, want 2", got)
	}
	if got := r.metric(`tether_refused_total{limit="socket_address"}`); got != 1 {
		t.Errorf("socket_address refusals = %d, want 1", got)
	}
}

// Finding 3: the relay-wide ceiling keeps room for agents: clients are
// refused with 503 before agents are.
func TestAbuseSocketCeilingKeepsRoomForAgents(t *testing.T) {
	r := newRelay(t, func(c *Config) { c.MaxSockets, c.MaxClientSockets = 6, 3 })
	tokens := make([]string, 4)
	for i := range tokens {
		_, tokens[i] = r.register(fmt.Sprintf("box%d", i))
	}
	sess := r.pair(r.code(tokens[0]), "")
	for i := 0; i < 3; i++ {
		r.client(sess)
	}
	_, resp, err := r.dialFrom("127.0.4.1", sess)
	refusedSocket(t, "client past the client ceiling", resp, err, 503, protocol.CodeUnavailable)
	for i := 0; i < 3; i++ {
		r.agent(tokens[i]) // agents still connect
	}
	_, resp, err = r.dial("/ws/agent", tokens[3], nil)
	refusedSocket(t, "agent past the relay's ceiling", resp, err, 503, protocol.CodeUnavailable)
	if got := r.metric(`tether_refused_total{limit="socket_relay_client"}`) + r.metric(`tether_refused_total{limit="socket_relay_all"}`); got != 2 {
		t.Errorf("ceiling refusals = %d, want 2", got)
	}
	// /healthz still answers.
	if resp := r.do("GET", "/healthz", "", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

// Finding 5: open registration has a relay-wide budget; an enroll token
// lifts it (its holders are trusted).
func TestAbuseOpenRegistration(t *testing.T) {
	for _, tc := range []struct {
		name, token string
		wantOK      int
	}{{"open", "", 100}, {"with enroll token", "s3cret", 150}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRelay(t, func(c *Config) { c.EnrollToken = tc.token })
			ok := 0
			var status int
			var retry, body string
			for a := 0; a < 15; a++ {
				c := fromAddr(fmt.Sprintf("127.0.5.%d", a+1))
				for i := 0; i < 10; i++ {
					s, ra, b := post(t, c, r.hs.URL+"/api/v1/devices", tc.token, map[string]string{"name": "x"})
					if s == 201 {
						ok++
					} else {
						status, retry, body = s, ra, b
					}
				}
				c.CloseIdleConnections()
			}
			t.Logf("150 registrations from 15 addresses, %s: %d accepted", tc.name, ok)
			if ok != tc.wantOK {
				t.Fatalf("%d registered, want %d (last refusal %d %s)", ok, tc.wantOK, status, body)
			}
			if tc.token == "" {
				wantRefusal(t, "registration past the relay's budget", status, retry, body, 429, protocol.CodeRateLimited)
				if got := r.metric(`tether_refused_total{limit="register_relay"}`); got != 50 {
					t.Errorf("register_relay refusals = %d, want 50", got)
				}
			}
		})
	}
}

// sweepingStore is the real store with the deletion of never-connected
// devices the relay looks for; it records the cutoff it was asked for.
type sweepingStore struct {
	store.Store
	mu     sync.Mutex
	cutoff time.Time
}

func (s *sweepingStore) DeleteNeverConnectedDevices(_ context.Context, olderThan time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cutoff = olderThan
	return 3, nil
}

// Finding 5: devices that never connected are deleted after 24 h, when
// the store can.
func TestAbuseNeverConnectedDevicesSwept(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	ss := &sweepingStore{Store: st}
	srv, err := New(Config{Store: ss, PublicURL: "http://relay.example", CodeKey: bytes.Repeat([]byte{7}, 32),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	n, err := srv.sweepNeverConnected(context.Background())
	if err != nil || n != 3 || !ss.cutoff.Equal(now.Add(-24*time.Hour)) {
		t.Fatalf("swept %d, %v, cutoff %v", n, err, ss.cutoff)
	}
	// A store without the method is left alone.
	plain, err := New(Config{Store: st, PublicURL: "http://relay.example", CodeKey: bytes.Repeat([]byte{7}, 32),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := plain.sweepNeverConnected(context.Background()); n != 0 || err != nil {
		t.Fatalf("plain store: %d %v", n, err)
	}
}

// Finding 4: behind a real reverse proxy (HAProxy), two clients each get
// their own pairing budget when the proxy is trusted; a client that talks
// to the relay directly cannot pick its address with X-Forwarded-For.
func TestAbuseBehindTrustedProxy(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("haproxy is missing: scripts/setup --test installs it")
		}
		t.Skip("haproxy is missing (scripts/setup --test)")
	}
	r := newRelay(t, func(c *Config) {
		c.TrustedProxies, _ = ParseTrustedProxies([]string{"127.0.0.1/32"})
		c.PairFailRate, c.PairFailBurst = 1, 1000 // only the per-address limits matter here
	})
	proxy := startHAProxy(t, haproxy, r.hs.Listener.Addr().String())

	guess := func(c *http.Client, base string, xff string) int {
		req, _ := http.NewRequest("POST", base+"/api/v1/pairings", strings.NewReader(`{"code":"`+NewPairingCode()+`"}`))
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	a, b := fromAddr("127.0.6.1"), fromAddr("127.0.6.2")
	// Client A spends its budget through the proxy, forging XFF each time:
	// the proxy appends A's real address, and that is the one counted.
	for i := 0; i < 10; i++ {
		if s := guess(a, proxy, fmt.Sprintf("203.0.113.%d", i)); s != 404 {
			t.Fatalf("A's guess %d: %d", i, s)
		}
	}
	if s := guess(a, proxy, "203.0.113.99"); s != 429 {
		t.Fatalf("A's 11th guess: %d, want 429", s)
	}
	// Client B behind the same proxy is not locked out.
	if s := guess(b, proxy, ""); s != 404 {
		t.Fatalf("B behind the same proxy: %d, want 404", s)
	}
	// A client that reaches the relay directly cannot escape its budget by
	// sending X-Forwarded-For: it is not a trusted proxy.
	d := fromAddr("127.0.6.3")
	for i := 0; i < 10; i++ {
		guess(d, r.hs.URL, fmt.Sprintf("198.51.100.%d", i))
	}
	if s := guess(d, r.hs.URL, "198.51.100.200"); s != 429 {
		t.Fatalf("direct client with forged X-Forwarded-For: %d, want 429", s)
	}
}

// startHAProxy runs HAProxy in front of backend (host:port) until the test
// ends and returns its base URL. It adds X-Forwarded-For like a usual setup.
func startHAProxy(t *testing.T, bin, backend string) string {
	t.Helper()
	dir := t.TempDir()
attempts:
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		conf := filepath.Join(dir, "haproxy.cfg")
		os.WriteFile(conf, []byte(fmt.Sprintf(`global
  maxconn 256
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option forwardfor
frontend relay
  bind %s
  default_backend relay
backend relay
  server relay %s
`, addr, backend)), 0o600)
		var out logbuf.Buffer
		cmd := exec.Command(bin, "-db", "-f", conf)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() { cmd.Process.Kill(); <-exited })
		for deadline := time.Now().Add(hangGuard); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			select {
			case <-exited:
				if attempt < 3 {
					continue attempts // the port was taken in between: pick another
				}
				t.Fatalf("haproxy exited:\n%s", out.String())
			default:
			}
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return "http://" + addr
			}
		}
		t.Fatalf("haproxy did not listen on %s:\n%s", addr, out.String())
	}
}
